"""``LinguaCompressor``: a LangChain ``BaseDocumentCompressor`` over any registered method.

Drop it where LangChain takes a document compressor (``ContextualCompressionRetriever(base_compressor=...)``,
a ``DocumentCompressorPipeline``) or call ``compress_documents(documents, query)`` yourself. The retrieved
documents are the contexts of one compression with the query as its question; each kept document comes back
as a new ``Document`` with its compressed text and its own ``metadata`` and ``id``, in the method's order
(LongLLMLingua: best first). Its sibling ``llama_index.py`` does the same for LlamaIndex nodes.

    from lingua_core.integrations.langchain import LinguaCompressor
    compressor = LinguaCompressor(method="longllmlingua", target_token=300)
    docs = compressor.compress_documents(retriever.invoke(query), query)

Needs ``langchain-core`` (``requirements-integrations.txt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
except ImportError as exc:                      # pragma: no cover - depends on the environment
    raise ImportError("lingua_core.integrations.langchain needs langchain-core: "
                      "pip install -r requirements-integrations.txt") from exc
from pydantic import Field, field_validator

from ..methods import REGISTRY
from .shared import compress_texts


class LinguaCompressor(BaseDocumentCompressor):
    """Compress retrieved documents for a query with a lingua_core method."""

    method: str = "longllmlingua"          # registry name (lingua_core.REGISTRY)
    rate: float = 0.5                      # kept share of the documents' tokens; ignored if target_token > 0
    target_token: int = -1                 # budget for the returned documents in target-LLM tokens (-1: rate)
    instruction: str = ""                  # conditions the method; counted in the budget, not returned
    target_model: str = "gpt-4"            # whose tokenizer counts the budget
    options: dict[str, Any] = Field(default_factory=dict)   # the method's options, e.g. {"rank_method": "bm25"}
    model: str | None = None               # scorer: "bundled" (default: LINGUA_SCORER), a hub id or a folder

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"Unknown method {value!r}; choose one of: {', '.join(REGISTRY)}.")
        return value

    def compress_documents(self, documents: Sequence[Document], query: str, callbacks=None) -> Sequence[Document]:
        """The kept documents, compressed, with their metadata; [] for no documents."""
        if not documents:
            return []
        kept, _ = compress_texts([d.page_content for d in documents], query, method=self.method, rate=self.rate,
                                 target_token=self.target_token, instruction=self.instruction,
                                 target_model=self.target_model, options=self.options, model=self.model)
        return [Document(page_content=k.text, metadata=dict(documents[k.index].metadata),
                         id=getattr(documents[k.index], "id", None)) for k in kept]
