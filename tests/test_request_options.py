"""The llmlingua options this project added as request settings or shared stages, on the real bundled model:
``concate_question`` and ``force_strings`` for every method, the sentence stage, LongLLMLingua's retriever
ranking (``rank_method`` bm25 / sentbert / gzip) and its scorer reading only the kept documents."""

from __future__ import annotations

import pytest
from support.helpers import assert_in_order, offline_options

from lingua_core import Request, compress, phrases
from lingua_core.methods import ranking
from lingua_core.budget import within
from lingua_core.methods import REGISTRY, clear_caches
from lingua_core.methods import longllmlingua as ll


@pytest.fixture(scope="module")
def case(nq_rows):
    """Six NQ passages, the gold one (index 4) among them, and its question."""
    docs = [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in nq_rows[10:16]]
    docs[4] = f"{nq_rows[0]['ctxs'][0]['title']}\n{nq_rows[0]['ctxs'][0]['text']}"
    return docs, f"Question: {nq_rows[0]['question']}?"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_question_left_out_and_forced_strings_kept(lm, case, name):
    docs, question = case
    tagged = [f"<#ref{i}#> {d} <#ref{i}#>" for i, d in enumerate(docs)]
    r = compress(Request(context=tagged, question=question, rate=0.3, method=name, options=offline_options(name),
                         concate_question=False, force_strings=tuple(f"<#ref{i}#>" for i in range(6))), lm)
    assert question not in r.compressed and within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
    assert not any(t.kept for t in r.tokens if r.pieces[t.piece].role == "question")
    assert_in_order(r)
    for k, p in enumerate(r.pieces):
        if p.role == "context" and any(t.kept and t.piece == k for t in r.tokens):
            assert r.compressed.count(f"<#ref{p.index}#>") == 2, (name, p.index)   # both tags of a kept context


def test_sentence_stage_keeps_each_documents_first_sentence(lm, case):
    docs, question = case
    opts = dict(use_sentence_level=True, keep_first_sentence=1, use_token_level=False, use_context_level=False)
    r = compress(Request(context=docs, question=question, rate=0.25, method="longllmlingua", options=opts), lm)
    stage = next(s for s in r.stages if s.name == "sentences")
    assert stage.after < stage.before
    chunker = phrases.get_chunker("auto")
    for p in r.pieces:
        if p.role == "context" and p.kept:
            text = r.original[p.start:p.end]
            s, e = chunker.sentences(text)[0]
            assert text[s:e] in r.compressed
    assert_in_order(r)


@pytest.mark.parametrize("ranker", ["bm25", "sentbert", "gzip"])
def test_retriever_ranking_reads_only_the_kept_documents(lm, case, ranker):
    docs, question = case
    clear_caches()
    r = compress(Request(context=docs, question=question, target_token=180, method="longllmlingua",
                         options={"rank_method": ranker}), lm)
    kept = [p for p in r.pieces if p.role == "context" and p.kept]
    assert 0 < len(kept) < len(docs) and within(r.compressed_tokens, 180, r.origin_tokens)
    scored = {key[2] for key in ll._CACHE}                        # the documents the scorer read
    assert scored == {tuple(ids) for ids in _piece_ids(lm, r, kept)}
    if ranker != "gzip":
        assert r.pieces[4].rank == 0                              # the gold passage first
    assert ranking.NOTES[ranker] in next(s.note for s in r.stages if s.name.startswith("coarse"))


def _piece_ids(lm, result, pieces):
    from lingua_core import scoring

    return [scoring.tokenize(lm, result.original[p.start:p.end]).ids for p in pieces]


def test_keep_split_keeps_blank_lines(lm):
    from lingua_core import PromptCompressor

    text = "First part about rivers and lakes.\n\nSecond part about mountains.\n\nThird part about the sea."
    pc = PromptCompressor(model_name="bundled", device_map="cpu")
    out = pc.compress_prompt([text, text.upper()], rate=0.5, keep_split=True, use_context_level_filter=False)
    assert out["compressed_prompt"].count("\n\n") >= 5            # 2 inside each context, 1 between them
