"""Keep probabilities per word from a token-classification encoder (LLMLingua-2's measuring instrument).

Where ``scoring.py`` asks a causal LM how surprising each token is, this module asks a bidirectional encoder
(XLM-RoBERTa or multilingual BERT fine-tuned on MeetingBank) how likely each word is to be kept:

1. ``encode`` splits a text in the encoder's tokenizer, with character spans and word numbers.
2. ``chunk_bounds`` cuts it into pieces that fit the encoder (``encoder_limit`` minus its special tokens),
   each ending on a sentence end (a ``chunk_end_tokens`` token such as ".", or a newline after a token) when
   one lies in the window, else at the last word start, so no word is split between chunks.
3. ``keep_probs`` wraps every chunk in the encoder's *own* special tokens -- ``[CLS] ... [SEP]`` for BERT,
   ``<s> ... </s>`` for XLM-R, read from the tokenizer rather than assumed (the reference always uses
   BERT's) -- runs them in batches and returns P(keep) for each sub-word token.
4. ``word_probs`` aggregates sub-word probabilities to words ("mean" or "first", llmlingua's
   ``token_to_word``) and returns each word's character span (whitespace trimmed).

``pair_word_probs`` does the same with a question read before every chunk, as a sentence pair (``[CLS]
question [SEP] chunk [SEP]`` for BERT, the layout probed from the tokenizer by ``pair_layout``): what the
question-aware answer head (``methods/token_head.py``) was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .loading import LoadedModel

VERY_LONG = 1 << 20     # tokenizers report "no limit" as a huge model_max_length
TOKEN_TO_WORD = {       # llmlingua's token_to_word: a word's probability from its sub-word tokens'
    "mean": lambda v: float(np.mean(v)),
    "first": lambda v: float(v[0]),
}


@dataclass
class Encoded:
    """A text in the encoder's tokenizer (no special tokens)."""
    ids: list[int]                     # token ids
    spans: list[tuple[int, int]]       # character span of each token in the text
    words: list[int]                   # word number of each token (the tokenizer's pre-tokenizer words)


def encode(enc: LoadedModel, text: str) -> Encoded:
    """Tokenize ``text`` for the encoder, keeping spans and word numbers."""
    if not text:
        return Encoded([], [], [])
    out = enc.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    words = [w if w is not None else -1 for w in out.word_ids()]
    return Encoded(list(out["input_ids"]), [tuple(s) for s in out["offset_mapping"]], words)


def special_wrap(enc: LoadedModel) -> tuple[list[int], list[int]]:
    """The special token ids the encoder's tokenizer puts before and after one sequence.

    BERT gives ([CLS], [SEP]) = ([101], [102]); XLM-R gives (<s>, </s>) = ([0], [2]).
    """
    probe = enc.tokenizer("a", add_special_tokens=True, return_special_tokens_mask=True)
    ids, mask = list(probe["input_ids"]), list(probe["special_tokens_mask"])
    head = 0
    while head < len(mask) and mask[head]:
        head += 1
    tail = len(mask)
    while tail > head and mask[tail - 1]:
        tail -= 1
    return ids[:head], ids[tail:]


def encoder_limit(enc: LoadedModel, cap: int = 512) -> int:
    """Tokens one sequence may hold, special tokens included: the smallest of the position table (less the
    offset RoBERTa-style models start positions at), the tokenizer's declared maximum, and ``cap``."""
    positions = int(getattr(enc.model.config, "max_position_embeddings", cap) or cap)
    padding_idx = getattr(getattr(enc.model.base_model, "embeddings", None), "padding_idx", None)
    if padding_idx is not None:                  # RoBERTa/XLM-R count positions from padding_idx + 1
        positions -= int(padding_idx) + 1
    declared = int(getattr(enc.tokenizer, "model_max_length", VERY_LONG) or VERY_LONG)
    return max(min(positions, declared if declared < VERY_LONG else positions, cap), 8)


def is_chunk_end(text: str, enc_text: Encoded, i: int, end_tokens) -> bool:
    """Token ``i`` ends a sentence: its text is an end token, or an end token made of whitespace ("\\n")
    lies between it and the next token (tokenizers drop newlines, so they are looked for in the gap)."""
    s, e = enc_text.spans[i]
    if text[s:e].strip() in end_tokens and text[s:e].strip():
        return True
    nxt = enc_text.spans[i + 1][0] if i + 1 < len(enc_text.spans) else len(text)
    gap = text[e:nxt]
    return any(t.isspace() and t in gap for t in end_tokens)


def chunk_bounds(text: str, enc_text: Encoded, max_len: int, end_tokens=(".", "\n")) -> list[tuple[int, int]]:
    """Token ranges [lo, hi) of at most ``max_len`` tokens covering the text, cut after the last sentence
    end in each window, else before the last word start in it, else at ``max_len``."""
    n, out, lo = len(enc_text.ids), [], 0
    end_tokens = set(end_tokens)
    while lo < n:
        hi = min(lo + max_len, n)
        if hi < n:
            end = next((j + 1 for j in range(hi - 1, lo, -1) if is_chunk_end(text, enc_text, j, end_tokens)), None)
            word = next((j for j in range(hi, lo, -1) if enc_text.words[j] != enc_text.words[j - 1]), None)
            hi = end or word or hi
        out.append((lo, hi))
        lo = hi
    return out


def pair_layout(tokenizer) -> tuple[list[int], list[int], list[int]]:
    """The special ids a tokenizer puts before, between and after a sentence pair, probed from it.

    BERT gives ([CLS], [SEP], [SEP]) = ([101], [102], [102]); XLM-R (<s>, </s></s>, </s>).
    """
    a, b = tokenizer("a", add_special_tokens=False)["input_ids"], tokenizer("b", add_special_tokens=False)["input_ids"]
    ids = list(tokenizer("a", "b")["input_ids"])
    i = next(k for k in range(len(ids)) if ids[k:k + len(a)] == a)
    j = next(k for k in range(len(ids) - len(b), i + len(a) - 1, -1) if ids[k:k + len(b)] == b)
    return ids[:i], ids[i + len(a):j], ids[j + len(b):]


def pair_row(layout, prefix: list[int], seq: list[int]) -> tuple[list[int], list[int], int]:
    """(ids, token type ids, where ``seq`` starts) of ``prefix`` and ``seq`` read as a sentence pair.

    >>> pair_row(([101], [102], [102]), [7, 8], [5])
    ([101, 7, 8, 102, 5, 102], [0, 0, 0, 0, 1, 1], 4)
    """
    before, middle, after = layout
    first = before + list(prefix) + middle
    return first + list(seq) + after, [0] * len(first) + [1] * (len(seq) + len(after)), len(first)


def keep_probs(enc: LoadedModel, seqs: list[list[int]], batch_size: int = 50,
               prefix: list[int] | None = None) -> list[np.ndarray]:
    """P(keep) (label 1) of every token of each sequence, each wrapped in the encoder's special tokens
    (or, with ``prefix``, read as the pair ``prefix``, sequence: ``pair_row``)."""
    import torch

    if prefix is None:
        head, tail = special_wrap(enc)
        built = [(head + list(s) + tail, None, len(head)) for s in seqs]
    else:
        layout = pair_layout(enc.tokenizer)
        built = [pair_row(layout, prefix, s) for s in seqs]
    pad = enc.tokenizer.pad_token_id if enc.tokenizer.pad_token_id is not None else 0
    out: list[np.ndarray] = []
    for b in range(0, len(seqs), max(int(batch_size), 1)):
        rows = built[b:b + batch_size]
        width = max(len(r) for r, _, _ in rows)
        ids = torch.tensor([r + [pad] * (width - len(r)) for r, _, _ in rows], device=enc.device)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _, _ in rows], device=enc.device)
        extra = {}
        if prefix is not None:
            extra["token_type_ids"] = torch.tensor([t + [0] * (width - len(t)) for _, t, _ in rows], device=enc.device)
        with torch.inference_mode():
            logits = enc.model(input_ids=ids, attention_mask=mask, **extra).logits.float()
        probs = torch.softmax(logits, dim=-1)[..., 1].cpu().numpy().astype(np.float64)
        out += [probs[j, at:at + len(s)] for j, ((_, _, at), s) in enumerate(zip(rows, seqs[b:b + batch_size]))]
    return out


def word_probs(text: str, enc_text: Encoded, probs: np.ndarray, mode: str = "mean"):
    """Aggregate token probabilities to words: (word spans in ``text``, word probabilities).

    >>> e = Encoded([1, 2, 3], [(0, 4), (4, 7), (8, 10)], [0, 0, 1])
    >>> word_probs("keeping it", e, np.array([0.75, 0.25, 0.5]))
    ([(0, 7), (8, 10)], [0.5, 0.5])
    """
    starts: list[int] = []
    ends: list[int] = []
    values: list[list[float]] = []
    for i, (s, e) in enumerate(enc_text.spans):
        w = enc_text.words[i]
        if i == 0 or w < 0 or w != enc_text.words[i - 1]:
            starts.append(len(text))
            ends.append(0)
            values.append([])
        if e > s:                                  # some tokens ("▁" alone, specials) cover no text
            starts[-1], ends[-1] = min(starts[-1], s), max(ends[-1], e)
        values[-1].append(float(probs[i]))
    spans, agg = [], []
    for s, e, v in zip(starts, ends, values):
        s, e = _trim(text, s, e)
        if e > s:
            spans.append((s, e))
            agg.append(TOKEN_TO_WORD[mode](v))
    return spans, agg


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def text_word_probs(enc: LoadedModel, texts: list[str], max_len: int, end_tokens, mode: str = "mean",
                    batch_size: int = 50, prefix: list[int] | None = None) -> list[tuple[list[tuple[int, int]], list[float]]]:
    """For each text: its words' character spans and keep probabilities, chunked to fit the encoder (with
    ``prefix``, token ids read before every chunk as the first of a sentence pair)."""
    if prefix is None:
        head, tail = special_wrap(enc)
        room = max(max_len - len(head) - len(tail), 1)
    else:
        room = max(max_len - len(pair_row(pair_layout(enc.tokenizer), prefix, [])[0]), 1)
    encoded = [encode(enc, t) for t in texts]
    bounds = [chunk_bounds(t, e, room, end_tokens) for t, e in zip(texts, encoded)]
    seqs = [e.ids[lo:hi] for e, bs in zip(encoded, bounds) for lo, hi in bs]
    flat = keep_probs(enc, seqs, batch_size, prefix)
    out, k = [], 0
    for t, e, bs in zip(texts, encoded, bounds):
        probs = np.concatenate(flat[k:k + len(bs)]) if bs else np.zeros(0)
        k += len(bs)
        out.append(word_probs(t, e, probs, mode))
    return out


def pair_word_probs(enc: LoadedModel, question: str, texts: list[str], max_len: int, end_tokens,
                    question_tokens: int = 64, mode: str = "mean"):
    """``text_word_probs`` with ``question`` (its first ``question_tokens`` encoder tokens) read before every
    chunk of every text, as the first sentence of a pair."""
    return text_word_probs(enc, texts, max_len, end_tokens, mode, prefix=encode(enc, question).ids[:question_tokens])
