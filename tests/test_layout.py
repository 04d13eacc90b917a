"""The layout's promise: ``lingua_core`` is a library that works without the app, and stays small at the top.

Importing every module of ``lingua_core`` (in a fresh interpreter, so nothing the tests imported earlier
counts) must not import gradio, plotly or the app's ``ui`` package; the app-only modules live in ``ui/``.
"""

from __future__ import annotations

import subprocess
import sys

from support.app_server import ROOT

IMPORT_ALL = """
import importlib, pkgutil, sys
import lingua_core
names = [m.name for m in pkgutil.walk_packages(lingua_core.__path__, "lingua_core.")]
for name in names:
    importlib.import_module(name)
app = sorted({m.split(".")[0] for m in sys.modules} & {"gradio", "plotly", "ui", "app"})
print(len(names), " ".join(app))
"""


def test_lingua_core_imports_neither_gradio_nor_plotly_nor_the_app():
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, _, app_modules = done.stdout.strip().partition(" ")
    assert int(count) >= 20 and app_modules == ""


def test_lingua_core_stays_small_at_the_top():
    modules = sorted(p.stem for p in (ROOT / "lingua_core").glob("*.py") if not p.stem.startswith("__"))
    assert len(modules) <= 22, f"{len(modules)} top-level modules; group some into a subpackage: {modules}"
    assert not {"form", "option_fields", "pipeline", "views", "viz", "heatmap", "examples", "savings"} & set(modules)
