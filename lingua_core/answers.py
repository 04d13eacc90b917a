"""Answer matching: is an LLM's answer right, and how close are two answers? Pure text helpers, no models.

SQuAD-style normalisation (lower-case, no punctuation, no articles, single spaces) underlies token F1 and
exact match; GSM8K answers are judged by their last number; NaturalQuestions answers by whether a gold
answer appears, as whole words, in the normalised answer. ``compare.py`` uses these for one example, the
benchmarks for many.

>>> normalize("The  Eiffel Tower!")
'eiffel tower'
>>> round(f1("the Eiffel Tower in Paris", "Eiffel Tower"), 3), exact_match("An apple.", "apple")
(0.667, True)
>>> last_number("She pays $1,250.50 in total, i.e. 1250.5 dollars."), gsm8k_gold("18 - 2 = 16\\n#### 16")
(1250.5, 16.0)
>>> is_correct("So the answer is 16.", ["16"]), is_correct("It opened in 1889.", ["1889", "March 1889"])
(True, True)
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

from .errors import InvalidRequest

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def normalize(text: str) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and articles, collapse whitespace.

    >>> normalize("A cat, the hat & AN owl.")
    'cat hat owl'
    """
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between two answers (symmetric); 1.0 when both normalise to nothing.

    >>> f1("blue whale", "the blue whale"), f1("red", "blue"), f1("", "")
    (1.0, 0.0, 1.0)
    """
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> bool:
    """Equal after normalisation.

    >>> exact_match("The Beatles", "beatles!"), exact_match("Beatles", "The Rolling Stones")
    (True, False)
    """
    return normalize(prediction) == normalize(reference)


def best_f1(prediction: str, golds: Iterable[str]) -> float:
    """Highest F1 against any gold answer (0.0 with none).

    >>> best_f1("Paris, France", ["Lyon", "Paris"])
    0.6666666666666666
    """
    return max((f1(prediction, g) for g in golds), default=0.0)


def _to_float(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (commas as thousands separators, a leading minus kept).

    >>> last_number("3 apples and 4 pears make 7."), last_number("-2.5 degrees"), last_number("none")
    (7.0, -2.5, None)
    """
    for token in reversed(_NUMBER.findall(text)):
        value = _to_float(token.rstrip(","))
        if value is not None:
            return value
    return None


def gsm8k_gold(answer_field: str) -> float | None:
    """The gold number of a GSM8K ``answer`` field (after ``####``), or the last number when there is no marker.

    >>> gsm8k_gold("He has 3 + 4 = 7 apples.\\n#### 7")
    7.0
    """
    tail = answer_field.rsplit("####", 1)[-1]
    return last_number(tail)


def as_number(text: str) -> float | None:
    """``text`` read as one number, or None when it is anything else.

    >>> as_number(" 1,200 "), as_number("$5"), as_number("5 apples")
    (1200.0, None, None)
    """
    token = text.strip()
    return _to_float(token) if _NUMBER.fullmatch(token) else None


def number_matches(prediction: str, gold: float) -> bool:
    """GSM8K rule: the last number in the answer equals the gold number.

    >>> number_matches("3 + 4 = 7, so 7 apples", 7), number_matches("About 70.", 7)
    (True, False)
    """
    value = last_number(prediction)
    return value is not None and abs(value - float(gold)) < 1e-6 * max(1.0, abs(float(gold)))


def contains_gold(prediction: str, golds: Iterable[str]) -> bool:
    """NaturalQuestions rule: some gold answer occurs as whole words in the normalised answer.

    >>> contains_gold("It was Queen Victoria.", ["Victoria"]), contains_gold("In 1914.", ["14"])
    (True, False)
    """
    text = f" {normalize(prediction)} "
    return any(g_norm and f" {g_norm} " in text for g_norm in (normalize(g) for g in golds))


def judge_kind(golds: Iterable[str], kind: str = "auto") -> str:
    """Which rule judges answers against ``golds``: "auto" becomes "number" when every gold answer is one
    number (GSM8K), else "text" (NaturalQuestions).

    >>> judge_kind(["72"]), judge_kind(["Paris", "1889"]), judge_kind(["72"], "text")
    ('number', 'text', 'text')
    """
    if kind not in JUDGES and kind != "auto":
        raise InvalidRequest(f"Answer kind must be auto, {' or '.join(JUDGES)}, not {kind!r}.")
    if kind == "auto":
        golds = [g for g in golds if g and g.strip()]
        return "number" if golds and all(as_number(g) is not None for g in golds) else "text"
    return kind


def is_correct(prediction: str, golds: Iterable[str], kind: str = "auto") -> bool:
    """Judge an answer by the rule ``judge_kind`` picks (a GSM8K number or NaturalQuestions words).

    >>> is_correct("The answer is 18", ["18"]), is_correct("18 eggs, then 9 left", ["18"])
    (True, False)
    >>> is_correct("18 eggs, then 9 left", ["18"], kind="text")
    True
    """
    golds = [g for g in golds if g and g.strip()]
    return JUDGES[judge_kind(golds, kind)](prediction, golds)


def _by_number(prediction: str, golds: list[str]) -> bool:
    return any(number_matches(prediction, n) for n in map(as_number, golds) if n is not None)


JUDGES = {"number": _by_number, "text": contains_gold}
