"""Multi-document QA cases in the LongLLMLingua setting, built from the repo's NQ rows (``assets/data``; no models here).

Each case is one NaturalQuestions-open dev question with its gold passage placed among 9 gold passages of
other questions (distractors), the gold one at a random position: 10 documents in the lost-in-the-middle
QA prompt. Everything is drawn from ``random.Random`` seeded per case, so case ``i`` is the same whatever
the number of cases asked for (a quick run is a prefix of a full one, and a resumed run rebuilds the same
prompts). ``nq_qa.py`` compresses and answers these; this file only lays them out, along with the
reference prompts the reader also answers: the gold passage alone (``gold_only``) and an oracle at a
compressor's budget (``gold_filled``: the gold passage first and whole, other passages filling the rest).

Two filters keep the "is the answer still in the prompt?" figure honest: a question is used only when one
of its gold answers occurs (SQuAD-normalised, whole words) in its gold passage and in neither the
instruction nor the question; a distractor is never a passage that contains one of the question's answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assets import data
from lingua_core.answers import contains_gold
from lingua_core.result import Request

DATA = data.NQ                     # the NQ oracle dev rows
INSTRUCTION = ("Write a high-quality answer for the given question using only the provided search results "
               "(some of which might be irrelevant).")
DOCS_PER_CASE = 10                 # the gold passage + 9 distractors
DOC_SEP = "\n"                     # between documents, as in the lost-in-the-middle prompt


@dataclass(frozen=True)
class Passage:
    title: str
    text: str


@dataclass(frozen=True)
class Case:
    case_id: int                   # 0, 1, 2, ... in the seeded order of the dev set
    row: int                       # line number of the question in the data file
    question: str                  # the bare question, as in the data file
    answers: tuple[str, ...]       # gold answers (any one counts)
    passages: tuple[Passage, ...]  # the 10 documents in prompt order
    gold_pos: int                  # index of the gold passage in ``passages`` (0-based)


def document(i: int, p: Passage) -> str:
    """One document as the lost-in-the-middle prompt writes it (``i`` counts from 1).

    >>> document(2, Passage("Paris", "Paris is the capital of France."))
    'Document [2](Title: Paris) Paris is the capital of France.'
    """
    return f"Document [{i}](Title: {p.title}) {p.text}"


def question_part(question: str) -> str:
    """The prompt's last part, kept verbatim by every method.

    >>> question_part("who wrote hamlet")
    'Question: who wrote hamlet\\nAnswer:'
    """
    return f"Question: {question}\nAnswer:"


def request(case: Case, rate: float = 1.0, method: str = "llmlingua", options=None) -> Request:
    """The compression request for a case: instruction, the 10 documents as contexts, the question."""
    return Request(context=[document(i + 1, p) for i, p in enumerate(case.passages)], instruction=INSTRUCTION,
                   question=question_part(case.question), rate=rate, context_sep=DOC_SEP, method=method,
                   options=options)


def with_documents(case: Case, docs: list[str]) -> Request:
    """The case's prompt (instruction, question) with ``docs`` as its documents, uncompressed."""
    return Request(context=docs, instruction=INSTRUCTION, question=question_part(case.question),
                   context_sep=DOC_SEP)


def gold_only(case: Case) -> Request:
    """The same prompt with the gold passage as its only document (the reader's upper reference)."""
    return with_documents(case, [document(1, case.passages[case.gold_pos])])


def gold_filled(case: Case, rate: float) -> Request:
    """An oracle for a compressor at ``rate``: the gold passage whole and first, then the other passages whole
    in prompt order, the last one cut to whole words so the prompt is as long as ``rate`` of the full one
    allows (counted as the budget is, in the request's target tokenizer).

    It shows what the reader makes of a prompt at that budget when the document selection is perfect and
    the rest of the budget is other documents' text, as it must be for a compressor that meets the budget.
    """
    from lingua_core.tokens import count_tokens

    full = request(case)
    budget = round(rate * count_tokens(prompt_text(full), full.target_model))
    others = [document(i + 1, p) for i, p in enumerate(case.passages) if i != case.gold_pos]
    docs = [document(case.gold_pos + 1, case.passages[case.gold_pos])]

    def fits(extra: list[str]) -> bool:
        return count_tokens(prompt_text(with_documents(case, docs + extra)), full.target_model) <= budget

    for doc in others:
        if fits([doc]):
            docs.append(doc)
            continue
        words = doc.split(" ")
        lo, hi = 0, len(words)                       # the longest word prefix that still fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits([" ".join(words[:mid])]) else (lo, mid - 1)
        docs += [" ".join(words[:lo])] if lo else []
        break
    return with_documents(case, docs)


def prompt_text(req: Request) -> str:
    """The uncompressed prompt of a request (instruction, documents, question joined as ``selection.layout``)."""
    from lingua_core.selection import layout

    return layout(req)[0]


@lru_cache(maxsize=2)
def load_rows(path: Path = DATA) -> tuple[dict, ...]:
    return tuple(data.read_jsonl(path))


def usable(row: dict) -> bool:
    """The gold passage holds an answer, and the instruction and question do not give it away."""
    answers = row["answers"]
    ctx = row["ctxs"][0]
    fixed = INSTRUCTION + " " + question_part(row["question"])
    return contains_gold(f"{ctx['title']} {ctx['text']}", answers) and not contains_gold(fixed, answers)


def passage(row: dict) -> Passage:
    ctx = row["ctxs"][0]
    return Passage(ctx["title"], ctx["text"])


def build_case(case_id: int, row_index: int, rows: tuple[dict, ...], seed: int) -> Case:
    """Case ``case_id`` for question ``row_index``: 9 distractors and the gold position drawn from its own seed."""
    rng = random.Random(seed * 1_000_003 + case_id)
    row = rows[row_index]
    distractors: list[Passage] = []
    while len(distractors) < DOCS_PER_CASE - 1:
        j = rng.randrange(len(rows))
        cand = passage(rows[j])
        if j == row_index or cand in distractors or contains_gold(f"{cand.title} {cand.text}", row["answers"]):
            continue
        distractors.append(cand)
    gold_pos = rng.randrange(DOCS_PER_CASE)
    docs = distractors[:gold_pos] + [passage(row)] + distractors[gold_pos:]
    return Case(case_id, row_index, row["question"], tuple(row["answers"]), tuple(docs), gold_pos)


def build_cases(n: int, seed: int = 0, rows: tuple[dict, ...] | None = None) -> list[Case]:
    """The first ``n`` cases: usable questions in a seeded shuffle of the dev set."""
    rows = rows if rows is not None else load_rows()
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    picked = [i for i in order if usable(rows[i])][:n]
    return [build_case(k, i, rows, seed) for k, i in enumerate(picked)]
