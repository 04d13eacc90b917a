"""``LinguaPostprocessor``: a LlamaIndex ``BaseNodePostprocessor`` over any registered method.

Give it to a query engine (``index.as_query_engine(node_postprocessors=[LinguaPostprocessor(...)])``,
``RetrieverQueryEngine(..., node_postprocessors=[...])``) or call ``postprocess_nodes(nodes,
query_bundle=QueryBundle(query))``. The retrieved nodes' texts are the contexts of one compression with the
query as its question; each kept node comes back as a copy of itself (same id, metadata, relationships and
score) holding its compressed text, in the method's order (LongLLMLingua: best first). Unlike LlamaIndex's
``LongLLMLinguaPostprocessor``, which returns bare text nodes cut from the joined prompt, nothing about a
node but its text changes. Its sibling ``langchain.py`` does the same for LangChain documents.

Needs ``llama-index-core`` (``requirements-integrations.txt``).
"""

from __future__ import annotations

from typing import Any

try:
    from llama_index.core.bridge.pydantic import Field
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:                      # pragma: no cover - depends on the environment
    raise ImportError("lingua_core.integrations.llama_index needs llama-index-core: "
                      "pip install -r requirements-integrations.txt") from exc

from ..methods import REGISTRY
from .shared import compress_texts


class LinguaPostprocessor(BaseNodePostprocessor):
    """Compress retrieved nodes for the query with a lingua_core method."""

    method: str = Field(default="longllmlingua", description="registry name (lingua_core.REGISTRY)")
    rate: float = Field(default=0.5, description="kept share of the nodes' tokens; ignored if target_token > 0")
    target_token: int = Field(default=-1, description="budget for the returned texts, target-LLM tokens (-1: rate)")
    instruction: str = Field(default="", description="conditions the method; counted in the budget, not returned")
    target_model: str = Field(default="gpt-4", description="whose tokenizer counts the budget")
    options: dict[str, Any] = Field(default_factory=dict, description="the method's options")
    model: str | None = Field(default=None, description="scorer: 'bundled', a hub id or a folder")
    metadata_mode: MetadataMode = Field(default=MetadataMode.NONE, description="what of a node is compressed")

    def __init__(self, **data: Any):
        super().__init__(**data)
        if self.method not in REGISTRY:
            raise ValueError(f"Unknown method {self.method!r}; choose one of: {', '.join(REGISTRY)}.")

    @classmethod
    def class_name(cls) -> str:
        return "LinguaPostprocessor"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle is not None else ""
        texts = [n.node.get_content(metadata_mode=self.metadata_mode) for n in nodes]
        kept, _ = compress_texts(texts, query, method=self.method, rate=self.rate, target_token=self.target_token,
                                 instruction=self.instruction, target_model=self.target_model,
                                 options=self.options, model=self.model)
        out = []
        for k in kept:
            node = nodes[k.index].node.model_copy(deep=True)
            node.set_content(k.text)
            out.append(NodeWithScore(node=node, score=nodes[k.index].score))
        return out
