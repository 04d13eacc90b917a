"""Settings read from the environment: the only module that touches ``os.environ``.

Every variable is optional. Each entry below says what it does and what happens when it is unset.

    LINGUA_SCORER        Scorer model: "bundled" (default), a hub id such as
                         "HuggingFaceTB/SmolLM2-135M-Instruct", or a local folder.
    LINGUA_ALLOWED_SCORERS  Comma-separated allow-list the app's scorer picker offers
                         (default: bundled, HuggingFaceTB/SmolLM2-135M-Instruct, gpt2,
                         Qwen/Qwen2.5-0.5B). The library itself accepts any name.
    LINGUA_DEVICE        "cuda", "cpu" or "auto" (default auto: CUDA when present).
    LINGUA_SCORER_DTYPE  How a causal scorer runs on the CPU: "float32" (default), "int8" (torch dynamic
                         quantization of the Linear layers, lm_head kept float32) or "bfloat16". Faster
                         settings change the scores a little; docs/benchmarks.md has the speed-up and the
                         agreement with float32. On a GPU the scorer runs in bfloat16 whatever this says.
    LINGUA_CACHE_DIR     Where the converted bundled model is kept
                         (default: ~/.cache/lingua_core).
    LINGUA_TRUST_REMOTE_CODE  "1" to let hub models run their own code (default off).
    LINGUA_TARGET_MODEL  Target LLM whose tokenizer counts the budget (default gpt-4).
    LINGUA_MAX_INPUT_CHARS  Largest prompt accepted, in characters (default 120000).
    LINGUA_LOG_PROMPTS   "1" lets the app log users' prompts (default off).
    LINGUA_BACKEND_URL   Base URL of the OpenAI-compatible backend (default https://api.openai.com/v1;
                         e.g. http://localhost:11434/v1 for Ollama, http://localhost:8000/v1 for vLLM).
    LINGUA_BACKEND_MODEL Model name sent to that backend (default gpt-4o-mini).
    LINGUA_BACKEND_TIMEOUT_S  Seconds an HTTP backend may stay silent before its answer fails with a
                         "did not answer within" message (default 60).
    HF_HUB_OFFLINE       Read, never set: when "1", a hub model that is not in the local hub cache
                         cannot be downloaded, and the load error says so.
    OPENAI_API_KEY       Key for that backend (default none: the app's password field, or servers that
                         need no key). Held in a ``Secret``: never logged, shown or written, and sent
                         only to LINGUA_BACKEND_URL -- a base URL typed by a visitor gets the visitor's
                         key or none, never the host's.
    SPACE_ID             Read, never set: Hugging Face sets it on every Space. When set, the app runs in
                         public-host mode (below) unless LINGUA_PUBLIC=0.
    LINGUA_PUBLIC        "1": public-host mode wherever the app runs; "0": local mode even on a Space
                         (default: public-host mode exactly when SPACE_ID is set). Public-host mode changes
                         the next two defaults, and the footer says which mode the app runs in.
    LINGUA_ALLOW_CUSTOM_BACKEND  "0" hides the app's base-URL field and refuses any backend URL other than
                         LINGUA_BACKEND_URL; "1" lets visitors type one. Default: off in public-host mode
                         (the server sends prompts only where the host chose), on in local mode.
    LINGUA_ALLOW_PRIVATE_BACKEND  "1": a typed backend URL may lead to any address. Default: only public
                         internet addresses in public-host mode; public ones and loopback (this machine:
                         Ollama's http://localhost:11434/v1) in local mode -- never private-network,
                         link-local (cloud metadata) or other non-public ones. "0": public addresses only,
                         in either mode. See ``backends/addresses.py``; the host's own LINGUA_BACKEND_URL
                         is never checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .secret import Secret

DEFAULT_ALLOWED = ("bundled", "HuggingFaceTB/SmolLM2-135M-Instruct", "gpt2", "Qwen/Qwen2.5-0.5B")
DEFAULT_BACKEND_URL = "https://api.openai.com/v1"
DEFAULT_BACKEND_MODEL = "gpt-4o-mini"
SCORER_DTYPES = ("float32", "int8", "bfloat16")   # LINGUA_SCORER_DTYPE's choices, the default first


def _flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; unset it or give e.g. {default}.") from None


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """The variable's value when it is one of ``choices`` (unset: the first); anything else says what to type.

    >>> _choice("LINGUA_UNSET_EXAMPLE", ("float32", "int8"))
    'float32'
    """
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ValueError(f"{name}={raw!r} is not a choice; unset it or use one of: {', '.join(choices)}.")
    return raw


@dataclass(frozen=True)
class Settings:
    scorer: str = "bundled"                       # default scorer model name
    allowed_scorers: tuple[str, ...] = DEFAULT_ALLOWED  # what the app's picker offers
    device: str = "auto"                          # auto | cpu | cuda
    scorer_dtype: str = "float32"                 # float32 | int8 | bfloat16: the causal scorer on the CPU
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "lingua_core")
    trust_remote_code: bool = False               # never on unless asked for
    target_model: str = "gpt-4"                   # tokenizer (and price) the budget is counted in
    max_input_chars: int = 120_000                # inputs above this are refused before model work
    log_prompts: bool = False                     # users' prompts are not logged unless on
    backend_url: str = DEFAULT_BACKEND_URL        # OpenAI-compatible backend's base URL
    backend_model: str = DEFAULT_BACKEND_MODEL    # model name sent to that backend
    openai_api_key: Secret = field(default_factory=Secret, repr=False)  # masked; reveal() only to send
    public_host: bool = False                     # public-host mode: SPACE_ID set, or LINGUA_PUBLIC=1
    allow_custom_backend: bool = True             # visitors may point the downstream panel at their own server
    allow_loopback_backend: bool = True           # a typed backend URL may lead to this machine (local default)
    allow_private_backend: bool = False           # a typed backend URL may lead to any address (host opted in)
    backend_timeout_s: float = 60.0               # an HTTP backend's longest silence
    hub_offline: bool = False                     # HF_HUB_OFFLINE is on: no downloads from the hub


def settings() -> Settings:
    """Read the environment now (cheap; call it where a value is needed)."""
    env = os.environ
    allowed = tuple(s.strip() for s in env.get("LINGUA_ALLOWED_SCORERS", "").split(",") if s.strip())
    cache = env.get("LINGUA_CACHE_DIR", "").strip()
    public = _flag("LINGUA_PUBLIC", default=bool(env.get("SPACE_ID", "").strip()))
    private_raw = env.get("LINGUA_ALLOW_PRIVATE_BACKEND", "").strip()
    allow_private = _flag("LINGUA_ALLOW_PRIVATE_BACKEND")
    return Settings(
        scorer=env.get("LINGUA_SCORER", "").strip() or "bundled",
        allowed_scorers=allowed or DEFAULT_ALLOWED,
        device=(env.get("LINGUA_DEVICE", "").strip() or "auto").lower(),
        scorer_dtype=_choice("LINGUA_SCORER_DTYPE", SCORER_DTYPES),
        cache_dir=Path(cache).expanduser() if cache else Path.home() / ".cache" / "lingua_core",
        trust_remote_code=_flag("LINGUA_TRUST_REMOTE_CODE"),
        target_model=env.get("LINGUA_TARGET_MODEL", "").strip() or "gpt-4",
        max_input_chars=_int("LINGUA_MAX_INPUT_CHARS", 120_000),
        log_prompts=_flag("LINGUA_LOG_PROMPTS"),
        backend_url=env.get("LINGUA_BACKEND_URL", "").strip() or DEFAULT_BACKEND_URL,
        backend_model=env.get("LINGUA_BACKEND_MODEL", "").strip() or DEFAULT_BACKEND_MODEL,
        openai_api_key=Secret(env.get("OPENAI_API_KEY")),
        public_host=public,
        allow_custom_backend=_flag("LINGUA_ALLOW_CUSTOM_BACKEND", default=not public),
        allow_loopback_backend=allow_private or (not public and not private_raw),
        allow_private_backend=allow_private,
        backend_timeout_s=float(_int("LINGUA_BACKEND_TIMEOUT_S", 60)),
        hub_offline=_flag("HF_HUB_OFFLINE"),
    )
