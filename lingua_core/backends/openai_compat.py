"""The HTTP backend: any server that speaks OpenAI's chat-completions API, through the ``openai`` client.

OpenAI itself, vLLM, Ollama, the llama.cpp server, Hugging Face inference providers and ``transformers
serve`` all qualify: give a base URL, a model name and (where the server wants one) an API key. Unlike
``local.py`` the model runs elsewhere, so a comparison sends both prompts at once (``concurrent = True``).

Answers stream; the server's reported usage is kept when it sends one. Requests time out, 429 and 5xx
answers are retried up to ``max_retries`` times with exponential backoff (honouring a short Retry-After),
and every failure becomes a ``BackendError`` that says what to do -- an answer that is not in the
chat-completions format (an HTML error page, JSON of another shape) included. The key lives in a
``Secret``: it is never in a repr, a message, a log line or a file, and server messages are scrubbed of it.
The host's key (``OPENAI_API_KEY``) goes only to the host's base URL (``LINGUA_BACKEND_URL``): a backend
pointed anywhere else sends the key it was given, or none. A backend whose URL a visitor typed carries an
``AddressPolicy`` (``addresses.py``): it connects only to a checked address (``pinned.py``), and its error
messages never repeat what such a server sent unless it is an API error in JSON -- no web page, no other
service's answer, nothing that is not valid HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from ..config import settings
from ..errors import BackendError, InvalidRequest
from ..secret import Secret
from .addresses import AddressPolicy
from .base import Backend, Usage, register

NO_KEY = "EMPTY"          # sent when no key is set: servers that need none ignore it (vLLM's convention)
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After is not waited for
CONNECT_TIMEOUT_S = 10.0  # connecting is quick or it is not happening
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")


def same_server(a: str, b: str) -> bool:
    """True when two base URLs name the same endpoint (scheme, host, port and path; case and a trailing
    slash aside). Userinfo never counts: ``https://api.openai.com@evil.example/v1`` is evil.example.

    >>> same_server("https://API.openai.com/v1/", "https://api.openai.com:443/v1")
    True
    >>> same_server("https://api.openai.com@evil.example/v1", "https://api.openai.com/v1")
    False
    """
    def norm(url: str) -> tuple:
        parts = urlsplit((url or "").strip())
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
        except ValueError:       # a port that is not a number
            return ("bad", url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")
    return norm(a) == norm(b)


def is_host_backend(url: str) -> bool:
    """True for the host's configured backend (``LINGUA_BACKEND_URL``), the one place its key may go."""
    return same_server(url, settings().backend_url)


def safe_url(url: str) -> str:
    """The URL without any user:password part, for messages.

    >>> safe_url("https://me:pw@example.com/v1"), safe_url("http://[::1]:8000/v1")
    ('https://example.com/v1', 'http://[::1]:8000/v1')
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_shape(url: str) -> None:
    """Raise ``InvalidRequest`` unless ``url`` is an http(s) URL with a host."""
    if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname:
        raise InvalidRequest(f"Backend URL {safe_url(url)!r} must look like "
                             "https://api.openai.com/v1 or http://localhost:8000/v1.")


@register
@dataclass
class OpenAICompatBackend(Backend):
    name: ClassVar[str] = "openai"
    label: ClassVar[str] = "OpenAI-compatible HTTP"
    concurrent: ClassVar[bool] = True

    base_url: str = field(default_factory=lambda: settings().backend_url)     # e.g. http://localhost:8000/v1
    model: str = field(default_factory=lambda: settings().backend_model)      # model name the server knows
    api_key: Secret | str = field(default_factory=Secret, repr=False, compare=False)  # "": OPENAI_API_KEY
    timeout_s: float = field(default_factory=lambda: settings().backend_timeout_s)  # per request; while
    #                                 streaming, the longest wait between two pieces (LINGUA_BACKEND_TIMEOUT_S)
    max_retries: int = 3            # retries of a 429 or 5xx answer
    backoff_s: float = 1.0          # first wait before a retry; doubles each time
    temperature: float | None = 0.0  # 0: as greedy as the server allows; None: the server's default
    address_policy: AddressPolicy | None = None  # set for a URL a visitor typed (form.backend_from): only
    #                                 checked addresses are reached; None: the program's or host's own URL

    def __post_init__(self):
        self.base_url = (self.base_url or "").strip().rstrip("/")
        self.model = (self.model or "").strip()
        check_shape(self.base_url)
        if not self.model:
            raise InvalidRequest("Name the model the backend should use (e.g. gpt-4o-mini, or the name vLLM / "
                                 "Ollama serves it under).")
        if self.timeout_s <= 0 or self.max_retries < 0:
            raise InvalidRequest("timeout_s must be above 0 and max_retries 0 or more.")
        key = self.api_key if isinstance(self.api_key, Secret) else Secret(self.api_key)
        if not key and is_host_backend(self.base_url):   # never the host's key to a URL someone else chose
            key = settings().openai_api_key
        self.api_key = key

    def describe(self) -> str:
        return f"{self.model} at {safe_url(self.base_url)}"

    def _deltas(self, prompt: str, max_new_tokens: int, usage: Usage) -> Iterator[str]:
        import openai

        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key.reveal() or NO_KEY, max_retries=0,
                               timeout=openai.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S,
                                                                                  self.timeout_s)),
                               http_client=self._http_client())
        chunks, kind = 0, ""
        try:
            stream = self._open(client, self._params(prompt, max_new_tokens))
            kind = stream.response.headers.get("content-type", "")
            with stream:
                for chunk in stream:
                    chunks += 1
                    yield from _chunk_text(chunk, usage)
        except openai.OpenAIError as exc:
            raise self._error(exc, client) from None  # no chaining: the cause carries the request
        except (ValueError, TypeError, AttributeError) as exc:   # JSON that is not JSON, or of another shape
            what = "events that are not JSON" if isinstance(exc, ValueError) else "events of another shape"
            raise self._garbled(kind, what) from None
        finally:
            client.close()
        if not chunks:           # an SSE parser skips a body that is not events: nothing came, not "no answer"
            raise self._garbled(kind, "no chat-completion events in the answer")

    def _http_client(self):
        """None (the ``openai`` client's own) for a trusted URL; a pinned client for one a visitor typed."""
        if self.address_policy is None:
            return None
        from .pinned import pinned_client

        return pinned_client(self.base_url, self.address_policy, safe_url(self.base_url))

    def _garbled(self, content_type: str, what: str) -> BackendError:
        return BackendError(
            f"The backend at {safe_url(self.base_url)} answered, but not in the OpenAI chat-completions format "
            f"({what}; content-type {media_type(content_type)!r}). Check that the base URL points at "
            "an OpenAI-compatible API (it usually ends in /v1) and not at a web page or a proxy's error page.")

    def _params(self, prompt: str, max_new_tokens: int) -> dict:
        params = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "stream": True,
                  "stream_options": {"include_usage": True}, "max_tokens": max_new_tokens}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _open(self, client, params: dict):
        """Send the request: retry 429/5xx with backoff, adapt to servers that refuse an optional field."""
        import openai

        retries = 0
        while True:
            try:
                return client.chat.completions.create(**params)
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                if retries >= self.max_retries:
                    raise self._error(exc, client, tries=retries + 1) from None
                time.sleep(self._wait(retries, exc))
                retries += 1
            except openai.BadRequestError as exc:
                relaxed = relax(params, _detail(exc, ""))
                if relaxed is None:
                    raise
                params = relaxed

    def _wait(self, retries: int, exc) -> float:
        """Exponential backoff, or the server's Retry-After when that is given and short."""
        wait = self.backoff_s * 2 ** retries
        try:
            asked = float(exc.response.headers.get("retry-after", ""))
        except (AttributeError, ValueError):
            return wait
        return asked if 0 <= asked <= MAX_RETRY_AFTER_S else wait

    def _error(self, exc, client, tries: int = 1) -> BackendError:
        """Turn an ``openai`` exception into a message that says what happened and what to do."""
        key, url = self.api_key.reveal(), safe_url(self.base_url)
        facts = {"where": f"The backend at {url}", "url": url, "model": self.model, "tries": tries,
                 "status": getattr(exc, "status_code", "?"), "timeout": self.timeout_s, "detail": _detail(exc, key),
                 "key_hint": _key_hint(bool(key), is_host_backend(self.base_url)),
                 "cause": _scrub(_cause(exc), key)}
        kind = next((cls for cls in type(exc).__mro__ if cls.__name__ in MESSAGES), None)
        name = kind.__name__ if kind else "OpenAIError"
        if name in {"NotFoundError", "BadRequestError"} and _about_model(facts["detail"], self.model):
            name, facts["models"] = "ModelNotFound", _served_models(client)
        return BackendError(MESSAGES[name].format(**facts))


MESSAGES = {  # by openai exception class name; an exception takes the entry nearest it in its class MRO
    "AuthenticationError": "{where} refused the API key (401 Unauthorized). {key_hint}",
    "PermissionDeniedError": "{where} says this key may not use model {model!r} (403). Use a key with access "
                             "to it, or pick another model.",
    "ModelNotFound": "{where} does not serve a model named {model!r} ({detail}). Check the model name{models}.",
    "NotFoundError": "{where} answered 404 Not Found: check the base URL (most servers want it to end in /v1) "
                     "and the model name {model!r}.",
    "BadRequestError": "{where} rejected the request (400): {detail}.",
    "UnprocessableEntityError": "{where} could not process the request (422): {detail}.",
    "RateLimitError": "{where} is rate-limiting requests (429) and still was after {tries} tries. Wait a "
                      "minute, or check the account's quota.",
    "InternalServerError": "{where} failed with a server error ({status}) on {tries} tries. Try again later, "
                           "or check the server's log.",
    "APIStatusError": "{where} answered HTTP {status}: {detail}.",
    "APITimeoutError": "{where} did not answer within {timeout:g} s. Raise the timeout, shorten the prompt, "
                       "or check that the server is not overloaded.",
    "APIConnectionError": "Cannot reach the backend at {url} ({cause}). Check the URL and that the server is running.",
    "OpenAIError": "The OpenAI client failed: {detail}.",
}

_RELAX = (  # (words in a 400 message, how to change the request); for servers that refuse optional fields
    (("max_tokens", "max_completion_tokens"), lambda p: {**{k: v for k, v in p.items() if k != "max_tokens"},
                                                         "max_completion_tokens": p["max_tokens"]}),
    (("temperature",), lambda p: {k: v for k, v in p.items() if k != "temperature"}),
    (("stream_options",), lambda p: {k: v for k, v in p.items() if k != "stream_options"}),
)


def relax(params: dict, detail: str) -> dict | None:
    """The request without the field a 400 answer complains about, or None when nothing can be relaxed.

    >>> relax({"max_tokens": 5}, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens'.")
    {'max_completion_tokens': 5}
    >>> relax({"max_tokens": 5}, "messages must not be empty") is None
    True
    """
    for words, change in _RELAX:
        if words[0] in detail and words[0] in params:
            return change(params)
    return None


def _chunk_text(chunk, usage: Usage) -> Iterator[str]:
    """The text pieces of one streamed chunk; its usage, when it carries one, goes into ``usage``."""
    if getattr(chunk, "usage", None) is not None:
        usage.prompt_tokens = int(chunk.usage.prompt_tokens)
        usage.output_tokens = int(chunk.usage.completion_tokens)
    for choice in chunk.choices or ():
        content = choice.delta.content if choice.delta is not None else None
        if content:
            if not isinstance(content, str):
                raise TypeError("answer text that is not text")
            yield content


def _key_hint(has_key: bool, host_backend: bool) -> str:
    """What to do about a refused or missing key; the host's key is an option only at the host's URL."""
    if has_key:
        return ("Check the key (OPENAI_API_KEY or the key field)." if host_backend else
                "Check the key in the key field.")
    if host_backend:
        return "No key was given: set OPENAI_API_KEY or type one in the key field."
    return ("No key was given: type this server's key in the key field (the host's OPENAI_API_KEY is sent "
            "only to its own backend, LINGUA_BACKEND_URL).")


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def media_type(content_type: str) -> str:
    """The media type of a content-type header; "none" when there is none that looks like one.

    >>> media_type("text/html; charset=utf-8"), media_type(""), media_type("<b>see this</b>")
    ('text/html', 'none', 'none')
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind if len(kind) <= 80 and _MEDIA_TYPE.fullmatch(kind) else "none"


def _detail(exc, key: str) -> str:
    """The server's own explanation when it sent one as an API error in JSON (``{"error": {"message": ...}}``,
    a top-level ``message`` or ``detail``), short and without the key. Any other answer body -- a web page,
    JSON of another shape, another service's reply -- is described by its media type, never repeated.

    >>> class ApiError: body, response = {"error": {"message": "The model 'x' does not exist"}}, None
    >>> class Page: body, response, message = "<html>secret</html>", None, "Error code: 418 - <html>secret</html>"
    >>> _detail(ApiError(), ""), _detail(Page(), "")
    ("The model 'x' does not exist", "an answer that is not an API error (content-type 'none')")
    """
    body = getattr(exc, "body", None)
    text = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        text = inner.get("message") or inner.get("detail")
    if not isinstance(text, str) or not text.strip():
        if not hasattr(exc, "response") and not body:   # the client's own failure, not the server's answer
            text = str(getattr(exc, "message", "") or type(exc).__name__)
        else:
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            kind = media_type(headers.get("content-type", ""))
            return f"an answer that is not an API error (content-type {kind!r})"
    return _scrub(" ".join(text.split()), key)[:300].rstrip(". ")


def _cause(exc) -> str:
    """Why a connection failed, in the network library's words -- unless its words would quote the server
    (an answer that is not HTTP: a banner of another service, say)."""
    import httpx2

    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return "no connection"
    if isinstance(cause, httpx2.ProtocolError):
        return "its answer is not valid HTTP"
    return " ".join(str(cause).split())[:200] or type(cause).__name__


def _about_model(detail: str, model: str) -> bool:
    low = detail.lower()
    return model.lower() in low or "model_not_found" in low or "does not exist" in low


def _served_models(client) -> str:
    """", models it serves: a, b" when the server lists them quickly, else ""."""
    import openai

    try:
        ids = [m.id for m in client.models.list(timeout=5.0) if isinstance(getattr(m, "id", None), str)][:8]
    except (openai.OpenAIError, ValueError, TypeError, AttributeError):
        return ""
    return f"; models it serves: {', '.join(ids)}" if ids else ""
