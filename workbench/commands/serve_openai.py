"""``workbench serve-openai``: an OpenAI-compatible server whose fine-tuning jobs train locally."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("serve-openai", help="serve an OpenAI-compatible API (files, fine-tuning, chat) on local models")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another address "
                   "needs --api-key-env)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument("--model-dir", action="append", required=True, metavar="[NAME=]FOLDER",
                   help="a base model folder (transformers) jobs may fine-tune; its model id is NAME or the folder "
                        "name; repeatable; 'smollm2' is the embedded model")
    p.add_argument("--data-dir", default="openai-server-data", help="where uploaded files and tuned models are kept")
    p.add_argument("--api-key-env", help="accept only the key in this environment variable (default: any key)")
    p.add_argument("--method", choices=("full", "lora"), default="full",
                   help="how jobs train: full fine-tuning or LoRA (merged into the served model); default full")
    p.add_argument("--train-options", default="{}", metavar="JSON",
                   help="more options of the local trainer for every job, e.g. '{\"max_length\": 1024}' "
                        "(see docs/training.md; epochs, batch size, seed and model come from each job)")
    p.add_argument("--test-faults", action="store_true",
                   help="serve /_workbench/faults to inject failures (for client tests only; never for testers)")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import os
    from pathlib import Path

    from workbench.errors import WorkbenchError
    from workbench.lm.embedded import resolve_model_path
    from workbench.openai_server import OpenAIServer

    models = {}
    for spec in args.model_dir:
        name, _, folder = spec.rpartition("=")
        path = Path(resolve_model_path(folder)).expanduser().resolve()
        if not (path / "config.json").exists():
            raise WorkbenchError(f"--model-dir {folder}: no transformers model (config.json) in {path}")
        models[name or Path(folder).name] = path
    try:
        training = {**json.loads(args.train_options), "method": args.method}
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"--train-options is not JSON: {exc}") from None
    from workbench.feedback.server import is_loopback

    if not is_loopback(args.host) and not args.api_key_env:
        raise WorkbenchError(f"refusing to listen on {args.host} without --api-key-env: any key would be accepted",
                             hint="set --api-key-env VAR (the key in that variable), or serve on 127.0.0.1")
    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise WorkbenchError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    server = OpenAIServer(Path(args.data_dir), models, host=args.host, port=args.port, api_key=key,
                          verbose=not args.quiet, training=training, test_faults=args.test_faults)
    return server.run_until_interrupted(f"OpenAI-compatible server on {server.url} (models: {', '.join(models)})")
