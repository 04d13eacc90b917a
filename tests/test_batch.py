"""Batch compression on the real bundled model: JSONL/CSV in and out, one row per prompt equal to
compress(), bad rows reported per row, and the ``python -m lingua_core batch`` command."""

from __future__ import annotations

import csv
import json

import pytest

from lingua_core import compress
from lingua_core.__main__ import main
from lingua_core.batch import (LLM_FIELDS, OUT_FIELDS, BatchSettings, compress_row, compress_rows, read_rows,
                               row_request, write_rows)
from lingua_core.errors import InvalidRequest


@pytest.fixture(scope="module")
def rows(gsm8k):
    demos, question = gsm8k
    return [
        {"id": "a", "prompt": "\n\n".join(demos[:2]), "question": question, "answers": ["18"]},
        {"id": "b", "prompt": demos[2], "instruction": "Solve it.", "question": "Question: What is 2 + 3?",
         "answers": ["5"]},
        {"id": "c", "prompt": demos[3]},
    ]


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "prompt", "instruction", "question", "answers"])
        w.writeheader()
        for r in rows:
            w.writerow(dict(r, answers=json.dumps(r.get("answers", []))))


def test_read_jsonl_and_csv_alike(tmp_path, rows):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    write_csv(tmp_path / "in.csv", rows)
    from_jsonl, from_csv = read_rows(tmp_path / "in.jsonl"), read_rows(tmp_path / "in.csv")
    assert [r["prompt"] for r in from_jsonl] == [r["prompt"] for r in from_csv] == [r["prompt"] for r in rows]
    assert [r["answers"] for r in from_csv] == [["18"], ["5"], []]
    assert from_csv[1]["instruction"] == "Solve it." and from_csv[0]["instruction"] == ""


def test_rows_equal_compress_and_round_trip(lm, tmp_path, rows):
    settings = BatchSettings(rate=0.4, price_model="gpt-4o")
    seen = []
    out = list(compress_rows(rows, settings, lm, progress=lambda i, n: seen.append((i, n))))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    for row, got in zip(rows, out):
        assert set(OUT_FIELDS) <= set(got) and got["id"] == row["id"] and got["error"] is None
        r = compress(row_request(row, settings), lm)
        assert got["compressed_prompt"] == r.compressed and got["compressed_tokens"] == r.compressed_tokens
        assert got["saving"] == pytest.approx(got["origin_cost"] - got["compressed_cost"]) and got["saving"] > 0
    assert out[1]["compressed_prompt"].startswith("Solve it.\n\n")
    for name in ("out.jsonl", "out.csv"):
        assert write_rows(out, tmp_path / name) == 3
        back = read_rows(tmp_path / name)
        assert [b["compressed_prompt"] for b in back] == [o["compressed_prompt"] for o in out]
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["answers"] == ["18"]


def test_bad_row_is_reported_not_raised(lm, monkeypatch, rows):
    monkeypatch.setenv("LINGUA_MAX_INPUT_CHARS", "300")
    out = compress_row(rows[0], BatchSettings(), lm)
    assert "LINGUA_MAX_INPUT_CHARS" in out["error"] and out["compressed_prompt"] is None
    assert set(out) == set(rows[0]) | set(OUT_FIELDS)


def test_answers_with_the_local_backend(lm, rows):
    from lingua_core.backends import get_backend
    from lingua_core.sweep import backend_answerer

    ask = backend_answerer(get_backend("local"), max_new_tokens=8)
    out = compress_row(rows[1], BatchSettings(rate=0.5, answer_original=True), lm, ask)
    assert set(LLM_FIELDS) <= set(out) and out["error"] is None
    assert isinstance(out["llm_answer"], str) and isinstance(out["llm_correct"], bool)
    assert 0 <= out["llm_agreement"] <= 1


def test_bad_settings_fail_before_work(lm, rows):
    with pytest.raises(InvalidRequest):
        next(compress_rows(rows, BatchSettings(method="nope"), lm))
    with pytest.raises(InvalidRequest, match="No price"):
        next(compress_rows(rows, BatchSettings(price_model="no-such-llm-xyz"), lm))


@pytest.mark.parametrize("text, name", [('{"question": "x"}\n', "in.jsonl"), ("not json\n", "in.jsonl"),
                                        ("", "in.jsonl"), ("prompt\n", "in.txt")])
def test_bad_files_explain_themselves(tmp_path, text, name):
    (tmp_path / name).write_text(text)
    with pytest.raises(InvalidRequest):
        read_rows(tmp_path / name)


def test_cli_batch(lm, tmp_path, rows, capsys):
    write_csv(tmp_path / "in.csv", rows)
    rc = main(["batch", str(tmp_path / "in.csv"), str(tmp_path / "out.jsonl"), "--rate", "0.5",
               "--option", "iterative_size=100"])
    assert rc == 0 and "wrote 3 rows" in capsys.readouterr().err
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c"] and all(o["error"] is None for o in out)
    assert main(["batch", str(tmp_path / "in.csv"), str(tmp_path / "out.txt")]) == 2
