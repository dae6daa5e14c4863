"""``workbench convert IN OUT``: read any supported format, write another; invalid rows go to a quarantine file."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_format_options(p) -> None:
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="reader option, e.g. -o prompt=question -o response=answer for CSV (repeatable)")


def parse_options(pairs: list[str]) -> dict[str, str] | None:
    """``["prompt=question"]`` -> ``{"prompt": "question"}``; a clear error for a malformed pair."""
    from workbench.errors import WorkbenchError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise WorkbenchError(f"option {pair!r} is not KEY=VALUE", hint="e.g. -o prompt=question")
        options[key.strip()] = value
    return options or None


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a data file to another format (chat JSONL, Alpaca, CSV, Parquet, ...)")
    p.add_argument("input", help="file to read")
    p.add_argument("output", help="file to write")
    p.add_argument("--from", dest="from_format", help="input format (default: detected)")
    p.add_argument("--to", dest="to_format", help="output format (default: from the output extension)")
    add_format_options(p)
    p.add_argument("--quarantine", help="where invalid rows go (default: OUTPUT.quarantine.jsonl when there are any)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.io import write_frames
    from workbench.io.loader import TableStream

    out = Path(args.output)
    quarantine = Path(args.quarantine) if args.quarantine else out.with_name(out.name + ".quarantine.jsonl")
    stream = TableStream(args.input, format=args.from_format, quarantine_path=quarantine,
                         options=parse_options(args.option), keep_quarantined=False)
    written = write_frames(stream, out, format=args.to_format)  # batch by batch where the writer allows it
    result = stream.result()
    if not result.rows_quarantined and not args.quarantine:
        quarantine.unlink(missing_ok=True)
    summary = {"input": args.input, "from": result.format, "output": str(out), "to": written,
               "rows_read": result.rows_read, "rows_written": result.rows_valid,
               "rows_quarantined": result.rows_quarantined,
               "quarantine": str(quarantine) if result.rows_quarantined else None}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{result.rows_read} rows read ({result.format}), {result.rows_valid} written to {out} ({written})"
              + (f", {result.rows_quarantined} invalid rows in {quarantine}" if result.rows_quarantined else ""),
              file=sys.stderr)
    return 0
