"""``workbench ui``: open the Streamlit app (``app.py``) in the browser."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("ui", help="open the Streamlit workbench in the browser")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--headless", action="store_true", help="do not open a browser window")
    p.set_defaults(func=run)


def app_path():
    """``app.py`` of this checkout (the app is not part of the installed package)."""
    from pathlib import Path

    from workbench.errors import WorkbenchError

    path = Path(__file__).resolve().parents[2] / "app.py"
    if not path.exists():
        raise WorkbenchError(f"{path} not found", hint="run `workbench ui` from a Workbench checkout")
    return path


def command(args) -> list[str]:
    import sys

    return [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.port", str(args.port),
            "--server.address", args.address, "--server.headless", "true" if args.headless else "false"]


def run(args) -> int:
    import subprocess

    path = app_path()
    return subprocess.call(command(args), cwd=str(path.parent))
