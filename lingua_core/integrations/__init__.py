"""Adapters for frameworks people already build with: ``langchain.py`` (a LangChain ``BaseDocumentCompressor``)
and ``llama_index.py`` (a LlamaIndex ``BaseNodePostprocessor``). Each imports its framework when it is itself
imported, so ``lingua_core`` never needs either (``pip install -r requirements-integrations.txt``).

Both compress the retrieved texts as the contexts of one ``Request`` with the query as its question
(``shared.compress_texts``), and hand back one item per kept text, with that text's metadata, in the order
the method put them (best first for LongLLMLingua).
"""
