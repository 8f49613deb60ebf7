"""A folder served on localhost, for the browser's tests of the built book and its widgets and
for the downloads of the published artefacts."""

import contextlib
import functools
import http.server
import threading
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging every request; appends each path asked for to
    `requested`, when given one."""

    def __init__(self, *args, requested: list[str] | None = None, **kwargs):
        self.requested = requested  # before the base class, which handles the request
        super().__init__(*args, **kwargs)

    def do_GET(self):
        if self.requested is not None:
            self.requested.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder: Path, requested: list[str] | None = None):
    """`folder` served on localhost, as long as the block runs: its URL. The paths asked for are
    appended to `requested`, when given."""
    handler = functools.partial(QuietHandler, directory=str(folder), requested=requested)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
