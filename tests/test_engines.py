"""Batch compression on existing engines: Hugging Face ``datasets.Dataset.map`` and Ray Data (a real local Ray,
started by the test) give the same rows as the in-process ``batch.compress_rows``, in input order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lingua_core.batch import BatchSettings, compress_row, compress_rows, read_rows

TIMING = ("seconds",)      # the only field allowed to differ between two runs of the same rows


def same(a: dict, b: dict) -> bool:
    strip = lambda row: json.loads(json.dumps({k: v for k, v in row.items() if k not in TIMING}))  # noqa: E731
    return strip(a) == strip(b)


@pytest.fixture(scope="module")
def rows(nq_rows):
    out = [{"prompt": "\n\n".join(c["text"] for c in r["ctxs"][:2]), "question": r["question"] + "?",
            "answers": r["answers"], "id": f"nq-{i}"} for i, r in enumerate(nq_rows[:5])]
    out.insert(2, {"prompt": "word " * 30_000, "question": "", "answers": [], "id": "too-long"})  # refused: an error
    return out


SETTINGS = BatchSettings(method="longllmlingua", rate=0.3)


def test_datasets_map_equals_the_in_process_batch(lm, rows):
    datasets = pytest.importorskip("datasets")
    local = list(compress_rows(rows, SETTINGS, lm))
    mapped = datasets.Dataset.from_list(rows).map(compress_row, fn_kwargs={"settings": SETTINGS},
                                                  load_from_cache_file=False)
    got = mapped.to_list()
    assert len(got) == len(local)
    for a, b in zip(got, local):
        assert same(a, b), (a["id"], a["error"], b["error"])
    assert got[2]["error"] and not got[0]["error"]


@pytest.mark.slow
def test_ray_batch_equals_the_in_process_batch(lm, rows, tmp_path):
    ray = pytest.importorskip("ray")
    from lingua_core.integrations import ray_data as ray_engine

    local = list(compress_rows(rows, SETTINGS, lm))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"py_modules": [str(ray_engine.PACKAGE)]})
    try:
        got = ray_engine.compress_rows(rows, SETTINGS, model="bundled", device="cpu", num_workers=2, batch_size=2)
    finally:
        ray.shutdown()
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert all(same(a, b) for a, b in zip(got, local))
    assert got[2]["error"] and not got[0]["error"]


@pytest.mark.slow
def test_cli_batch_on_ray(lm, rows, tmp_path):
    pytest.importorskip("ray")
    src, dst, ref = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "local.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = [sys.executable, "-m", "lingua_core", "batch", str(src)]
    opts = ["--method", "longllmlingua", "--rate", "0.3"]
    run = subprocess.run(base + [str(dst)] + opts + ["--engine", "ray", "--num-workers", "2"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    local = subprocess.run(base + [str(ref)] + opts, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-2000:]
    got, want = read_rows(dst), read_rows(ref)
    assert [r["id"] for r in got] == [r["id"] for r in rows] and all(same(a, b) for a, b in zip(got, want))
