"""What the app may read and who may reach it.

"A file on disk" opens only files under the configured data roots: the
working folder, plus the folders listed in ``WORKBENCH_DATA_ROOTS``
(separated like ``PATH``). :func:`is_loopback` tells the pages whether the
server only listens on this machine, so they can warn when it does not.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from workbench.errors import WorkbenchError

#: environment variable naming extra folders "A file on disk" may read from
ROOTS_ENV = "WORKBENCH_DATA_ROOTS"


def data_roots(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> list[Path]:
    """The folders the app may open files from: the working folder first, then ``WORKBENCH_DATA_ROOTS``."""
    env = os.environ if environ is None else environ
    extra = [Path(p).expanduser() for p in env.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [p.resolve() for p in [cwd or Path.cwd(), *extra]]


def confine(path: str | Path, roots: list[Path]) -> Path:
    """``path`` resolved (symlinks followed), or a WorkbenchError when it lies outside every root."""
    resolved = Path(path).expanduser().resolve()
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    raise WorkbenchError(f"{path} is outside the data roots ({', '.join(str(r) for r in roots)}); it was not opened",
                         hint=f"copy the file into the working folder, upload it, or add its folder to {ROOTS_ENV} "
                              f"(folders separated by '{os.pathsep}') before starting the app")


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only (empty: every interface)."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve to any interface
        return False
