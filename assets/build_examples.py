"""Rebuild the data-set examples in ``assets/`` from the repo's data sets (``assets/data``: GSM8K, NaturalQuestions).

The app never runs this: it reads the JSON files this writes (see ``ui/examples.py``), so the
examples work offline and on a Space without the data sets. The meeting transcript and the structured JSON
prompt are written by hand and are not touched here.

    python assets/build_examples.py     # writes assets/examples/gsm8k_cot.json and assets/examples/nq_rag.json
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from assets import data  # noqa: E402  (the repo root is on the path only from here on)

N_DEMOS = 8            # demonstrations in the chain-of-thought prompt (the classic demo has 8)
POOL = 1000            # GSM8K training problems the longest demonstrations are picked from
N_DOCS = 10            # passages in the RAG prompt (1 gold + 9 distractors)
NQ_ROW = 0             # which NaturalQuestions question is asked
SEED = 4               # picks the distractors
GOLD_AT = 6            # 0-based position of the gold passage: in the middle, where LLMs miss it most


def gsm8k_cot() -> dict:
    """The classic LLMLingua demo: many-shot chain-of-thought for a GSM8K test question.

    Like the "complex CoT" prompt of Chain-of-Thought Hub, it uses the demonstrations with the most
    reasoning steps (here: the N_DEMOS longest solutions among the first POOL training problems, in order).
    """
    rows = data.gsm8k("train", limit=POOL)
    longest = sorted(range(len(rows)), key=lambda i: (-rows[i]["answer"].count("\n"), i))[:N_DEMOS]
    test = data.gsm8k("test_dev", limit=1)[0]
    return {
        "name": "gsm8k_cot",
        "label": "GSM8K chain-of-thought (8 demonstrations)",
        "source": ("GSM8K (openai/grade-school-math, MIT licence): the 8 training solutions with the most steps "
                   "among the first 1,000 as demonstrations, the first test problem as the question."),
        "instruction": "Please reference the following examples to answer the math question.",
        "context": [data.gsm8k_demo(rows[i]) for i in sorted(longest)],
        "question": f"Question: {test['question']}",
        "method": "llmlingua",
        "ratio": 10.0,
        "context_sep": "\n\n",
        "answer": test["answer"].split("####")[1].strip(),
    }


def nq_rag() -> dict:
    """A LongLLMLingua-style multi-document question: one gold Wikipedia passage among distractors."""
    rows = data.nq(limit=200)
    rng = random.Random(SEED)
    asked = rows[NQ_ROW]
    others = rng.sample([r for i, r in enumerate(rows) if i != NQ_ROW], N_DOCS - 1)
    docs = [r["ctxs"][0] for r in others]
    gold_at = GOLD_AT
    docs.insert(gold_at, asked["ctxs"][0])
    return {
        "name": "nq_rag",
        "label": "NaturalQuestions RAG (10 documents)",
        "source": (f"NaturalQuestions-open (CC BY-SA 3.0), oracle file of nelson-liu/lost-in-the-middle: the gold "
                   f"Wikipedia passage of one dev question at position {gold_at + 1} among {N_DOCS - 1} passages "
                   "of other questions."),
        "instruction": ("Write a high-quality answer for the given question using only the provided search "
                        "results (some of which might be irrelevant)."),
        "context": [f"Document [{i + 1}](Title: {d['title']}) {d['text']}" for i, d in enumerate(docs)],
        "question": f"Question: {asked['question']}?\nAnswer:",
        "method": "longllmlingua",
        "ratio": 4.0,
        "context_sep": "\n\n",
        "answer": asked["answers"][0],
    }


def main() -> None:
    for example in (gsm8k_cot(), nq_rag()):
        path = HERE / "examples" / f"{example['name']}.json"
        path.write_text(json.dumps(example, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path.name}: {len(example['context'])} contexts")


if __name__ == "__main__":
    main()
