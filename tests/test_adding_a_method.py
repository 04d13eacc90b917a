"""``docs/adding-a-method.md`` as a test: its code blocks run as written, and the method they build is the
shipped ``first_n``.

The tutorial's Python blocks run in order in one namespace, with the shipped ``first_n`` taken out of the
registry first (a name can be registered once): the tutorial's class must register itself, compress its
own example, and give exactly what the shipped class gives -- the same compressed prompt and the same token
scores -- on real GSM8K prompts at several budgets.
"""

from __future__ import annotations

import re

import pytest
from support.app_server import ROOT

from lingua_core import REGISTRY, Request, compress
from lingua_core.result import plain

TUTORIAL = ROOT / "docs" / "adding-a-method.md"


def python_blocks(markdown: str) -> list[str]:
    """The fenced ```python blocks of a markdown text, in order.

    >>> python_blocks("intro\\n```python\\nx = 1\\n```\\ntext\\n```bash\\nls\\n```\\n")
    ['x = 1\\n']
    """
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.M | re.S)


@pytest.fixture
def tutorial(lm):
    """The namespace the tutorial's blocks ran in, with its ``first_n`` registered in place of the shipped one.
    The registry is put back afterwards as it was, order included (the app lists methods in registry order)."""
    saved = dict(REGISTRY)
    shipped = REGISTRY["first_n"]
    del REGISTRY["first_n"]
    namespace: dict = {"__name__": "tutorial_first_n"}
    for block in python_blocks(TUTORIAL.read_text(encoding="utf-8")):
        exec(compile(block, str(TUTORIAL), "exec"), namespace)
    yield namespace, shipped
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_the_tutorial_method_registers_and_compresses_its_example(tutorial):
    ns, shipped = tutorial
    assert REGISTRY["first_n"] is ns["FirstN"] and ns["FirstN"] is not shipped
    result = ns["result"]
    assert result.method == "first_n" and result.target_met and result.compressed_tokens < result.origin_tokens
    assert result.compressed.endswith("Question: 6 - 1?")            # the question stays verbatim


def test_the_tutorial_method_is_about_25_lines():
    method = next(b for b in python_blocks(TUTORIAL.read_text(encoding="utf-8")) if "@register" in b)
    lines = [line for line in method.splitlines() if line.strip()]
    assert len(lines) <= 25, f"the tutorial's method has grown to {len(lines)} lines"


@pytest.mark.parametrize("budget", [dict(rate=0.5), dict(rate=0.25), dict(target_token=150)])
def test_the_tutorial_method_is_the_shipped_one(tutorial, lm, gsm8k, budget):
    ns, shipped = tutorial
    demos, question = gsm8k
    request = Request(context=demos[:4], question=question, method="first_n", **budget)
    theirs = compress(request, lm)
    REGISTRY["first_n"] = shipped                          # the fixture puts the registry back
    ours = compress(request, lm)
    assert theirs.compressed == ours.compressed and theirs.target_met == ours.target_met
    assert plain([t.score for t in theirs.tokens]) == plain([t.score for t in ours.tokens])   # nan as None
    assert [t.kept for t in theirs.tokens] == [t.kept for t in ours.tokens]
