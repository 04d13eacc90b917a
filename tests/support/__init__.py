"""What the tests share besides ``conftest.py``'s fixtures: real local servers and small assertion helpers.

``app_server`` starts ``app.py`` in a subprocess; ``guarded_app`` runs it as a host would (a key, a loopback
backend) for the reliability tests; ``loopback`` is the base of the test HTTP servers ``fake_llm`` (an
OpenAI-compatible server that answers well, badly or not at all) and ``openai_gate`` (a key-checking proxy
in front of a real ``transformers serve``); ``load_driver`` simulates concurrent users; ``helpers`` holds
the in-order-subsequence checks and the offline options every method test uses.
"""
