"""Training data for the bundled token head: which rows train, which are held back, and their labels.

The head (``train/token_head.py``) learns to rank words as Selective Context's token level would: by how much
self-information the bundled scorer (SmolLM2-135M) gives them, read without the question (question-blind,
LLMLingua-2's setting). This file only decides the texts and computes the labels:

* texts: GSM8K train demonstrations (``data.gsm8k_demo``) and NQ passages written as the NQ benchmark writes
  its documents (``Document [i](Title: T) text``). Splits are fixed by row number, never drawn:
  GSM8K train rows ``[0, GSM8K_TRAIN)`` train, interleaved with the NQ passages, and after them, in row order,
  the later rows ``[GSM8K_TRAIN, GSM8K_HELD[0])`` (added once the first pool was labelled, so its labels keep
  their place in the file); rows ``[GSM8K_HELD[0], GSM8K_HELD[1])`` are held back for every choice (epochs,
  layers, targets); GSM8K test_dev rows make the benchmark's prompts (``bench/token_head.py``).
  NQ rows used by the first ``NQ_BENCH_CASES`` cases of ``bench/nq_cases.py`` (gold passage *or* distractor)
  and the first ``NQ_TEST_ROWS`` rows (the tests' cases) never train; of the rest, every fifth is held back.
* labels: each text is scored alone (as Selective Context scores each context: ``scoring.score_many``); a
  word (the encoder's pre-tokenizer word) gets the NLL of the scorer tokens that start inside it, divided by
  their number (information per token, the quantity a token budget buys), and its label is that density's
  percentile inside its text, in [0, 1].

    >>> word_density([(0, 3), (4, 9)], [(0, 2), (2, 3), (3, 9)], [1.0, 3.0, 5.0])
    [2.0, 5.0]
    >>> percentiles([2.0, 5.0, 1.0]).tolist()
    [0.5, 1.0, 0.0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

GSM8K_TRAIN = 3200                 # GSM8K train rows [0, 3200) may train the head
GSM8K_HELD = (7000, 7200)          # held back for choices (never trained on)
NQ_BENCH_CASES = 300               # NQ rows in the benchmark's first 300 cases never train
NQ_TEST_ROWS = 40                  # tests build their NQ cases from rows [0, 40)
NQ_HELD_EVERY = 5                  # of the remaining NQ rows, every fifth is held back


def nq_excluded() -> set[int]:
    """NQ rows that appear in the benchmark's first cases (gold or distractor) or in the tests."""
    import nq_cases

    rows = nq_cases.load_rows()
    by_passage = {}
    for i, r in enumerate(rows):
        by_passage.setdefault(nq_cases.passage(r), i)
    used = set(range(NQ_TEST_ROWS))
    for case in nq_cases.build_cases(NQ_BENCH_CASES, rows=rows):
        used.add(case.row)
        used |= {by_passage[p] for p in case.passages}
    return used


def texts(split: str) -> list[tuple[str, str]]:
    """(source, text) of the ``split``: "train" (GSM8K and NQ), "later" (the later GSM8K train rows) or "held"."""
    import random

    import nq_cases
    from assets import data

    gsm = data.gsm8k("train")
    lo, hi = {"train": (0, GSM8K_TRAIN), "later": (GSM8K_TRAIN, GSM8K_HELD[0]), "held": GSM8K_HELD}[split]
    out = [("gsm8k", data.gsm8k_demo(r)) for r in gsm[lo:hi]]
    if split == "later":
        return out
    rows = nq_cases.load_rows()
    excluded = nq_excluded()
    free = [i for i in range(len(rows)) if i not in excluded]
    pick = [i for k, i in enumerate(free) if (k % NQ_HELD_EVERY == NQ_HELD_EVERY - 1) == (split == "held")]
    rng = random.Random(0)
    out += [("nq", nq_cases.document(rng.randrange(1, 11), nq_cases.passage(rows[i]))) for i in pick]
    return out


def word_density(words: list[tuple[int, int]], toks: list[tuple[int, int]], nll) -> list[float]:
    """Mean NLL of the scorer tokens whose first non-space character lies in each word (NaN: none)."""
    return densities(*word_sums(words, toks, nll))


def densities(total: np.ndarray, count: np.ndarray) -> list[float]:
    """Summed NLL over token count per word (NaN where a word holds no scorer token)."""
    return [float(t / c) if c else float("nan") for t, c in zip(total, count)]


def word_sums(words: list[tuple[int, int]], toks: list[tuple[int, int]], nll) -> tuple[np.ndarray, np.ndarray]:
    """(summed NLL, number) of the scorer tokens whose first non-space character lies in each word.

    >>> [v.tolist() for v in word_sums([(0, 3), (4, 9)], [(0, 2), (2, 3), (3, 9)], [1.0, 3.0, 5.0])]
    [[4.0, 5.0], [2.0, 1.0]]
    """
    starts = np.asarray([s for s, _ in words])
    total, count = np.zeros(len(words)), np.zeros(len(words))
    for (s, e), v in zip(toks, nll):
        w = int(np.searchsorted(starts, s, side="right")) - 1
        if w < 0 or s >= words[w][1]:        # a token starting in a gap: give it to the next word
            w = min(w + 1, len(words) - 1)
        total[w] += v
        count[w] += 1
    return total, count


def percentiles(values) -> np.ndarray:
    """Each value's percentile among ``values`` in [0, 1] (lowest 0, highest 1; NaN counts as lowest)."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf)
    order = np.argsort(v, kind="stable")
    out = np.empty(len(v))
    out[order] = np.arange(len(v)) / max(len(v) - 1, 1)
    return out


def _first_char(text: str, s: int, e: int) -> int:
    while s < e and text[s].isspace():
        s += 1
    return s


def labels(lm, enc, items: list[str], log_every: int = 200) -> list[dict]:
    """For each text: encoder ids, each encoder token's word number and that word's label."""
    import time

    from lingua_core import encoder, scoring

    t0, out = time.perf_counter(), []
    for b in range(0, len(items), 64):
        batch = items[b:b + 64]
        toks = [scoring.tokenize(lm, t) for t in batch]
        nll = scoring.score_many(lm, [t.ids for t in toks])
        for text, tk, v in zip(batch, toks, nll):
            e = encoder.encode(enc, text)
            spans, _ = encoder.word_probs(text, e, np.zeros(len(e.ids)))
            starts = [(_first_char(text, s, t), t) for s, t in tk.spans]
            total, count = word_sums(spans, starts, v)
            dens = densities(total, count)
            word_label = percentiles(dens)
            # each encoder token -> index of the trimmed word span it lies in
            span_starts = np.asarray([s for s, _ in spans])
            tok_word = [int(np.searchsorted(span_starts, s, side="right")) - 1 for s, _ in e.spans]
            out.append({"ids": e.ids, "label": [float(word_label[max(w, 0)]) for w in tok_word],
                        "words": spans, "density": dens, "tokens": count.astype(int).tolist()})
        if (b // 64) % max(log_every // 64, 1) == 0:
            print(f"  labelled {len(out)}/{len(items)} texts, {time.perf_counter() - t0:.0f}s", flush=True)
    return out


def interleave(items: list[tuple[str, str]]) -> list[str]:
    """Texts of both sources alternated in proportion, so any prefix of the labelled file is mixed.

    >>> interleave([("gsm8k", "a"), ("gsm8k", "b"), ("nq", "x")])
    ['a', 'x', 'b']
    """
    gsm = [t for s, t in items if s == "gsm8k"]
    nq = [t for s, t in items if s == "nq"]
    keyed = [(i / max(len(gsm), 1), 0, t) for i, t in enumerate(gsm)] + \
            [(i / max(len(nq), 1), 1, t) for i, t in enumerate(nq)]
    return [t for *_, t in sorted(keyed)]


def train_order() -> list[str]:
    """The training texts in the order they are labelled: the first pool interleaved, then the later rows."""
    return interleave(texts("train")) + [t for _, t in texts("later")]


def write_labels(path: Path, items: list[str], lm, enc, limit: int) -> None:
    """Append labels for ``items[:limit]`` to a JSONL file, skipping the texts already there (resumable)."""
    import json

    done = 0
    if path.exists():
        done = sum(1 for _ in path.open(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for b in range(done, min(limit, len(items)), 16):
            for row in labels(lm, enc, items[b:min(b + 16, limit)], log_every=10**9):
                f.write(json.dumps(row) + "\n")
            f.flush()
            print(f"{path.name}: {min(b + 16, limit)}/{min(limit, len(items))} texts", flush=True)


def main() -> None:
    """Label the held-back texts first (a few), then the training texts (as many as asked, resumable)."""
    import argparse
    import time

    from lingua_core.loading import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--held", type=int, default=64)
    ap.add_argument("--train", type=int, default=7352, help="label the first N training texts (all: 7352)")
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "token_head")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lm = load_model("bundled", "cpu")
    enc = load_model("test:minilm-random-head", "cpu", kind="token-classification")   # its tokenizer only
    write_labels(args.out / "held.jsonl", interleave(texts("held")), lm, enc, args.held)
    write_labels(args.out / "train.jsonl", train_order(), lm, enc, args.train)
    print(f"labels done in {time.perf_counter() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
