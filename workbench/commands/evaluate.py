"""``workbench evaluate DATA --model REF [--model REF ...]``: evaluate models on a data file.

A thin front over the ``evaluate`` step: it writes a run (``load`` the file,
``evaluate`` every model, optionally ``report``) into the runs folder, so the
result is a run like any other and ``workbench report NAME`` works on it.
DATA is a held-out file in any supported format or a scenarios suite file
(rows with ``expected_behavior``); by default every row of it is evaluated.
The first model is the base every other model is compared with.
"""

from __future__ import annotations

import re
from pathlib import Path


def register(sub) -> None:
    from workbench.commands.run import add_run_arguments

    p = sub.add_parser("evaluate", help="evaluate one or more models on a data file (writes a run; then `workbench report`)")
    p.add_argument("data", help="held-out conversations or a scenarios suite file (any supported format)")
    p.add_argument("--model", action="append", default=[], metavar="REF",
                   help="model: smollm2, a local folder (model or adapter), a .gguf, openai:<model>; repeatable, "
                        "the first is the base")
    p.add_argument("--tuned", metavar="REF",
                   help="the tuned model, named 'tuned' and compared with the base (e.g. a run's "
                        "steps/NN-train-*/model); the --model list after the base adds more models")
    p.add_argument("--answers", action="append", default=[], metavar="NAME=FILE",
                   help="score saved answers as model NAME: a JSONL file of id and answer, or column:<COLUMN> of "
                        "DATA; repeatable (without --model the first is the base; turns the forgetting probe off)")
    p.add_argument("--metric-options", metavar="JSON",
                   help='options per metric as JSON, e.g. \'{"judge": {"rubric": "..."}}\' '
                        "(`workbench plugins --options --json` lists them)")
    p.add_argument("--name", help="run name (default: eval-<data file name>)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for openai: models")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--splits", nargs="+", default=["*"], help="splits to evaluate (default: every row of the file)")
    p.add_argument("--max-examples", type=int, help="evaluate at most this many rows")
    p.add_argument("--max-new-tokens", type=int, default=128, help="tokens generated per answer at most")
    p.add_argument("--batch-size", type=int, default=16, help="prompts generated together (local models)")
    p.add_argument("--metrics", help="comma-separated metric names (default: all but judge)")
    p.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of the significance tests")
    p.add_argument("--no-forgetting", action="store_true", help="skip the forgetting probe set")
    p.add_argument("--bias", action="store_true",
                   help="counterfactual bias analysis of the probe rows (required); prints per model and attribute "
                        "gap, ci_low, ci_high, p_value and the amplified list as JSON")
    p.add_argument("--report", action="store_true", help="also write the report (runs/<name>/steps/..-report)")
    add_run_arguments(p)
    p.set_defaults(func=run)


def run_name(args) -> str:
    return args.name or "eval-" + re.sub(r"[^A-Za-z0-9_.\-]+", "-", Path(args.data).stem).strip("-.")


def metric_options(text: str) -> dict:
    """``--metric-options`` JSON: an object of metric name -> options object."""
    import json

    from workbench.errors import WorkbenchError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"--metric-options is not JSON: {exc.msg} at character {exc.pos}",
                             hint='e.g. --metric-options \'{"judge": {"rubric": "..."}}\'') from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise WorkbenchError("--metric-options must be an object of metric name -> options object",
                             hint='e.g. --metric-options \'{"exact_match": {"normalise": false}}\'')
    return value


def runfile_data(args) -> dict:
    """The run file the command executes (also what a user could save and re-run)."""
    data = Path(args.data).resolve()
    name = run_name(args)
    answers = dict(getattr(args, "answer_files", {}))
    base = args.model[0] if args.model else f"answers:{answers.pop(next(iter(answers)))}"
    evaluate = {"base_model": base, "extra_models": list(args.model[1:]), "splits": args.splits,
                "decode": {"max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size},
                "bootstrap_resamples": args.resamples, "forgetting_probe": not args.no_forgetting,
                "api_key_env": args.api_key_env}
    if args.tuned:
        evaluate["tuned_model"] = args.tuned
    if args.base_url:
        evaluate["base_url"] = args.base_url
    if args.max_examples:
        evaluate["max_examples"] = args.max_examples
    if args.bias:
        evaluate["bias"] = True
    if args.metrics:
        evaluate["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if answers:
        evaluate["answers"] = answers
    if getattr(args, "answer_files", None):
        evaluate["forgetting_probe"] = False  # saved answers do not answer the probe set
    if args.metric_options:
        evaluate["metric_options"] = metric_options(args.metric_options)
    steps = [{"kind": "load", "options": {"path": str(data)}}, {"kind": "evaluate", "options": evaluate}]
    if args.report:
        steps.append({"kind": "report"})
    return {"run": {"name": name, "seed": args.seed, "description": f"workbench evaluate {data.name}"}, "steps": steps}


def run(args) -> int:
    from workbench.commands.run import execute_and_report
    from workbench.errors import WorkbenchError
    from workbench.runtime.runfile import parse_runfile

    if not args.model and not args.answers:
        raise WorkbenchError("nothing to evaluate", hint="give --model REF or --answers NAME=FILE")
    for ref in [*args.model, *([args.tuned] if args.tuned else [])]:
        if not ref.startswith("openai:") and ref != "smollm2" and not Path(ref).exists():
            raise WorkbenchError(f"model {ref!r} not found", hint="give smollm2, a local folder, a .gguf or openai:<model>")
    if not Path(args.data).exists():
        raise WorkbenchError(f"data file {args.data} not found")
    if args.answers:
        from workbench.evaluation.saved_answers import answer_files
        from workbench.runtime import store

        folder = store.runs_root(args.runs_dir) / run_name(args) / "answers"
        args.answer_files = answer_files(args.answers, Path(args.data).resolve(), folder)
    outcome = execute_and_report(parse_runfile(runfile_data(args), base_dir=Path.cwd(), source="workbench evaluate"), args)
    if args.bias:
        print_bias(outcome.artifacts["evaluate.results"])
    return 0


def print_bias(results_path: str) -> None:
    """The bias summary of the evaluation (``results.json`` key ``bias``) as one JSON object on stdout."""
    import json

    from workbench.evaluation.bias import summary
    from workbench.runtime import store

    print(json.dumps({"bias": summary(store.read_json(Path(results_path))["bias"])}, indent=2))
