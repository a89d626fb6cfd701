"""A small local HTTP server for the watch's tests: routes configured per test.

It listens on 127.0.0.1 (a random free port) in a background thread. Each route answers
with a status, headers and a body, optionally after a delay; a route with an ``etag`` or
a ``last_modified`` answers 304 to a matching conditional request; a route with a
``location`` redirects. Every request is recorded (path and headers) so that tests can
check what the client sent (User-Agent, If-None-Match, If-Modified-Since).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the server answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a test's timeout) is expected: no traceback on stderr."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        with owner.lock:
            owner.requests.append(Request(self.path, headers))
            route = owner.routes.get(self.path)
        if route is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        if route.delay and owner.stopping.wait(route.delay):
            return
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        match_etag = route.etag is not None and headers.get("if-none-match") == route.etag
        match_date = (
            route.etag is None
            and route.last_modified is not None
            and headers.get("if-modified-since") == route.last_modified
        )
        if match_etag or match_date:
            self._send(304, validators, b"")
            return
        extra = dict(validators)
        if route.location is not None:
            extra["Location"] = route.location
        extra.update(route.headers)
        self._send(route.status, extra, route.body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and body:
            self.wfile.write(body)


class FeedServer:
    """The server's routes, its recorded requests and its address."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, body: bytes = b"", **options: object) -> Route:
        """Declare (or replace) the answer on ``path``; returns the route, to change it later."""
        route = Route(body=body, **options)  # type: ignore[arg-type]
        with self.lock:
            self.routes[path] = route
        return route

    def redirect(self, path: str, status: int, target: str) -> Route:
        return self.route(path, status=status, location=target)

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serving() -> Iterator[FeedServer]:
    """A started :class:`FeedServer`, stopped at the end of the block."""
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
