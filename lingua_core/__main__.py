"""Command line: ``python -m lingua_core compress [FILE]`` prints a compression as JSON;
``python -m lingua_core batch IN OUT`` compresses every prompt of a JSONL/CSV file (see ``batch.py``; with
``--engine ray [--num-workers N]`` on Ray Data, ``integrations/ray_data.py``).

The prompt comes from FILE or stdin and is split into contexts at ``--context-sep`` (a blank line by default;
``--no-split`` keeps it whole). The JSON holds llmlingua's keys (compressed_prompt, origin_tokens,
compressed_tokens, ratio, rate, saving), the plain numbers (``Result.as_dict``: ratio_value, rate_value,
target_met, stages, pieces, ...; null where a number is not finite), and with ``--tokens`` every token of
the original with its span, score and kept flag.

    python -m lingua_core compress prompt.txt --target-token 200 --question "Question: ..." --tokens
    echo "..." | python -m lingua_core compress --rate 0.25 --method llmlingua --option iterative_size=100
"""

from __future__ import annotations

import argparse
import json
import sys

from .compat import as_llmlingua
from .compress import compress, validate
from .errors import InvalidRequest, LinguaError
from .loading import load_model
from .methods import REGISTRY
from .result import Request, Result


def parse_option(text: str) -> tuple[str, object]:
    """``key=value`` with a JSON value when it parses, else the raw string (never eval).

    >>> parse_option("iterative_size=100"), parse_option("rank=sort"), parse_option("force_tokens=[\\"\\\\n\\"]")
    (('iterative_size', 100), ('rank', 'sort'), ('force_tokens', ['\\n']))
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--option wants key=value, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        return key.strip(), raw


def result_json(result: Result, with_tokens: bool) -> dict:
    """llmlingua's keys (``ratio`` "4.1x", ``rate`` "24.3%", ``saving``), then ``Result.as_dict``'s plain data,
    whose numeric ratio and rate are renamed ``ratio_value`` and ``rate_value`` beside llmlingua's strings."""
    plain = result.as_dict(with_tokens)
    plain["ratio_value"], plain["rate_value"] = plain.pop("ratio"), plain.pop("rate")
    return {**as_llmlingua(result), **plain}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lingua_core", description="Prompt compression, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compress", help="compress a prompt and print JSON")
    c.add_argument("file", nargs="?", default="-", help="prompt file (default: stdin)")
    c.add_argument("--instruction", default="")
    c.add_argument("--question", default="")
    c.add_argument("--rate", type=float, default=0.5, help="kept fraction, e.g. 0.25 for 4x")
    c.add_argument("--target-token", type=int, default=-1, help="budget in target-LLM tokens (overrides --rate)")
    c.add_argument("--method", default="llmlingua", choices=sorted(REGISTRY))
    c.add_argument("--model", default=None, help="scorer: 'bundled' (default), a hub id or a folder")
    c.add_argument("--target-model", default="gpt-4", help="whose tokenizer counts the budget")
    c.add_argument("--context-sep", default="\n\n", help="separator between contexts")
    c.add_argument("--no-split", action="store_true", help="treat the whole prompt as one context")
    c.add_argument("--option", action="append", type=parse_option, default=[], help="method option key=value")
    c.add_argument("--tokens", action="store_true", help="include every token with span, score and kept flag")
    add_batch_parser(sub)
    return parser


def add_batch_parser(sub) -> None:
    b = sub.add_parser("batch", help="compress every prompt of a JSONL/CSV file with one setting")
    b.add_argument("input", help="JSONL/CSV with a 'prompt' column (optional: instruction, question, answers)")
    b.add_argument("output", help="where to write the results (.jsonl or .csv)")
    b.add_argument("--rate", type=float, default=0.5, help="kept fraction, e.g. 0.25 for 4x")
    b.add_argument("--target-token", type=int, default=-1, help="budget per prompt in target-LLM tokens")
    b.add_argument("--method", default="llmlingua", choices=sorted(REGISTRY))
    b.add_argument("--model", default=None, help="scorer: 'bundled' (default), a hub id or a folder")
    b.add_argument("--target-model", default="gpt-4", help="whose tokenizer counts the budget")
    b.add_argument("--price-model", default=None, help="whose prices the costs use (default: --target-model)")
    b.add_argument("--context-sep", default="\n\n", help="separator between contexts")
    b.add_argument("--no-split", action="store_true", help="treat each prompt as one context")
    b.add_argument("--option", action="append", type=parse_option, default=[], help="method option key=value")
    b.add_argument("--backend", default=None, help="answer each compressed prompt with this backend (e.g. local)")
    b.add_argument("--backend-option", action="append", type=parse_option, default=[], help="backend key=value")
    b.add_argument("--max-new-tokens", type=int, default=256, help="answer length limit with --backend")
    b.add_argument("--answer-original", action="store_true", help="with --backend, also answer the original")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data actors (see lingua_core/integrations/ray_data.py, docs/ray.md)")
    b.add_argument("--num-workers", type=int, default=2, help="with --engine ray: actors, each loading the scorer")
    b.add_argument("--ray-address", default=None,
                   help="with --engine ray: a cluster to join (e.g. ray://head:10001, auto); default: start a local one")
    b.set_defaults(handler=batch_command)


def batch_command(args) -> int:
    from .backends import get_backend
    from .batch import BatchSettings, check_format, compress_rows, read_rows, write_rows
    from .sweep import backend_answerer

    settings = BatchSettings(method=args.method, rate=args.rate, target_token=args.target_token,
                             target_model=args.target_model, options=dict(args.option) or None,
                             context_sep=args.context_sep, split=not args.no_split, price_model=args.price_model,
                             answer_original=args.answer_original)
    try:
        check_format(args.output)
        rows = read_rows(args.input)
        if args.engine == "ray":
            out = ray_batch(args, rows, settings)
        else:
            answer = (backend_answerer(get_backend(args.backend, **dict(args.backend_option)), args.max_new_tokens,
                                       args.target_model) if args.backend else None)
            done = compress_rows(rows, settings, load_model(args.model), answer,
                                 progress=lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr, flush=True))
            out = list(done)
        write_rows(out, args.output)
    except LinguaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = sum(bool(r["error"]) for r in out)
    print(f"\nwrote {len(out)} rows to {args.output} ({failed} with an error)", file=sys.stderr)
    return 0


def ray_batch(args, rows: list[dict], settings) -> list[dict]:
    """The batch on Ray Data (``ray_data.compress_rows``), or an error saying how to install Ray."""
    try:
        import ray  # noqa: F401

        from .integrations.ray_data import compress_rows as ray_rows
    except ImportError:
        raise InvalidRequest("--engine ray needs Ray: pip install 'ray[data]' (requirements-integrations.txt).") \
            from None
    if args.num_workers < 1:
        raise InvalidRequest("--num-workers must be at least 1.")
    backend = ({"name": args.backend, "options": dict(args.backend_option), "max_new_tokens": args.max_new_tokens}
               if args.backend else None)
    return ray_rows(rows, settings, model=args.model, num_workers=args.num_workers, backend=backend,
                    address=args.ray_address)


def read_prompt(path: str) -> str:
    """The prompt from ``path`` ("-": stdin), or an ``InvalidRequest`` that says what is wrong with the file."""
    try:
        return sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        raise InvalidRequest(f"{path} is not UTF-8 text; convert it (e.g. iconv -t utf-8) or pipe it in.") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {path}: {exc.strerror or exc}. Give a readable text file, or - "
                             "(the default) to read stdin.") from None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None):
        return args.handler(args)
    try:
        text = read_prompt(args.file)
        if not (text.strip() or args.instruction.strip() or args.question.strip()):
            raise InvalidRequest("Nothing to compress: the prompt is empty. Give a file or pipe text in.")
        if not args.context_sep and not args.no_split:
            raise InvalidRequest("--context-sep is empty: give one (e.g. a blank line, the default) or use --no-split.")
        context = [text] if args.no_split else text.split(args.context_sep)
        request = Request(context=context, instruction=args.instruction, question=args.question, rate=args.rate,
                          target_token=args.target_token, target_model=args.target_model, method=args.method,
                          context_sep=args.context_sep, options=dict(args.option) or None)
        validate(request)   # refuse bad input before any model work
        result = compress(request, load_model(args.model))
    except LinguaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result_json(result, args.tokens), sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
