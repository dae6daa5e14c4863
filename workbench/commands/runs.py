"""``workbench runs``: list runs, show one, inspect its ledger, restore rows."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("runs", help="list runs; `runs show ID`, `runs ledger ID`, `runs restore ID`")
    p.add_argument("--runs-dir", help="folder that holds run folders (default: $WORKBENCH_RUNS or ./runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    s = p.add_subparsers(dest="runs_command", metavar="ACTION")
    show = s.add_parser("show", help="show one run's steps")
    show.add_argument("run", help="run name or folder")
    ledger = s.add_parser("ledger", help="rows a run dropped, changed, added or rejected, with reasons")
    ledger.add_argument("run", help="run name or folder")
    ledger.add_argument("--step", help="only this step (number or folder name)")
    ledger.add_argument("--action", choices=["dropped", "changed", "added", "rejected"], help="only this action")
    ledger.add_argument("--limit", type=int, default=50, help="rows to print (0: all)")
    restore = s.add_parser("restore", help="write dropped rows, and changed rows as they were before, to a file "
                                           "a next run loads with append = true, replace = true")
    restore.add_argument("run", help="run name or folder")
    restore.add_argument("--step", help="only rows dropped or changed by this step")
    restore.add_argument("--ids", nargs="*", help="only these row ids")
    restore.add_argument("-o", "--output", required=True, help="output file (.parquet or .jsonl)")
    for q in (show, ledger, restore):
        q.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.runtime import store

    root = store.runs_root(args.runs_dir)
    if args.runs_command is None:
        runs = store.list_runs(root)
        if args.json:
            print(json.dumps(runs, indent=2))
        elif not runs:
            print(f"no runs under {root}")
        for r in ([] if args.json else runs):
            print(f"{r['name']:<28} {r['state']:<9} {len(r.get('steps', [])):>2} steps  updated {r.get('updated', '')}")
        return 0
    run_dir = store.find_run(args.run, root)
    if args.runs_command == "show":
        return _show(run_dir, args.json)
    if args.runs_command == "ledger":
        return _ledger(run_dir, args)
    return _restore(run_dir, args)


def _show(run_dir, as_json: bool) -> int:
    from workbench.runtime import store

    info = store.read_json(run_dir / "run.json")
    manifests = [store.read_json(p / "manifest.json") for p in store.step_dirs(run_dir)]
    if as_json:
        print(json.dumps(info | {"manifests": manifests}, indent=2))
        return 0
    print(f"run {info['name']} ({info['state']}) in {run_dir}")
    if info.get("error"):
        print(f"  error: {info['error']}")
        if info.get("error_file"):
            print(f"  traceback: {info['error_file']}")
    for m in manifests:
        print(f"  {m['name']:<30} in {m['rows_in']:>7} out {m['rows_out']:>7} +{m['added']} -{m['dropped']} "
              f"~{m['changed']} rejected {m.get('rejected', 0)}  {m['seconds']:.1f}s  {m['plugin']} "
              f"{m.get('plugin_version') or ''}")
        for reason, n in sorted(m.get("dropped_by_reason", {}).items(), key=lambda kv: -kv[1]):
            print(f"      dropped {n:>6}  {reason}")
        for reason, n in _rejected_by_reason(run_dir, m):
            print(f"      rejected {n:>5}  {reason}")
        for name, value in m.get("artifacts", {}).items():
            print(f"      artifact {name}: {value}")
    return 0


def _rejected_by_reason(run_dir, manifest) -> list[tuple[str, int]]:
    """Rejected candidates of one step by reason, most first (they never were rows: not in the counts)."""
    if not manifest.get("rejected"):
        return []
    from workbench.runtime import store

    ledger = store.load_ledger(store.step_dir(run_dir, manifest["name"]))
    counts = ledger.filter(ledger["action"] == "rejected").group_by("reason").len().sort("len", descending=True)
    return [(reason, int(n)) for reason, n in counts.iter_rows()]


def _selected_ledger(run_dir, step, action=None):
    import polars as pl

    from workbench.runtime import store

    ledger = (store.load_ledger(store.step_dir(run_dir, step)).with_columns(pl.lit(step).alias("step"))
              if step else store.run_ledger(run_dir))
    if action and ledger.height:
        ledger = ledger.filter(pl.col("action") == action)
    return ledger


def _ledger(run_dir, args) -> int:
    ledger = _selected_ledger(run_dir, args.step, args.action)
    shown = ledger if args.limit == 0 else ledger.head(args.limit)
    if args.json:
        entries = shown.drop("row", strict=False).to_dicts()
        for entry in entries:  # detail is stored as JSON text: give it back as the object it is
            entry["detail"] = _json_or_text(entry.get("detail"))
        print(json.dumps(entries, indent=2))
        return 0
    for r in shown.iter_rows(named=True):
        print(f"{r.get('step', '')[:24]:<24} {r['action']:<8} {str(r['row_id']):<16} {r['component']:<14} {r['reason']}")
    if shown.height < ledger.height:
        print(f"... {ledger.height - shown.height} more (use --limit 0)")
    return 0


def _restore(run_dir, args) -> int:
    from pathlib import Path

    from workbench.ledger import earliest_versions

    ledger = _selected_ledger(run_dir, args.step)
    rows = earliest_versions(ledger, args.ids)
    changed = set(ledger.filter(ledger["action"] == "changed")["row_id"].to_list()) if ledger.height else set()
    n_changed = sum(1 for i in rows["id"].to_list() if i in changed)
    out = Path(args.output)
    if out.suffix == ".parquet":
        rows.write_parquet(out)
    else:
        from workbench.io import write_table

        write_table(rows, out, format="workbench-jsonl")
    summary = {"restored": rows.height, "dropped": rows.height - n_changed, "changed": n_changed, "output": str(out)}
    print(json.dumps(summary) if args.json else
          f"restored {rows.height} rows to {out} ({summary['dropped']} dropped, {n_changed} changed: their earlier "
          "version); load it with append = true, replace = true")
    return 0


def _json_or_text(value):
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value
