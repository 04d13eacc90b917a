"""The multi-document QA benchmark (bench/nq_qa.py) end to end on 2 cases: case builder, compression, reader,
resuming and the report's table, with the real bundled model as the reader (8 new tokens). The two methods
are the model-free floors, so the test's time goes to the reader; tests/test_methods.py covers the methods."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import nq_cases  # noqa: E402
import nq_qa  # noqa: E402
import nq_report  # noqa: E402
from lingua_core.answers import contains_gold  # noqa: E402


@pytest.fixture(scope="module")
def cases():
    return nq_cases.build_cases(2, seed=0)


def test_cases_are_seeded_prefixes_with_one_gold_document(cases):
    assert [c.row for c in nq_cases.build_cases(5, seed=0)[:2]] == [c.row for c in cases]
    assert nq_cases.build_cases(2, seed=0) == cases
    for case in cases:
        texts = [f"{p.title} {p.text}" for p in case.passages]
        assert len(texts) == nq_cases.DOCS_PER_CASE
        assert [contains_gold(t, case.answers) for t in texts] == [i == case.gold_pos for i in range(len(texts))]
        prompt = nq_cases.prompt_text(nq_cases.request(case))
        assert prompt.startswith(nq_cases.INSTRUCTION + "\n\nDocument [1](Title: ")
        assert prompt.endswith(f"\n\nQuestion: {case.question}\nAnswer:")
        assert f"\nDocument [{nq_cases.DOCS_PER_CASE}](Title: " in prompt


def test_oracle_keeps_the_gold_passage_first_and_fills_the_budget_with_whole_words(cases):
    from lingua_core.tokens import count_tokens

    for case, rate in zip(cases, (0.25, 0.5)):
        full = nq_cases.prompt_text(nq_cases.request(case))
        req = nq_cases.gold_filled(case, rate)
        text = nq_cases.prompt_text(req)
        budget = round(rate * count_tokens(full))
        assert 0.9 * budget <= count_tokens(text) <= budget
        docs = [nq_cases.document(i + 1, p) for i, p in enumerate(case.passages)]
        assert req.context[0] == docs[case.gold_pos] and req.question in text
        others = [d for i, d in enumerate(docs) if i != case.gold_pos]
        *whole, last = req.context[1:]
        assert whole == others[:len(whole)]                         # the others whole, in prompt order ...
        assert others[len(whole)].startswith(last) and others[len(whole)][len(last)] == " "   # ... then cut


@pytest.mark.slow          # ~20 s of reader answers; the harness, not the product
def test_two_cases_end_to_end_resume_and_report(lm, cases, tmp_path):
    cfg = nq_qa.Config(cases=2, methods=("random", "first_n"), ratios=(4,), accuracy_ratios=(4,),
                       max_new_tokens=8, out=tmp_path / "rows.jsonl", device="cpu")
    reader = nq_qa.Reader(cfg, "cpu")
    env = {"device": "cpu", "dtype": "float32"}
    done: dict = {}
    assert sum(nq_qa.run_case(c, cfg, lm, reader, done, env) for c in cases) == 10
    rows = nq_qa.load_rows(str(cfg.out))
    assert len(rows) == 10
    for r in rows:
        assert isinstance(r["correct"], bool) and isinstance(r["answer"], str)
        if r["method"] in nq_qa.REFERENCES:
            assert r["answer_kept"] and r["seconds"] == 0.0
            low, high = {"full": (1, 1), "gold_only": (4, 20), "gold_filled": (3.9, 4.5)}[r["method"]]
            assert low <= r["ratio_achieved"] <= high
        else:
            assert 3.5 < r["ratio_achieved"] < 4.5 and r["seconds"] > 0
    first = {r["case"]: r for r in rows if r["method"] == "first_n"}
    assert all(r["gold_rank"] == -1 and r["first_doc"] == 0 for r in first.values())   # unranked, in order
    # a rerun skips every row already written
    again = nq_qa.finished(nq_qa.load_rows(str(cfg.out)))
    assert sum(nq_qa.run_case(c, cfg, lm, reader, again, env) for c in cases) == 0
    cells, n = nq_report.cells(rows)
    assert n == 2 and {(c.method, c.ratio) for c in cells} == {("full", 1), ("gold_only", 1), ("gold_filled", 4),
                                                                ("random", 4), ("first_n", 4)}
    text = nq_report.table(cells)
    assert "| first_n | 4x |" in text and "gold passage alone" in text and "(oracle) | 4x |" in text
    assert any(line.startswith("oracle at ") for line in nq_report.goals(cells + [
        nq_report.Cell("longllmlingua", 4, 2, 1.0, 4.0, 0.1, "", 0.5, 2, 1.0, 1.0)]))


def test_report_names_the_device_of_seconds_not_measured_on_the_main_one():
    def row(case, method, device, seconds):
        return {"key": f"{case}|{method}", "case": case, "method": method, "ratio": 4, "answer_kept": True,
                "ratio_achieved": 4.0, "seconds": seconds, "correct": True, "gold_doc_kept": True, "gold_rank": -1,
                "device": device, "ts": case, "version": "v"}

    rows = [row(c, "random", "gpu", 0.5) for c in range(3)] + [row(c, "first_n", "cpu x1", 2.0) for c in range(2)]
    rows += [row(2, "first_n", "gpu", 1.0)]
    cells, _ = nq_report.cells(rows)
    text = nq_report.table(cells)
    assert "| random | 4x | 100.0% | 4.00x | 0.50 |" in text          # main device: its figure, unnamed
    assert "| first_n | 4x | 100.0% | 4.00x | 1.00 |" in text          # has main-device rows: those only
    cells, _ = nq_report.cells([r for r in rows if not (r["method"] == "first_n" and r["device"] == "gpu")])
    assert "| first_n | 4x | 100.0% | 4.00x | 2.00 (cpu x1) |" in nq_report.table(cells)


def test_no_references_flag_leaves_the_reference_rows_out():
    cfg, _ = nq_qa.parse_args(["--ratios", "16", "--accuracy-ratios", "--no-references", "--methods", "random"])
    assert not cfg.references and cfg.accuracy_ratios == () and nq_qa.jobs(cfg) == [("random", 16)]
    cfg, _ = nq_qa.parse_args(["--ratios", "16", "--methods", "random"])
    assert nq_qa.jobs(cfg) == [(m, r) for m, (_, r) in nq_qa.REFERENCES.items()] + [("random", 16)]


def test_report_draws_a_plot_only_when_asked(tmp_path, capsys, monkeypatch):
    def row(case, method):
        return {"key": f"{case}|{method}", "case": case, "method": method, "ratio": 4, "answer_kept": True,
                "ratio_achieved": 4.0, "seconds": 0.1, "correct": True, "gold_doc_kept": True, "gold_rank": -1,
                "device": "cpu", "ts": case, "version": "v"}

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(row(c, m)) + "\n" for c in range(2) for m in ("random", "first_n")))
    monkeypatch.chdir(tmp_path)
    nq_qa.main(["--report", "--rows", str(rows)])
    assert "no plot drawn" in capsys.readouterr().out and not list(tmp_path.rglob("*.png"))
    nq_qa.main(["--report", "--rows", str(rows), "--plot", str(tmp_path / "p.png")])
    assert (tmp_path / "p.png").stat().st_size > 0
