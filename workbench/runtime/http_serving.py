"""What the local HTTP servers share: run in a thread (tests, the app) or in the foreground (the CLI)."""

from __future__ import annotations

import sys
import threading
from http.server import ThreadingHTTPServer


class ThreadedServer:
    """Owns ``self.httpd`` (a :class:`ThreadingHTTPServer`) and runs it in a daemon thread or in the foreground."""

    httpd: ThreadingHTTPServer
    thread_name = "http-server"

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
