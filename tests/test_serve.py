"""``dote serve``: the preview server answers on 127.0.0.1 with the generated pages."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dote.scaffold import init_territory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_previews_the_registers(tmp_path: Path) -> None:
    root = init_territory(tmp_path / "t", name="Maison DOTE de l'Aperçu")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "dote.cli", "serve", str(root), "-a", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    try:
        page = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/registres/exemple/", timeout=2
                ) as answer:
                    page = answer.read().decode("utf-8")
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.3)
        assert "Commune d&#39;Exemple" in page or "Commune d'Exemple" in page, log.read_text(encoding="utf-8")
        assert 'id="listes-electorales"' in page
    finally:
        server.terminate()
        server.wait(timeout=10)
