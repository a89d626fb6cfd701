"""A small Language Server Protocol client over stdio, enough to drive ``yaml-language-server``.

JSON-RPC 2.0 messages framed by ``Content-Length`` headers; a reader thread answers the
server's own requests (``workspace/configuration`` with the editor settings, anything else
with ``null``) and keeps the latest diagnostics published for each document. Every wait
has a timeout: a silent server fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where ``.ci/run`` installs the server from npm (``$DOTE_YAML_LS`` overrides it).
DEFAULT_SERVER = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "yaml-language-server"

#: The settings an editor with Red Hat's YAML extension would send; no schema store (no internet).
SETTINGS: dict[str, Any] = {
    "validate": True,
    "hover": True,
    "completion": True,
    "schemaStore": {"enable": False},
    "kubernetesCRDStore": {"enable": False},
    "format": {"enable": False},
}


def find_server() -> str | None:
    """The server's executable: ``$DOTE_YAML_LS``, else the copy installed by ``.ci/run``."""
    explicit = os.environ.get("DOTE_YAML_LS")
    if explicit:
        return explicit if Path(explicit).is_file() or shutil.which(explicit) else None
    return str(DEFAULT_SERVER) if DEFAULT_SERVER.is_file() else None


class LspError(RuntimeError):
    pass


class Client:
    """One ``yaml-language-server --stdio`` process, driven like an editor would."""

    def __init__(self, command: list[str], root: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._version = 0
        self._responses: dict[int, Mapping[str, Any]] = {}
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self._published: dict[str, int] = {}  # how many times diagnostics came for a URI
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        try:
            self._initialize(root)
        except BaseException:
            self.shutdown()
            raise

    def _initialize(self, root: Path) -> None:
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "locale": "fr",
                "capabilities": {
                    "workspace": {
                        "configuration": True,
                        "didChangeConfiguration": {"dynamicRegistration": False},
                    },
                    "textDocument": {
                        "publishDiagnostics": {"relatedInformation": True},
                        "completion": {
                            "completionItem": {
                                "documentationFormat": ["markdown", "plaintext"],
                                "snippetSupport": True,
                            }
                        },
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                    },
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": SETTINGS}})
        # The code lens handler waits for the settings to be pulled and applied: a barrier, so
        # that no document is validated with the defaults (which would fetch the schema store).
        self.request("textDocument/codeLens", {"textDocument": {"uri": (root / "none.yml").as_uri()}})

    # --- framing -------------------------------------------------------------------

    def _send(self, message: Mapping[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self._process.stdin
        assert stdin is not None
        with self._write_lock:
            stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            stdin.flush()

    def _read_message(self) -> dict[str, Any] | None:
        stdout = self._process.stdout
        assert stdout is not None
        length = None
        while True:
            line = stdout.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return None
        result: dict[str, Any] = json.loads(stdout.read(length).decode("utf-8"))
        return result

    def _read_loop(self) -> None:
        while True:
            message = self._read_message()
            if message is None:
                break
            if "method" in message and "id" in message:  # a request from the server
                self._answer(message)
            elif "method" in message:
                if message["method"] == "textDocument/publishDiagnostics":
                    params = message["params"]
                    with self._lock:
                        self.diagnostics[params["uri"]] = params["diagnostics"]
                        self._published[params["uri"]] = self._published.get(params["uri"], 0) + 1
                        self._lock.notify_all()
            elif "id" in message:
                with self._lock:
                    self._responses[message["id"]] = message
                    self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _answer(self, message: Mapping[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = []
            for item in message["params"]["items"]:
                section = item.get("section")
                result.append(SETTINGS if section == "yaml" else {})
        self._send({"id": message["id"], "result": result})

    # --- requests and notifications ------------------------------------------------

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        self._send({"id": ident, "method": method, "params": params})
        with self._lock:
            if not self._lock.wait_for(lambda: ident in self._responses or self._closed, self.timeout):
                raise LspError(f"no answer to {method} within {self.timeout} s")
            if ident not in self._responses:
                raise LspError(f"the server stopped before answering {method}")
            response = self._responses.pop(ident)
        if "error" in response:
            raise LspError(f"{method}: {response['error']}")
        return response.get("result")

    # --- documents -----------------------------------------------------------------

    def open(self, path: Path, text: str | None = None) -> str:
        """Open a document (its text, or the file's); the server caches parses by URI and version,
        so every opening gets a new version number."""
        uri = path.as_uri()
        with self._lock:
            self._version += 1
            version = self._version
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "yaml",
                    "version": version,
                    "text": path.read_text(encoding="utf-8") if text is None else text,
                }
            },
        )
        return uri

    def close(self, *uris: str) -> None:
        """Close documents, once the server has cleared their diagnostics (so a URI can be reused)."""
        with self._lock:
            before = {uri: self._published.get(uri, 0) for uri in uris}
        for uri in uris:
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        with self._lock:
            self._lock.wait_for(
                lambda: self._closed or all(self._published.get(u, 0) > n for u, n in before.items()),
                self.timeout,
            )
            for uri in uris:
                self._published.pop(uri, None)
                self.diagnostics.pop(uri, None)

    def wait_diagnostics(self, uris: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The diagnostics of each document once the server has published them."""
        wanted = list(uris)
        with self._lock:
            done = self._lock.wait_for(
                lambda: self._closed or all(u in self._published for u in wanted), self.timeout
            )
            missing = [u for u in wanted if u not in self._published]
            if not done or missing:
                raise LspError(
                    f"no diagnostics within {self.timeout} s for {len(missing)} document(s): {missing[:3]}"
                )
            return {u: list(self.diagnostics[u]) for u in wanted}

    def check(self, paths: Iterable[Path]) -> dict[Path, list[dict[str, Any]]]:
        """Open every file, wait for its diagnostics, close it again."""
        uris = {self.open(path): path for path in paths}
        found = self.wait_diagnostics(uris)
        self.close(*uris)
        return {uris[u]: d for u, d in found.items()}

    def completion(self, uri: str, line: int, character: int) -> list[dict[str, Any]]:
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        if isinstance(result, dict):
            items: list[dict[str, Any]] = result.get("items", [])
            return items
        return list(result or [])

    def hover(self, uri: str, line: int, character: int) -> str:
        result = self.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        if not result:
            return ""
        contents = result["contents"]
        if isinstance(contents, dict):
            return str(contents.get("value", ""))
        if isinstance(contents, list):
            return "\n".join(c if isinstance(c, str) else str(c.get("value", "")) for c in contents)
        return str(contents)

    def shutdown(self) -> None:
        try:
            if self._process.poll() is None:
                self.request("shutdown", None)
                self.notify("exit", None)
                self._process.wait(timeout=5)
        except (LspError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=5)
            self._reader.join(timeout=5)  # it stops at the end of the server's output
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
