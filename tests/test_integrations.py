"""LangChain and LlamaIndex: the real ``langchain-core`` and ``llama-index-core`` packages, the bundled models.

LangChain's own ``LLMLinguaCompressor`` call (its exact keywords and document tags) runs on the drop-in
facade; ``LinguaCompressor`` and ``LinguaPostprocessor`` run on every registered method and inside a real
retriever / query engine, whose embeddings are the bundled MiniLM (``ranking.embed``).
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")

from support.helpers import is_subsequence, offline_options  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.runnables import RunnableLambda, RunnablePassthrough  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from lingua_core import PromptCompressor  # noqa: E402
from lingua_core.methods import ranking  # noqa: E402
from lingua_core.integrations.langchain import LinguaCompressor  # noqa: E402
from lingua_core.integrations.llama_index import LinguaPostprocessor  # noqa: E402
from lingua_core.methods import REGISTRY  # noqa: E402
from lingua_core.tokens import count_tokens  # noqa: E402

LANGCHAIN_INSTRUCTION = "Given this documents, please answer the final question"   # LLMLinguaCompressor's default
REF = re.compile(r"\A<#ref(\d+)#>(.*)<#ref(\d+)#>\Z", re.DOTALL)


def passages(rows, n: int) -> list[str]:
    return [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in rows[:n]]


@pytest.fixture(scope="module")
def rag(nq_rows):
    """Ten NQ passages with metadata, and the question whose gold passage is the fourth."""
    docs = [Document(page_content=text, metadata={"source": f"nq-{i}", "position": i}, id=f"doc-{i}")
            for i, text in enumerate(passages(nq_rows, 10))]
    return docs, nq_rows[3]["question"] + "?"


def langchain_format(texts: list[str]) -> list[str]:
    """LangChain's LLMLinguaCompressor layout: blank lines folded, each document between <#ref{i}#> tags."""
    return ["\n\n<#ref%d#> %s <#ref%d#>\n\n" % (i, t.replace("\n\n", "\n"), i) for i, t in enumerate(texts)]


def test_langchain_llmlingua_compressor_call_keeps_the_ref_tags(lm, rag):
    docs, query = rag
    pc = PromptCompressor(model_name="bundled", device_map="cpu")
    out = pc.compress_prompt(langchain_format([d.page_content for d in docs]), instruction=LANGCHAIN_INSTRUCTION,
                             question=query, target_token=300, rank_method="longllmlingua", concate_question=False,
                             add_instruction=True, condition_compare=True, condition_in_question="after",
                             context_budget="+100", reorder_context="sort", dynamic_context_compression_ratio=0.4)
    assert abs(out["compressed_tokens"] / 300 - 1) <= 0.10 and query not in out["compressed_prompt"]
    assert out["compressed_prompt"].startswith(LANGCHAIN_INSTRUCTION)
    parts = [p.strip() for p in out["compressed_prompt"].split("\n\n")[1:] if p.strip()]   # as LangChain splits
    kept = [p.index for p in pc.last_result.pieces if p.role == "context" and p.kept]
    assert len(parts) == len(kept) >= 1
    found = []
    for part in parts:
        m = REF.match(part)
        assert m and m.group(1) == m.group(3), part[:80]
        found.append(int(m.group(1)))
        assert is_subsequence(m.group(2).strip(), docs[int(m.group(1))].page_content)
    assert found == pc.last_result.context_order and 3 in found          # best first; the gold passage kept


class MiniLMEmbeddings(Embeddings):
    """LangChain embeddings from the bundled all-MiniLM-L6-v2."""

    def embed_documents(self, texts):
        return ranking.embed(texts).tolist()

    def embed_query(self, text):
        return ranking.embed([text])[0].tolist()


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_lingua_compressor_on_every_method(lm, nq_rows, method):
    docs = [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(passages(nq_rows, 3))]
    compressor = LinguaCompressor(method=method, rate=0.5, options=offline_options(method))
    out = compressor.compress_documents(docs, nq_rows[0]["question"])
    assert out and all(isinstance(d, Document) for d in out)
    for d in out:
        assert is_subsequence(d.page_content, docs[d.metadata["n"]].page_content)
    whole = sum(count_tokens(d.page_content) for d in docs)
    got = sum(count_tokens(d.page_content) for d in out)
    assert got <= 0.5 * whole * 1.1 + 15


def test_lingua_compressor_in_a_retriever_chain(lm, rag):
    docs, query = rag
    retriever = InMemoryVectorStore.from_documents(docs, MiniLMEmbeddings()).as_retriever(search_kwargs={"k": 6})
    compressor = LinguaCompressor(method="longllmlingua", target_token=250)
    chain = (RunnablePassthrough.assign(docs=lambda x: retriever.invoke(x["query"]))
             | RunnableLambda(lambda x: compressor.compress_documents(x["docs"], x["query"])))
    out = chain.invoke({"query": query})
    retrieved = retriever.invoke(query)
    assert {d.id for d in out} <= {d.id for d in retrieved}
    by_id = {d.id: d for d in docs}
    for d in out:
        assert d.metadata == by_id[d.id].metadata and is_subsequence(d.page_content, by_id[d.id].page_content)
    assert out[0].id == "doc-3"                                  # LongLLMLingua puts the gold passage first
    assert abs(sum(count_tokens(d.page_content) for d in out) / 250 - 1) <= 0.15   # joined with separators: 250
    assert compressor.compress_documents([], query) == []


def test_lingua_compressor_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="Unknown method"):
        LinguaCompressor(method="nope")


# -- LlamaIndex ----------------------------------------------------------------------------------------------
def nodes_of(texts):
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=t, id_=f"node-{i}", metadata={"n": i}), score=1.0 - i / 100)
            for i, t in enumerate(texts)]


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_lingua_postprocessor_on_every_method(lm, nq_rows, method):
    from llama_index.core.schema import QueryBundle

    nodes = nodes_of(passages(nq_rows, 3))
    pp = LinguaPostprocessor(method=method, rate=0.5, options=offline_options(method))
    out = pp.postprocess_nodes(nodes, query_bundle=QueryBundle(nq_rows[0]["question"]))
    assert out
    for n in out:
        original = nodes[n.node.metadata["n"]]
        assert n.node.node_id == original.node.node_id and n.score == original.score
        assert is_subsequence(n.node.get_content(), original.node.get_content())
    assert pp.postprocess_nodes([], query_str="q") == []


def test_lingua_postprocessor_in_a_query_engine(lm, nq_rows):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import QueryBundle

    class MiniLM(BaseEmbedding):
        def _get_query_embedding(self, query):
            return ranking.embed([query])[0].tolist()

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text):
            return ranking.embed([text])[0].tolist()

    nodes = [n.node for n in nodes_of(passages(nq_rows, 10))]
    index = VectorStoreIndex(nodes, embed_model=MiniLM())
    pp = LinguaPostprocessor(method="longllmlingua", target_token=200)
    engine = RetrieverQueryEngine.from_args(index.as_retriever(similarity_top_k=5), llm=MockLLM(),
                                            node_postprocessors=[pp])
    out = engine.retrieve(QueryBundle(nq_rows[3]["question"] + "?"))
    assert out and out[0].node.node_id == "node-3"
    assert all(n.node.metadata == {"n": int(n.node.node_id.split("-")[1])} for n in out)
    assert abs(sum(count_tokens(n.node.get_content()) for n in out) / 200 - 1) <= 0.15
