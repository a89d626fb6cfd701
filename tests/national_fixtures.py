"""Synthetic Maisons built and served on 127.0.0.1, for the national view's tests and benchmark.

What a national harvest reads is what Maisons publish on their own sites. Here:

- one :class:`http.server.ThreadingHTTPServer` on a free port of 127.0.0.1 serves a root folder;
  each Maison's site is built into ``ROOT/<id>/`` with ``site_url: http://127.0.0.1:PORT/<id>/``
  (the server is started first, so its port is known before the builds and never taken by
  anything else);
- the territories are written by ``dote demo`` (sizes and seeds differ) and built by
  ``dote build``, two at a time (as two Maisons' CI would on two cores), each in its own process;
- an *older-format* Maison: a built site whose open data is turned into what the previous
  version of the tool wrote (``version_format: 1``, no ``sous_traitants``), catalogue sizes
  updated (:func:`downgrade_open_data`);
- an *unreachable* Maison: an address on a port of 127.0.0.1 that is bound but never listens
  (the connection is refused; the port stays reserved while the federation is up);
- the national configuration file naming them (:func:`write_config`).

Importable by the tests (``from national_fixtures import …``) and by
``benchmarks/national.py`` (which puts ``tests/`` on its path).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hostile import serve

#: The folder of the open data in a built site, and the files :func:`downgrade_open_data` rewrites.
DATA = "donnees"
TERRITORY_JSON = f"{DATA}/territoire.json"
CATALOGUE = f"{DATA}/catalogue.jsonld"
#: The format version the previous version of the tool wrote.
OLDER_VERSION = 1


@dataclass(frozen=True)
class Spec:
    """A synthetic territory to build: ``dote demo ID --members N --activities M --seed S``."""

    id: str
    members: int
    activities: int
    seed: int
    #: The name the Maison publishes (registers/maison.yml), "" for « Maison DOTE <id> ».
    name: str = ""
    #: Its territory, as maison.yml names it ("" for « Territoire <id> »).
    territory: str = ""

    @property
    def published_name(self) -> str:
        return self.name or f"Maison DOTE {self.id}"


@dataclass
class Maison:
    """A Maison of the federation, as the national configuration names it."""

    id: str
    url: str  # its site's address, ending with "/"
    site: Path | None  # the folder served at that address (None: unreachable)
    spec: Spec | None = None
    older: bool = False
    unreachable: bool = False
    build_seconds: float = 0.0


@dataclass
class Federation:
    """Maisons served on 127.0.0.1, and the national configuration that names them."""

    root: Path  # the folder served
    base: str  # http://127.0.0.1:PORT/
    maisons: list[Maison] = field(default_factory=list)
    config: Path | None = None

    def maison(self, maison_id: str) -> Maison:
        return next(m for m in self.maisons if m.id == maison_id)

    @property
    def reachable(self) -> list[Maison]:
        return [m for m in self.maisons if not m.unreachable]


# --- serving -------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve_folder(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) from a thread; yields ``http://127.0.0.1:PORT/``.

    Files are looked up on each request: what is built into ``root`` later is served too.
    """
    root.mkdir(parents=True, exist_ok=True)
    with serve(root) as base:
        yield base


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    """An address on 127.0.0.1 where nothing answers: a port bound (reserved) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        sock.close()


# --- building ------------------------------------------------------------------------------------


def dote_command() -> list[str]:
    """How to run this project's ``dote`` (the installed script, else the module)."""
    found = shutil.which("dote")
    if found is not None and Path(found).parent == Path(sys.executable).parent:
        return [found]
    return [sys.executable, "-m", "dote.cli"]


def _run(command: Sequence[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{what} a échoué ({done.returncode}) :\n{done.stdout}\n{done.stderr}")


def set_site_url(territory: Path, url: str) -> None:
    """Write ``site_url: URL`` into the territory's mkdocs.yml (replacing any, or the comment)."""
    config = territory / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    line = f"site_url: {url}"
    text, count = re.subn(r"(?m)^site_url: .*$", line, text, count=1)
    if count == 0:
        text, count = re.subn(r"(?m)^# site_url: .*$", line, text, count=1)
    if count == 0:
        text = line + "\n" + text
    config.write_text(text, encoding="utf-8")


def name_maison(territory: Path, name: str, area: str) -> None:
    """Give the synthetic Maison its own name and territory (``dote demo`` names every one alike)."""
    path = territory / "registers" / "maison.yml"
    text = path.read_text(encoding="utf-8")
    for key, value in (("nom", name), ("territoire", area)):
        text, count = re.subn(
            rf"(?m)^{key}: .*$", f"{key}: {json.dumps(value, ensure_ascii=False)}", text, count=1
        )
        assert count == 1, (path, key)
    path.write_text(text, encoding="utf-8")


def build_maison(
    spec: Spec,
    work: Path,
    root: Path,
    base: str,
    *,
    prepare: Callable[[Path], None] | None = None,
) -> Maison:
    """``dote demo`` then ``dote build`` of ``spec`` into ``root/<id>/``, served at ``base<id>/``.

    ``prepare`` may change the territory between the two (the hostile test plants its payload).
    The build's wall time is kept (each Maison's own CI, not the national build).
    """
    territory = work / spec.id
    shutil.rmtree(territory, ignore_errors=True)
    _run(
        [
            *dote_command(),
            "demo",
            str(territory),
            "--members",
            str(spec.members),
            "--activities",
            str(spec.activities),
            "--seed",
            str(spec.seed),
        ],
        f"dote demo {spec.id}",
    )
    url = f"{base}{spec.id}/"
    set_site_url(territory, url)
    name_maison(territory, spec.published_name, spec.territory or f"Territoire {spec.id}")
    if prepare is not None:
        prepare(territory)
    site = root / spec.id
    started = time.perf_counter()
    _run([*dote_command(), "build", str(territory), "--site-dir", str(site)], f"dote build {spec.id}")
    seconds = time.perf_counter() - started
    if not (site / CATALOGUE).is_file():
        raise RuntimeError(f"{spec.id} : pas de catalogue {CATALOGUE} après la construction")
    return Maison(spec.id, url, site, spec, build_seconds=seconds)


def build_maisons(
    specs: Sequence[Spec],
    work: Path,
    root: Path,
    base: str,
    *,
    parallel: int = 2,
    prepare: dict[str, Callable[[Path], None]] | None = None,
) -> list[Maison]:
    """Build every territory, ``parallel`` at a time; in the order of ``specs``."""
    work.mkdir(parents=True, exist_ok=True)
    prepare = prepare or {}
    with ThreadPoolExecutor(max(1, parallel)) as pool:
        futures = [
            pool.submit(build_maison, spec, work, root, base, prepare=prepare.get(spec.id)) for spec in specs
        ]
        return [future.result() for future in futures]


def find_explorer(site: Path) -> str | None:
    """The address (relative to ``site``, ending with "/") of its page holding an explorer."""
    for path in sorted(site.rglob("index.html"), key=lambda p: (len(p.parts), p.as_posix())):
        if path.relative_to(site).parts[0].startswith("pagefind"):
            continue
        if 'id="dote-explorateur"' in path.read_text(encoding="utf-8"):
            folder = path.parent.relative_to(site).as_posix()
            return "" if folder == "." else folder + "/"
    return None


# --- an older format -----------------------------------------------------------------------------


def _inert_json(data: Any) -> bytes:
    """JSON as the tool writes its open data: compact, ``<``, ``>`` and ``&`` escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def _downgraded(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["version_format"] = OLDER_VERSION
    data.pop("sous_traitants", None)
    return _inert_json(data)


def downgrade_open_data(site: Path) -> None:
    """Make a built site's open data what the previous version of the tool wrote.

    The territory JSON and every member JSON get ``version_format: 1`` and lose the
    top-level ``sous_traitants`` key; the catalogue's byte sizes follow.
    """
    sizes: dict[str, int] = {}
    for path in [site / TERRITORY_JSON, *sorted((site / DATA / "membres").glob("*.json"))]:
        content = _downgraded(path.read_bytes())
        path.write_bytes(content)
        sizes[path.relative_to(site).as_posix()] = len(content)
    catalogue_path = site / CATALOGUE
    catalogue = json.loads(catalogue_path.read_bytes())

    def update(node: Any) -> None:
        if isinstance(node, dict):
            download = node.get("dcat:downloadURL")
            target = download.get("@id") if isinstance(download, dict) else None
            if isinstance(target, str) and "dcat:byteSize" in node:
                for name, size in sizes.items():
                    if target.endswith("/" + name):
                        node["dcat:byteSize"]["@value"] = str(size)
            for value in node.values():
                update(value)
        elif isinstance(node, list):
            for value in node:
                update(value)

    update(catalogue)
    catalogue_path.write_bytes(_inert_json(catalogue))


# --- the national configuration ----------------------------------------------------------------


def write_config(
    path: Path,
    maisons: Sequence[Maison],
    *,
    name: str = "Registre national des Maisons DOTE (essai)",
    harvest: str = "moisson",
    timeout: float = 5.0,
    site_url: str = "",
) -> Path:
    """The national configuration file (``dote national CONFIG``) naming ``maisons`` by address."""
    entries: list[dict[str, Any]] = []
    for maison in maisons:
        entries.append({"id": maison.id, "site": maison.url})  # the name: the one each publishes
    config: dict[str, Any] = {"version_schema": 1, "nom": name}
    if site_url:
        config["site_url"] = site_url
    config.update({"moisson": harvest, "delai": timeout, "maisons": entries})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- all of it -----------------------------------------------------------------------------------


@contextlib.contextmanager
def federation(
    specs: Sequence[Spec],
    work: Path,
    *,
    older: Spec | None = None,
    unreachable: str | None = None,
    parallel: int = 2,
    timeout: float = 5.0,
    prepare: dict[str, Callable[[Path], None]] | None = None,
) -> Iterator[Federation]:
    """Build ``specs`` (and ``older``, downgraded) and serve them; name ``unreachable`` on a closed port.

    Yields the :class:`Federation` with its configuration written at ``work/national.yml``
    (harvest folder ``work/moisson``); stops the server on exit.
    """
    root = work / "servi"
    with serve_folder(root) as base, closed_port() as nowhere:
        everything = [*specs, *([older] if older is not None else [])]
        built = build_maisons(
            everything, work / "territoires", root, base, parallel=parallel, prepare=prepare
        )
        if older is not None:
            built[-1].older = True
            assert built[-1].site is not None
            downgrade_open_data(built[-1].site)
        if unreachable is not None:
            built.append(Maison(unreachable, nowhere, None, unreachable=True))
        result = Federation(root, base, built)
        result.config = write_config(work / "national.yml", built, timeout=timeout)
        yield result


def environment_without_proxy() -> dict[str, str]:
    """The environment, without proxy variables (127.0.0.1 must be reached directly)."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
