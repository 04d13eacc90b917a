"""The app's ready-made examples: JSON files in ``assets/examples/``, read at start-up (no model or network work).

Each file holds one prompt split the way the app's form is (instruction, contexts, question), the method and
ratio that show it off, and where the text comes from. ``assets/build_examples.py`` writes the data-set ones;
``assets/README.md`` gives the provenance of all of them. An example whose preferred method is not registered
falls back to ``llmlingua`` (so the list works whatever methods are installed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
ORDER = ("gsm8k_cot", "nq_rag", "meeting", "structured_json")   # how the app lists them
FALLBACK_METHOD = "llmlingua"


@dataclass(frozen=True)
class Example:
    name: str                 # file stem, e.g. "gsm8k_cot"
    label: str                # shown on the example's button
    source: str               # where the text comes from, with its licence
    instruction: str
    context: tuple[str, ...]  # documents / demonstrations, in order
    question: str
    method: str               # registry name, already checked against REGISTRY
    ratio: float              # suggested compression ratio (original / compressed)
    context_sep: str          # what joins the contexts in the form's context box
    answer: str = ""          # the reference answer, when the source has one

    @property
    def context_text(self) -> str:
        """The contexts as the form's context box shows them."""
        return self.context_sep.join(self.context)


def load(path: Path) -> Example:
    """Read one example file; an unregistered method becomes ``FALLBACK_METHOD``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    method = raw["method"] if raw["method"] in REGISTRY else FALLBACK_METHOD
    return Example(raw["name"], raw["label"], raw["source"], raw["instruction"], tuple(raw["context"]),
                   raw["question"], method, float(raw["ratio"]), raw.get("context_sep", "\n\n"),
                   raw.get("answer", ""))


def all_examples(folder: Path = ASSETS) -> list[Example]:
    """Every example in ``folder``, in ``ORDER`` first, then any others by name."""
    paths = sorted(folder.glob("*.json"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER),
                                                          p.stem))
    return [load(p) for p in paths]


def by_name(name: str, folder: Path = ASSETS) -> Example:
    """One example by its name, or an ``InvalidRequest`` listing the names there are."""
    found = {e.name: e for e in all_examples(folder)}
    if name not in found:
        raise InvalidRequest(f"No example {name!r}; there are: {', '.join(found)}.")
    return found[name]
