"""Downstream answers compared: send the original and the compressed prompt to one backend, side by side.

``compare_stream`` yields a ``Comparison`` each time either answer grows (for the app's two panels) and a
last one with everything measured: both answers' latency and token counts, their cost at a price model,
how far they agree (SQuAD token F1 and exact match, via ``answers.py``) and, given gold answers, whether
each is right. An HTTP backend gets both prompts at once (two threads); the local model, which shares
the CPU, answers one after the other. A backend failure lands in that side's ``Answer.error``; nothing
here raises for it. ``compare`` is the same without the intermediate states.

    from lingua_core.backends import get_backend
    c = compare(original, compressed, get_backend("local"), gold_answers=["72"])
    c.original.answer.text, c.compressed.correct, c.agreement_f1, c.compressed.cost_usd
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import answers
from .backends.base import Answer, Backend, Stream
from .pricing import cost, price_of

DEFAULT_MAX_NEW_TOKENS = 256


@dataclass
class Side:
    """One prompt's answer, what it cost and whether it is right."""
    answer: Answer                 # text, latency, token counts (and their source), error, done
    cost_usd: float | None = None  # at the price model's list prices; None until done or on failure
    correct: bool | None = None    # vs the gold answers; None without gold, on failure or until done


@dataclass
class Comparison:
    """The original prompt's answer next to the compressed prompt's, and how they relate."""
    original: Side
    compressed: Side
    backend: str                       # who answered, e.g. "local model bundled" (no secrets)
    price_model: str                   # whose prices the costs are in (and whose tokenizer estimates use)
    gold_answers: tuple[str, ...] = ()  # the example's gold answers; empty when it has none
    gold_kind: str = ""                # "number" (GSM8K last number), "text" (NQ words), "" without gold
    agreement_f1: float | None = None  # token F1 between the two answers; None until both answered
    agreement_em: bool | None = None   # the two answers equal after normalisation
    done: bool = False                 # both answers finished (or failed)

    @property
    def saved_usd(self) -> float | None:
        """Original cost minus compressed cost, once both are known."""
        if self.original.cost_usd is None or self.compressed.cost_usd is None:
            return None
        return self.original.cost_usd - self.compressed.cost_usd


def compare(original_prompt: str, compressed_prompt: str, backend: Backend, gold_answers=None,
            price_model: str = "gpt-4o", max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
            gold_kind: str = "auto") -> Comparison:
    """Both answers, finished and measured (see ``compare_stream`` for the arguments)."""
    last = None
    for last in compare_stream(original_prompt, compressed_prompt, backend, gold_answers, price_model,
                               max_new_tokens, gold_kind):
        pass
    return last


def compare_stream(original_prompt: str, compressed_prompt: str, backend: Backend, gold_answers=None,
                   price_model: str = "gpt-4o", max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                   gold_kind: str = "auto") -> Iterator[Comparison]:
    """Yield the comparison as the answers stream in; the last one yielded has ``done`` set.

    ``gold_answers``: None, one answer or a list (a GSM8K number such as "72", NQ answer strings).
    ``gold_kind``: "auto", "number" or "text" (see ``answers.judge_kind``). Bad arguments (an empty
    prompt, an unpriced model) raise ``InvalidRequest`` before anything is sent.
    """
    price_of(price_model)  # unknown model: InvalidRequest naming close matches, before any request
    golds = _golds(gold_answers)
    kind = answers.judge_kind(golds, gold_kind) if golds else ""
    streams = (backend.stream(original_prompt, max_new_tokens, count_model=price_model),
               backend.stream(compressed_prompt, max_new_tokens, count_model=price_model))
    run = _together if backend.concurrent else _in_turn
    base = Comparison(Side(Answer()), Side(Answer()), backend.describe(), price_model, golds, kind)
    yield base  # at once, so a UI can show both panels waiting
    for _ in run(streams):
        yield _state(base, streams)
    yield _final(base, streams[0].answer, streams[1].answer)


def _golds(gold_answers) -> tuple[str, ...]:
    """None, a string, a number or a list of them, as a tuple of non-empty strings.

    >>> _golds(None), _golds(72), _golds(["Paris", " ", "Lutetia"])
    ((), ('72',), ('Paris', 'Lutetia'))
    """
    if gold_answers is None:
        return ()
    if isinstance(gold_answers, (str, int, float)):
        gold_answers = [gold_answers]
    return tuple(str(g).strip() for g in gold_answers if str(g).strip())


def _state(base: Comparison, streams: tuple[Stream, Stream]) -> Comparison:
    """The comparison while answers stream: texts and elapsed time only."""
    return Comparison(Side(streams[0].snapshot()), Side(streams[1].snapshot()), base.backend,
                      base.price_model, base.gold_answers, base.gold_kind)


def _final(base: Comparison, original: Answer, compressed: Answer) -> Comparison:
    both = original.ok and compressed.ok
    return Comparison(_measure(original, base), _measure(compressed, base), base.backend, base.price_model,
                      base.gold_answers, base.gold_kind,
                      agreement_f1=answers.f1(compressed.text, original.text) if both else None,
                      agreement_em=answers.exact_match(compressed.text, original.text) if both else None,
                      done=True)


def _measure(answer: Answer, base: Comparison) -> Side:
    if not answer.ok:
        return Side(answer)
    correct = answers.is_correct(answer.text, base.gold_answers, base.gold_kind) if base.gold_answers else None
    return Side(answer, cost(answer.prompt_tokens, answer.output_tokens, base.price_model), correct)


def _in_turn(streams: Iterable[Stream]) -> Iterator[None]:
    """One stream after the other, a beat per text piece (the local model: one CPU, one job)."""
    for stream in streams:
        for _ in stream:
            yield None


def _together(streams: tuple[Stream, ...]) -> Iterator[None]:
    """All streams at once in threads; a beat whenever any has new text (at least every half second)."""
    changed, stop = threading.Event(), threading.Event()
    crashed: list[BaseException] = []

    def pump(stream: Stream) -> None:
        try:
            for _ in stream:
                changed.set()
                if stop.is_set():
                    break
        except BaseException as exc:  # a bug, not a backend failure (those end up in Answer.error)
            crashed.append(exc)
        finally:
            changed.set()

    threads = [threading.Thread(target=pump, args=(s,), daemon=True, name="lingua-compare") for s in streams]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            changed.wait(timeout=0.5)
            changed.clear()
            yield None
    finally:
        stop.set()  # on an early stop, each thread ends at its next piece of text (no waiting here)
    if crashed:
        raise crashed[0]
