"""``workbench validate PATH``: check every example, report problems by line, code and hint."""

from __future__ import annotations

import json

from workbench.commands.convert import add_format_options, parse_options

#: exit codes: clean (warnings allowed), errors in the data, file unreadable
EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a data file; report each problem with line, field, code and hint")
    p.add_argument("path", help="data file (JSONL, JSON, CSV, Parquet, ...)")
    p.add_argument("--format", help="format name (default: detected); `workbench plugins` lists readers")
    add_format_options(p)
    p.add_argument("--max-tokens", type=int, help="report examples longer than this many tokens")
    p.add_argument("--tokenizer", help="local tokenizer folder or 'smollm2' (default: a labelled approximation)")
    p.add_argument("--quarantine", help="also write the invalid rows with their reasons to this JSONL file")
    p.add_argument("--limit", type=int, default=50, help="problems to print in text mode (0: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.errors import WorkbenchError
    from workbench.io.loader import TableStream
    from workbench.io.validate import report

    try:  # streamed: no table is kept, so memory is bounded by a batch whatever the file's size
        stream = TableStream(args.path, format=args.format, quarantine_path=args.quarantine,
                             max_tokens=args.max_tokens, tokenizer=args.tokenizer, options=parse_options(args.option),
                             keep_quarantined=False, build_rows=False)
        for _ in stream:
            pass
        result = stream.result()
    except WorkbenchError as exc:
        if not args.json:
            raise
        print(json.dumps({"path": args.path, "error": str(exc), "hint": exc.hint}))
        return EXIT_UNREADABLE
    rep = report(result, args.path)
    if args.json:
        print(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        _print_text(rep, args.limit)
    return EXIT_INVALID if rep["errors"] else EXIT_OK


def _print_text(rep: dict, limit: int) -> None:
    shown = rep["problems"] if limit == 0 else rep["problems"][:limit]
    for p in shown:
        where = f"line {p['line']}" + (f" {p['field']}" if p["field"] else "")
        print(f"{where}: {p['severity']} {p['code']}: {p['message']}\n    hint: {p['hint']}")
    if len(shown) < len(rep["problems"]):
        print(f"... {len(rep['problems']) - len(shown)} more problems (use --limit 0 or --json)")
    counts = ", ".join(f"{code} {n}" for code, n in sorted(rep["by_code"].items(), key=lambda kv: -kv[1]))
    print(f"{rep['path']} ({rep['format']}): {rep['rows_read']} rows read, {rep['rows_valid']} valid, "
          f"{rep['rows_invalid']} invalid; {rep['errors']} errors, {rep['warnings']} warnings"
          + (f" ({counts})" if counts else ""))
