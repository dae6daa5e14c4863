"""What the local HTTP servers share: run in a thread (tests, the app) or in the foreground (the CLI)."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

Owner = TypeVar("Owner")


class OwnedHTTPServer(ThreadingHTTPServer, Generic[Owner]):
    """An HTTP server whose request handlers reach the object serving through ``self.server.owner``."""

    daemon_threads = True
    owner: Owner


class ThreadedServer:
    """Owns ``self.httpd`` (an :class:`OwnedHTTPServer`) and runs it in a daemon thread or in the foreground."""

    httpd: OwnedHTTPServer
    thread_name = "http-server"
    #: what :attr:`url` ends with (an API's prefix, e.g. ``/v1``)
    url_path = ""

    def listen(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind ``host:port`` (0: a free port) with ``handler``, this object its owner."""
        self.httpd = OwnedHTTPServer((host, port), handler)
        self.httpd.owner = self

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}{self.url_path}"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, name=self.thread_name, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def run_until_interrupted(self, banner: str) -> int:
        """The CLI's way: say where it listens, serve until Ctrl-C, then stop cleanly."""
        print(f"{banner}; Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0
