"""``workbench serve``: serve local models to testers and collect their feedback; ``serve keys``: testers' keys."""

from __future__ import annotations

import sys

KEY_ACTIONS = ("add", "remove", "list")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve local models to testers (OpenAI-compatible, streamed) and collect feedback",
                       description="workbench serve MODEL [MODEL ...] serves models; "
                                   "workbench serve keys add|remove|list [NAME] manages testers' keys")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="[NAME=]smollm2, a model or adapter folder, or a run folder (its trained model); "
                        "or 'keys add|remove|list [NAME]'")
    p.add_argument("--db", default="runs/feedback.sqlite", help="the project's feedback store (default %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="address (default loopback; another needs tester keys)")
    p.add_argument("--port", type=int, default=8000, help="port (default %(default)s; 0 picks a free one)")
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest request body in bytes (default 1 MiB)")
    p.add_argument("--rate-limit", type=int, default=60, help="requests per minute per tester (default %(default)s)")
    p.add_argument("--no-redact", action="store_true", help="log prompts and answers without PII redaction")
    p.add_argument("--quiet", action="store_true", help="do not log request lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.feedback.store import FeedbackStore

    store = FeedbackStore(args.db)
    if args.models[0] == "keys":
        return _keys(store, args.models[1:])
    from workbench.feedback.models import served_model
    from workbench.feedback.server import FeedbackServer

    models = dict(served_model(spec) for spec in args.models)
    server = FeedbackServer(store, models, host=args.host, port=args.port, max_body=args.max_body,
                            rate_limit=args.rate_limit, redact=not args.no_redact, verbose=not args.quiet)
    return server.run_until_interrupted(f"serving {', '.join(models)} on {server.url} (feedback in {store.path})")


def _keys(store, words: list[str]) -> int:
    from workbench.errors import WorkbenchError

    action, names = (words[0], words[1:]) if words else ("", [])
    if action not in KEY_ACTIONS or (action != "list" and len(names) != 1):
        raise WorkbenchError(f"serve keys {' '.join(words)}: expected 'add NAME', 'remove NAME' or 'list'")
    if action == "list":
        print("\n".join(store.testers()) or "(no testers)")
    elif action == "add":
        key = store.add_tester(names[0])
        print(f"key for {names[0]} (shown once; only its hash is stored in {store.path}):", file=sys.stderr)
        print(key)
    elif not store.remove_tester(names[0]):
        raise WorkbenchError(f"no tester {names[0]!r} in {store.path}", hint="workbench serve keys list")
    return 0
