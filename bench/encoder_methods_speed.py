"""Speed of LLMLingua-2 and Selective Context, in seconds per 1,000 prompt tokens (target-LLM tokens).

The prompt is NaturalQuestions passages (assets/data/nq) of about ``--tokens`` cl100k tokens, compressed
to rate 0.33. Each method runs ``--repeat`` times with the reuse caches cleared; the median is printed, with
one plain forward pass of the bundled scorer over the same prompt as a yardstick (the ratio is steadier
than seconds on a shared machine). LLMLingua is timed too, for comparison.

LLMLingua-2 runs on the offline test encoder (MiniLM-L6, random head). The real models cannot be downloaded
here, so ``--sized`` also times the encoder pass alone on randomly initialised encoders of the real models'
sizes (BERT-base multilingual: 12 x 768, XLM-R large: 24 x 1024), fed the same token ids.

    python bench/encoder_methods_speed.py             # about a minute on 2 idle cores
    python bench/encoder_methods_speed.py --sized     # plus the real-size encoders (a few minutes)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METHODS = [
    ("llmlingua2", {"model": "test:minilm-random-head"}),
    ("selective_context", {"reduce_level": "token"}),
    ("selective_context", {"reduce_level": "phrase"}),
    ("selective_context", {"reduce_level": "sent"}),
    ("llmlingua", {}),
]


def passages(tokens: int) -> list[str]:
    from assets import data
    from lingua_core.tokens import count_tokens

    out = []
    for row in data.read_jsonl(data.NQ):
        out.append(data.nq_passage(row))
        if count_tokens("\n\n".join(out), "gpt-4") >= tokens:
            return out
    return out


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def forward_seconds(lm, text: str, repeat: int) -> float:
    import torch

    ids = torch.tensor([lm.tokenizer(text, add_special_tokens=False)["input_ids"]], device=lm.device)
    with torch.inference_mode():
        lm.model(ids)
        return median_seconds(lambda: lm.model(ids), repeat)


def method_rows(lm, context: list[str], repeat: int) -> list[dict]:
    from lingua_core import Request, compress
    from lingua_core.methods import clear_caches

    rows = []
    for name, options in METHODS:
        request = lambda: Request(context=context, rate=0.33, method=name, options=dict(options))  # noqa: E731
        first = compress(request(), lm)                       # loads the encoder once, warms up

        def once():
            clear_caches()
            return compress(request(), lm)

        seconds = median_seconds(once, repeat)
        rows.append({"method": name, "options": options, "seconds": seconds, "origin": first.origin_tokens,
                     "got": first.compressed_tokens, "asked": first.requested_tokens})
    return rows


def sized_encoders(text: str, repeat: int) -> list[dict]:
    """Encoder pass alone (chunking, batches, word aggregation) on random encoders of the real sizes."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from lingua_core import encoder
    from lingua_core.loading import LoadedModel, load_model

    tok = load_model("test:minilm-random-head", kind="token-classification").tokenizer
    sizes = {"bert-base-multilingual size (12 x 768)": dict(hidden_size=768, num_hidden_layers=12,
                                                            num_attention_heads=12, intermediate_size=3072),
             "xlm-roberta-large size (24 x 1024)": dict(hidden_size=1024, num_hidden_layers=24,
                                                        num_attention_heads=16, intermediate_size=4096)}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for label, dims in sizes.items():
        model = BertForTokenClassification(BertConfig(vocab_size=tok.vocab_size, num_labels=2, **dims)).eval()
        enc = LoadedModel(label, model.to(device), tok, "random (benchmark only)", device, 512)
        encoder.text_word_probs(enc, [text], 512, (".", "\n"))
        seconds = median_seconds(lambda: encoder.text_word_probs(enc, [text], 512, (".", "\n")), repeat)
        rows.append({"encoder": label, "seconds": seconds, "device": device})
        del model, enc
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1000, help="prompt size in cl100k tokens (default 1000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sized", action="store_true", help="also time real-size random encoders")
    args = parser.parse_args()

    from lingua_core.loading import load_model
    from lingua_core.tokens import count_tokens

    lm = load_model("bundled")
    context = passages(args.tokens)
    text = "\n\n".join(context)
    origin = count_tokens(text, "gpt-4")
    fwd = forward_seconds(lm, text, args.repeat)
    print(f"prompt: {len(context)} NQ passages, {origin} cl100k tokens; device {lm.device}")
    print(f"one forward pass of the bundled scorer: {fwd:.3f} s ({fwd * 1000 / origin:.3f} s per 1,000 tokens)")
    print(f"{'method':40} {'s/1k tokens':>11} {'x forward':>9} {'got/asked':>10}")
    for r in method_rows(lm, context, args.repeat):
        label = r["method"] + ("" if not r["options"] else " " + ",".join(f"{k}={v}" for k, v in r["options"].items()))
        per_k = r["seconds"] * 1000 / r["origin"]
        print(f"{label[:40]:40} {per_k:11.3f} {r['seconds'] / fwd:9.1f} {r['got']:>5}/{r['asked']:<4}")
    if args.sized:
        for r in sized_encoders(text, args.repeat):
            per_k = r["seconds"] * 1000 / origin
            print(f"encoder pass, {r['encoder']:38} {per_k:8.3f} s per 1,000 tokens on {r['device']}")


if __name__ == "__main__":
    main()
