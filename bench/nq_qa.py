"""Multi-document QA benchmark (issue 3): does the answer survive compression, and can a small LLM still find it?

Each case (``nq_cases.py``) is a NaturalQuestions question's gold passage among 9 other questions' passages
in the lost-in-the-middle QA prompt. Every registered method (except those in ``EXCLUDED``) compresses the
whole prompt to 2x, 4x, 8x and 16x; for each we record whether a gold answer still appears in the compressed
prompt (SQuAD-normalised, whole words), the achieved ratio, the compression's seconds, where the gold
document was ranked, and whether the bundled SmolLM2-135M-Instruct, reading the compressed prompt through
its chat template (greedy, at most 24 new tokens), answers correctly. The same reader on the full prompt, on
the gold passage alone, and on an oracle at 4x (the gold passage whole and first, other passages filling the
rest of the budget: what perfect document selection leaves a compressor that meets its budget) gives the
references; those answers are computed once per case. Each method compresses one prompt untimed before the
first case (``warm_up``), so the seconds never include loading its models.

Rows go to a JSONL file as they are made, one per (case, method, ratio), so a run can be stopped and rerun:
rows already there (same case, method, ratio and settings) are skipped. ``nq_report.py`` turns the rows into the
table and plot in docs/benchmarks.md (``--report`` here calls it).

    python bench/nq_qa.py --quick                 # 10 cases: a sanity run
    python bench/nq_qa.py --cases 200             # the docs/benchmarks.md figures (resumable; see --shard, --deadline)
    python bench/nq_qa.py --accuracy-ratios 4     # downstream answers at 4x only (saves reader time)
    python bench/nq_qa.py --report                # table from bench/out/nq_qa*.jsonl (no plot)
    python bench/nq_qa.py --report --plot assets/bench_nq_qa.png   # ... and redraw the docs' plot
    python bench/nq_qa.py --methods longllmlingua_docs --ratios 4 --out bench/out/nq_qa_docs.jsonl \
        --resume-from bench/out/nq_qa.jsonl          # a variant in its own file, references reused
    python bench/nq_qa.py --ratios 16 --accuracy-ratios --no-references --threads 1 --shard 0/2 \
        --out bench/out/nq_qa_16x_s0.jsonl           # answer kept at 16x only: no reader, no reference rows
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import inspect
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import nq_cases  # noqa: E402  (bench/ is not a package)
from lingua_core.answers import contains_gold  # noqa: E402

OUT = ROOT / "bench" / "out"
RATIOS = (2, 4, 8, 16)
EXCLUDED = {   # registered methods left out of the figures, and why
    "llmlingua2": "question-blind; the trained MeetingBank encoders are hub downloads (offline: the "
                  "llmlingua2_bundled variant, MiniLM with the repo's trained head)",
    "structured": "without markup tags it compresses exactly as llmlingua does",
}
ORACLE_RATIO = 4
REFERENCES = {   # name -> (the prompt the reader answers, the ratio it stands at)
    "full": (nq_cases.request, 1),
    "gold_only": (nq_cases.gold_only, 1),
    # the gold passage whole and first, other passages filling the 4x budget: perfect document selection
    "gold_filled": (lambda case: nq_cases.gold_filled(case, 1 / ORACLE_RATIO), ORACLE_RATIO),
}
VARIANTS = {   # opt-in rows (--methods NAME): a registered method with other options, for diagnosis
    "longllmlingua_docs": ("longllmlingua", {"use_token_level": False}),   # whole best-ranked documents only
    "minilingua_auto": ("minilingua", {"auto": True}),        # Auto budget, the asked ratio as its ceiling
    "llmlingua2_bundled": ("llmlingua2", {"model": "bundled"}),  # MiniLM + the trained head, offline
    # the two knobs that decide how many documents survive and how whole the best one stays, spelled out
    # so a row means the same whatever the method's defaults are
    "longllmlingua_cb100_d3": ("longllmlingua", {"context_budget": 100, "dynamic_context_compression_ratio": 0.3}),
    "longllmlingua_cb0_d3": ("longllmlingua", {"context_budget": 0, "dynamic_context_compression_ratio": 0.3}),
    "longllmlingua_cb0_d5": ("longllmlingua", {"context_budget": 0, "dynamic_context_compression_ratio": 0.5}),
    "longllmlingua_cb100_d6": ("longllmlingua", {"context_budget": 100, "dynamic_context_compression_ratio": 0.6}),
}


@dataclass
class Config:
    cases: int = 200                         # how many cases (a prefix of the seeded order)
    seed: int = 0                            # case order, distractors and gold positions
    methods: tuple[str, ...] = ()            # () = every registered method not in EXCLUDED
    ratios: tuple[int, ...] = RATIOS         # compression asked for (rate = 1 / ratio)
    accuracy_ratios: tuple[int, ...] = RATIOS  # ratios at which the reader answers the compressed prompt
    max_new_tokens: int = 24                 # reader's answer length limit (greedy)
    out: Path = OUT / "nq_qa.jsonl"          # rows are appended here
    shard: tuple[int, int] = (0, 1)          # (i, n): this process takes cases with case_id % n == i
    deadline_s: float = 0.0                  # start no case that may end after this many seconds (0: no limit)
    device: str | None = None                # "cpu", "cuda" or None (LINGUA_DEVICE, else auto)
    float32: bool = True                     # float32 on every device (loading.py gives a GPU bfloat16)
    data: Path = nq_cases.DATA               # the NQ oracle file
    resume_from: str = ""                    # also skip rows found in these JSONL files (a glob), e.g. to add
    #                                          a method in its own file without redoing the references
    references: bool = True                  # also make the reference rows (full prompt, gold passage, oracle)


# -- rows and resuming ----------------------------------------------------------------------------------------
def source_version(method: str) -> str:
    """A short hash of the file that implements ``method`` (references: of this benchmark's prompt layout),
    recorded in each row so the report can tell rows of different versions of a method apart."""
    if method in REFERENCES:
        text = inspect.getsource(nq_cases)
    else:
        from lingua_core.methods import REGISTRY

        base = VARIANTS.get(method, (method,))[0]
        text = inspect.getsource(sys.modules[REGISTRY[base].__module__]) + repr(VARIANTS.get(method))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def row_key(case_id: int, method: str, ratio: int, cfg: Config) -> str:
    """Identity of a row: a rerun skips keys already written (delete the file, or its rows of a method, to
    recompute after changing that method; the report warns when a method's rows come from several versions)."""
    return f"{cfg.seed}|{case_id}|{method}|{ratio}|{cfg.max_new_tokens}"


def load_rows(pattern: str) -> list[dict]:
    """Every row of every JSONL file matching ``pattern`` (a torn last line is skipped)."""
    rows = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return rows


def finished(rows: list[dict]) -> dict[str, dict]:
    """Latest row per key."""
    return {r["key"]: r for r in rows}


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


# -- one case -------------------------------------------------------------------------------------------------
class Reader:
    """The downstream LLM: the local backend on the scorer's own (cached) model, greedy."""

    def __init__(self, cfg: Config, device: str | None):
        from lingua_core.backends import get_backend

        self.backend = get_backend("local", model="bundled", device=device)  # the scorer's cached model
        self.max_new_tokens = cfg.max_new_tokens

    def __call__(self, prompt: str, answers) -> dict:
        answer = self.backend.answer(prompt, max_new_tokens=self.max_new_tokens)
        if answer.error:
            raise RuntimeError(f"reader failed: {answer.error}")
        return {"answer": answer.text, "correct": contains_gold(answer.text, answers),
                "reader_s": round(answer.latency_s, 4)}


def gold_piece(result, case: nq_cases.Case) -> int:
    """Index in ``result.pieces`` of the case's gold document."""
    return next(k for k, p in enumerate(result.pieces) if p.role == "context" and p.index == case.gold_pos)


def compress_row(case: nq_cases.Case, method: str, ratio: int, lm) -> dict:
    """Compress one case with one method at one ratio; the numbers of one row, without the reader's."""
    from lingua_core.compress import compress
    from lingua_core.methods import clear_caches

    clear_caches()                                  # time real work, not a pass cached from another ratio
    name, options = VARIANTS.get(method, (method, None))
    started = time.perf_counter()
    result = compress(nq_cases.request(case, 1.0 / ratio, name, options), lm)
    seconds = time.perf_counter() - started
    k = gold_piece(result, case)
    gold = result.pieces[k]
    gold_kept = gold.kept and any(t.kept for t in result.tokens if t.piece == k)
    return {"answer_kept": contains_gold(result.compressed, case.answers), "ratio_achieved": result.ratio,
            "origin_tokens": result.origin_tokens, "compressed_tokens": result.compressed_tokens,
            "target_met": result.target_met, "seconds": round(seconds, 4), "gold_doc_kept": bool(gold_kept),
            "gold_rank": gold.rank, "first_doc": result.context_order[0] if result.context_order else -1,
            "compressed": result.compressed}


def warm_up(methods, lm) -> None:
    """Compress one small prompt with every method, untimed, so the models a method loads on first use (the
    encoders and heads) are loaded before any row's seconds are counted."""
    from lingua_core.compress import compress
    from lingua_core.methods import clear_caches

    case = nq_cases.build_cases(1)[0]
    for method in dict.fromkeys(methods):
        name, options = VARIANTS.get(method, (method, None))
        if name in REFERENCES:
            continue
        compress(nq_cases.request(case, 0.25, name, options), lm)
    clear_caches()


def reference_row(case: nq_cases.Case, method: str) -> dict:
    """The numbers of a reference prompt's row (its ratio measured against the full prompt)."""
    from lingua_core.tokens import count_tokens

    req = REFERENCES[method][0](case)
    text = nq_cases.prompt_text(req)
    full = count_tokens(nq_cases.prompt_text(nq_cases.request(case)), req.target_model)
    n = count_tokens(text, req.target_model)
    return {"answer_kept": contains_gold(text, case.answers), "ratio_achieved": round(full / n, 4),
            "origin_tokens": full, "compressed_tokens": n, "target_met": True, "seconds": 0.0,
            "gold_doc_kept": True, "gold_rank": -1, "first_doc": -1, "compressed": text}


def jobs(cfg: Config) -> list[tuple[str, int]]:
    """(method, ratio) pairs of one case, references first (ratio 1)."""
    refs = [(m, ratio) for m, (_, ratio) in REFERENCES.items()] if cfg.references else []
    return refs + [(m, r) for m in cfg.methods for r in cfg.ratios]


def run_case(case: nq_cases.Case, cfg: Config, lm, reader: Reader, done: dict[str, dict], env: dict) -> int:
    """Every missing row of one case, appended to ``cfg.out`` as made; returns how many were made."""
    made = 0
    for method, ratio in jobs(cfg):
        key = row_key(case.case_id, method, ratio, cfg)
        wants_answer = method in REFERENCES or ratio in cfg.accuracy_ratios
        old = done.get(key)
        if old is not None and (old.get("correct") is not None or not wants_answer):
            continue
        numbers = reference_row(case, method) if method in REFERENCES else compress_row(case, method, ratio, lm)
        answer = reader(numbers["compressed"], case.answers) if wants_answer else \
            {"answer": None, "correct": None, "reader_s": None}
        row = {"key": key, "case": case.case_id, "row": case.row, "method": method, "ratio": ratio,
               "version": source_version(method), "gold_pos": case.gold_pos, **numbers, **answer, **env,
               "ts": time.time()}
        append(cfg.out, row)
        done[key] = row
        made += 1
    return made


# -- the run --------------------------------------------------------------------------------------------------
def environment(lm, cfg: Config) -> dict:
    import torch

    name = torch.cuda.get_device_name(0) if lm.device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    return {"device": name, "dtype": str(lm.model.dtype).replace("torch.", ""), "host": socket.gethostname(),
}


def default_methods() -> tuple[str, ...]:
    from lingua_core.methods import REGISTRY

    return tuple(m for m in REGISTRY if m not in EXCLUDED)


def load_float32(device: str | None):
    """The bundled model in float32 on ``device``, cached as the CPU model so the reader gets the same one.

    ``loading.py`` loads bfloat16 on a GPU; de-quantized weights do not survive that round trip, so for
    figures that match CPU runs the model is loaded on the CPU (float32) and moved.
    """
    from lingua_core.loading import load_model, pick_device

    lm = load_model("bundled", device="cpu")
    target = pick_device(device)
    if target != "cpu":
        lm.model.to(target)
        lm.device = target
    return lm


def run(cfg: Config) -> None:
    from lingua_core.loading import load_model

    cfg.methods = cfg.methods or default_methods()
    lm = load_float32(cfg.device) if cfg.float32 else load_model("bundled", device=cfg.device)
    reader = Reader(cfg, "cpu" if cfg.float32 else cfg.device)
    env = environment(lm, cfg)
    cases = [c for c in nq_cases.build_cases(cfg.cases, cfg.seed, nq_cases.load_rows(cfg.data))
             if c.case_id % cfg.shard[1] == cfg.shard[0]]
    done = finished((load_rows(cfg.resume_from) if cfg.resume_from else []) + load_rows(str(cfg.out)))
    warm_up(cfg.methods, lm)
    print(f"{len(cases)} cases, methods {', '.join(cfg.methods)}, ratios {cfg.ratios}, on {env['device']} "
          f"({env['dtype']}); {len(done)} rows already in {cfg.out}", flush=True)
    started, slowest = time.perf_counter(), 0.0
    for i, case in enumerate(cases):
        if cfg.deadline_s and time.perf_counter() - started + 1.2 * slowest > cfg.deadline_s:
            print(f"deadline: stopped after {i} cases", flush=True)
            break
        t = time.perf_counter()
        made = run_case(case, cfg, lm, reader, done, env)
        if made:
            slowest = max(slowest, time.perf_counter() - t)
            print(f"case {case.case_id}: {made} rows in {time.perf_counter() - t:.1f} s", flush=True)


def parse_args(argv=None) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--cases", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="10 cases (overrides --cases)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="*", default=[], help="default: every registered method not excluded")
    p.add_argument("--ratios", nargs="*", type=int, default=list(RATIOS))
    p.add_argument("--accuracy-ratios", nargs="*", type=int, default=None,
                   help="ratios at which the reader answers (default: all of --ratios)")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--out", type=Path, default=OUT / "nq_qa.jsonl")
    p.add_argument("--shard", default="0/1", help="i/n: take cases with case_id %% n == i (parallel runs)")
    p.add_argument("--deadline", type=float, default=0.0,
                   help="seconds: start no case that may end after this (judged by the slowest case so far)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: LINGUA_DEVICE, else auto)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--data", type=Path, default=nq_cases.DATA)
    p.add_argument("--no-references", action="store_true",
                   help="skip the reference rows (their reader answers cost the most; e.g. a 16x-only run)")
    p.add_argument("--resume-from", default="", help="glob of other JSONL files whose rows count as done")
    p.add_argument("--report", action="store_true", help="print the table and write the plot, then exit")
    p.add_argument("--rows", default=str(OUT / "nq_qa*.jsonl"), help="--report: JSONL files to read (glob)")
    p.add_argument("--plot", type=Path, default=None,
                   help="--report: also draw the plot to this PNG (docs/benchmarks.md's is assets/bench_nq_qa.png)")
    a = p.parse_args(argv)
    i, n = (int(x) for x in a.shard.split("/"))
    cfg = Config(cases=10 if a.quick else a.cases, seed=a.seed, methods=tuple(a.methods), ratios=tuple(a.ratios),
                 accuracy_ratios=tuple(a.ratios if a.accuracy_ratios is None else a.accuracy_ratios),
                 max_new_tokens=a.max_new_tokens, out=a.out, shard=(i, n), deadline_s=a.deadline,
                 device=a.device, data=a.data, resume_from=a.resume_from, references=not a.no_references)
    return cfg, a


def main(argv=None) -> None:
    cfg, a = parse_args(argv)
    if a.report:
        import nq_report

        nq_report.main(load_rows(a.rows), a.plot, cfg)
        return
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run(cfg)


if __name__ == "__main__":
    main()
