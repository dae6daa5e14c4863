"""``workbench estimate PATH``: tokens, epochs and cost of an OpenAI fine-tuning file."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("estimate", help="pre-flight token and cost estimate for an OpenAI chat fine-tuning JSONL file")
    p.add_argument("path", help="OpenAI chat JSONL file (one {\"messages\": [...]} per line)")
    p.add_argument("--model", help="base model (sets the price and the context limit)")
    p.add_argument("--epochs", type=int, help="epochs (default: OpenAI's heuristic for the number of examples)")
    p.add_argument("--max-tokens-per-example", type=int,
                   help="context limit; longer examples are truncated and billed at this length (default: the model's)")
    p.add_argument("--prices", help="JSON file of model -> USD per 1M training tokens (overrides the built-in table)")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.training import estimate as est

    prices = est.load_prices(args.prices) if args.prices else None
    result = est.estimate(est.read_conversations(args.path), model=args.model or est.DEFAULT_MODEL, epochs=args.epochs,
                          max_tokens_per_example=args.max_tokens_per_example, prices=prices)
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.summary())
    return 0
