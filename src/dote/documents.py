"""Downloads made with pandoc: model documents, training handouts, members' notices and letters.

A page of ``docs/`` whose front matter says ``telechargement: true`` is offered as DOCX,
ODT and PDF: its Markdown (its macros rendered) goes through pandoc (``pypandoc-binary``),
styled by the reference documents (``src/dote/assets/reference.docx`` and ``.odt``, or a
territory's own); the PDF is pandoc's Typst output compiled by the ``typst`` wheel (no
LaTeX). Each member's notices and rights letters fill a document pandoc made once
(:mod:`dote.office`).

Speed: each output is kept under ``.cache/dote/documents/`` by a hash of everything it
is made from (pandoc's and Typst's versions, the options, the reference document, the
text), so a rebuild with nothing changed runs pandoc zero times; the runs a build needs
go in parallel (pandoc is a separate process: threads suffice). :attr:`Converter.runs`
counts them.

Bad input is reported in French, naming the page: a variable that does not exist, a
failing pandoc or Typst run, a missing reference document. The build then fails rather
than publish a broken download.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import jinja2
import pypandoc  # type: ignore[import-untyped]
import typst

from dote import cache, notices, workers
from dote.files import write_atomic_bytes
from dote.model import Member, Territory
from dote.office import FORMATS as FORMATS_FILLED
from dote.office import PANDOC_FROM, SKELETON, Format, Template, TemplateError, prepare

Output = Literal["docx", "odt", "pdf"]
FORMATS: tuple[Output, ...] = ("docx", "odt", "pdf")
LABELS: Mapping[str, str] = {"docx": "Word (.docx)", "odt": "LibreOffice (.odt)", "pdf": "PDF"}
#: The front matter key of a page offered as downloads.
META_KEY = "telechargement"
#: Changes when the options below change: part of every output's key.
RECIPE = "1"
#: Pandoc's Markdown without what a download must not carry: raw HTML, TeX or Typst, and
#: "smart" punctuation (French pages already have their own).
PANDOC_MARKDOWN = "markdown-raw_html-raw_tex-raw_attribute-implicit_figures-smart"
#: How long one pandoc or Typst run may take.
TIMEOUT = 120


def pandoc_environment() -> dict[str, str]:
    """Pandoc's environment: ``SOURCE_DATE_EPOCH`` as the caller set it, else the start of the
    current day (UTC). Pandoc writes that time, instead of the current one, into the documents
    it makes (DOCX and ODT metadata, zip entries): two builds of the same registers on the same
    day give the same downloads (pandoc's manual, « Reproducible builds »)."""
    environment = dict(os.environ)
    if not environment.get("SOURCE_DATE_EPOCH", "").strip().isdigit():
        now = int(time.time())
        environment["SOURCE_DATE_EPOCH"] = str(now - now % 86400)
    return environment


ASSETS = Path(__file__).parent / "assets"


class DocumentError(Exception):
    """A download could not be made: the message (French) names the page and the cause."""


@dataclass(frozen=True)
class References:
    """The reference documents that style the DOCX and ODT downloads."""

    docx: Path
    odt: Path

    @classmethod
    def find(cls, root: Path, docx: str | None = None, odt: str | None = None) -> References:
        """The package's reference documents, or the territory's own (paths relative to ``root``)."""
        found = {}
        for name, option in (("docx", docx), ("odt", odt)):
            path = (root / option) if option else ASSETS / f"reference.{name}"
            if not path.is_file():
                raise DocumentError(
                    f"le document de référence « {option or path} » est introuvable "
                    f"(option reference_{name} du plugin dote dans mkdocs.yml)"
                )
            found[name] = path
        return cls(found["docx"], found["odt"])

    def path(self, fmt: Format) -> Path:
        return self.docx if fmt == "docx" else self.odt


def download_uri(src_uri: str, fmt: str) -> str:
    """``documents/aipd.md`` → ``documents/aipd.docx``: where a page's download is published."""
    return f"{src_uri.removesuffix('.md')}.{fmt}"


def links_markdown(src_uri: str, formats: Sequence[str] = FORMATS) -> str:
    """The download links of a page, in Markdown (relative to the page's own file)."""
    name = Path(src_uri).name.removesuffix(".md")
    links = " · ".join(f"[{LABELS[fmt]}]({name}.{fmt})" for fmt in formats)
    return f"**Télécharger ce document :** {links}\n"


def with_links(markdown: str, links: str) -> str:
    """The page's Markdown with its download links after its first-level title (or first)."""
    match = re.search(r"^# .*$", markdown, flags=re.M)
    if match is None:
        return f"{links}\n{markdown}"
    return f"{markdown[: match.end()]}\n\n{links}\n{markdown[match.end() :].lstrip(chr(10))}"


def render_macros(text: str, origin: str, env: Any, variables: Mapping[str, Any], first_line: int = 1) -> str:
    """A page's Markdown with its macros rendered, an unknown variable being an error.

    ``env`` is the Jinja environment of mkdocs-macros (or None: no macros, and then the
    page must not use any). ``first_line``: the line of the file where ``text`` starts
    (after the front matter), for the line numbers of errors.
    """
    shift = first_line - 1
    if env is None:
        if "{{" in text or "{%" in text:
            line = _line_of(text, "{{" if "{{" in text else "{%")
            raise DocumentError(
                f"{origin}:{line + shift}: une variable est utilisée mais le greffon « macros » n'est pas activé"
            )
        return text
    strict = env.overlay(undefined=jinja2.StrictUndefined)
    try:
        return str(strict.from_string(text).render(**variables))
    except jinja2.TemplateSyntaxError as err:
        raise DocumentError(f"{origin}:{err.lineno + shift}: modèle invalide : {err.message}") from err
    except jinja2.UndefinedError as err:
        found = re.search(r"'([^']+)' (is undefined|has no attribute '([^']+)')", str(err))
        name = (found.group(3) or found.group(1)) if found else ""
        line = _line_of(text, name) if name else 1
        what = f"« {name} »" if name else str(err)
        raise DocumentError(
            f"{origin}:{line + shift}: variable inconnue {what} dans le modèle (variables disponibles : "
            f"{', '.join(sorted(str(k) for k in variables if not str(k).startswith('_'))[:12])}…)"
        ) from err


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


@functools.cache
def _versions() -> str:
    return f"pandoc {pypandoc.get_pandoc_version()} typst {metadata.version('typst')} recette {RECIPE}"


class Converter:
    """Pandoc and Typst runs, cached by content and run in parallel threads.

    ``folder`` is the cache (None: a temporary folder, removed by :meth:`close`). Every
    method returns the path of the output file at once; :meth:`wait` waits for them all
    and raises :class:`DocumentError` with every failure.
    """

    def __init__(self, references: References, folder: Path | None, threads: int | None = None) -> None:
        self.references = references
        self._temporary = None if folder is not None else tempfile.mkdtemp(prefix="dote-documents-")
        self.folder = folder if folder is not None else Path(self._temporary or "")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max(1, threads or workers.count()), thread_name_prefix="pandoc")
        self._jobs: dict[Path, tuple[str, Future[None]]] = {}
        self._used: set[str] = set()
        self._lock = threading.Lock()
        self._reference_bytes = {fmt: references.path(fmt).read_bytes() for fmt in ("docx", "odt")}
        self._versions = _versions()
        self._identities: dict[Format, str] = {}
        #: Pandoc runs made by this converter (0 when everything came from the cache).
        self.runs = 0
        # The skeletons of the members' documents: pandoc started now, as processes (no
        # thread: the page workers are forked later, see dote.workers), read by templates().
        self._skeletons: dict[Format, tuple[Path, subprocess.Popen[bytes] | None]] = {}
        self._templates: dict[Format, Template] = {}
        for fmt in FORMATS_FILLED:
            path = self.folder / f"{self.identity(fmt)}.{fmt}"
            self._used.add(path.name)
            self._skeletons[fmt] = (path, None if path.is_file() else self._start_skeleton(fmt, path))

    # --- pages of docs/ -------------------------------------------------------------------

    def page(self, markdown: str, origin: str) -> dict[str, Path]:
        """The downloads of one page: its DOCX, ODT and PDF, from the cache or on their way."""
        out: dict[str, Path] = {}
        for fmt in FORMATS:
            reference = self._reference_bytes[fmt] if fmt != "pdf" else b""
            key = cache.content_key(self._versions, fmt, reference, markdown)
            out[fmt] = self._output(key, fmt, origin, self._maker(markdown, fmt))
        return out

    def identity(self, fmt: Format) -> str:
        """What every filled document of a format depends on besides its text (for its key)."""
        if fmt not in self._identities:
            self._identities[fmt] = cache.content_key(
                self._versions, "gabarit", fmt, self._reference_bytes[fmt], SKELETON
            )
        return self._identities[fmt]

    def _maker(self, markdown: str, fmt: Output) -> Callable[[Path], None]:
        return lambda target: self._pandoc(markdown, fmt, target)

    def _output(self, key: str, fmt: str, origin: str, make: Callable[[Path], None]) -> Path:
        path = self.folder / f"{key}.{fmt}"
        self._used.add(path.name)
        with self._lock:
            if path in self._jobs or path.is_file():
                return path
            self._jobs[path] = (origin, self._pool.submit(make, path))
        return path

    def _pandoc(self, markdown: str, fmt: Output, target: Path) -> None:
        with self._lock:
            self.runs += 1
        if fmt == "pdf":
            source = self._run(markdown, "typst", ["--standalone", "-V", "papersize=a4", "-V", "lang=fr"])
            with tempfile.TemporaryDirectory(prefix="dote-typst-") as folder:
                main = Path(folder) / "document.typ"
                main.write_bytes(source)
                try:
                    pdf = typst.compile(str(main), root=folder)
                except Exception as err:  # typst raises its own error types
                    raise DocumentError(f"Typst n'a pas pu composer le PDF : {err}") from err
            assert isinstance(pdf, bytes)
            write_atomic_bytes(target, pdf, sync=False)
            return
        reference = self.references.path(fmt)
        write_atomic_bytes(target, self._run(markdown, fmt, ["--reference-doc", str(reference)]), sync=False)

    def _run(self, markdown: str, to: str, options: list[str], source_format: str = PANDOC_MARKDOWN) -> bytes:
        command = [
            pypandoc.get_pandoc_path(),
            f"--from={source_format}",
            f"--to={to}",
            "--metadata=lang:fr-FR",
            "--output=-",
            *options,
        ]
        try:
            done = subprocess.run(
                command,
                input=markdown.encode("utf-8"),
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
                env=pandoc_environment(),
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DocumentError(f"pandoc n'a pas pu être lancé ou n'a pas fini à temps : {err}") from err
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise DocumentError(f"pandoc a échoué (code {done.returncode}) : {message}")
        return done.stdout

    # --- members' documents: a template pandoc made once, filled --------------------------

    def _start_skeleton(self, fmt: Format, path: Path) -> subprocess.Popen[bytes]:
        self.runs += 1
        source = Path(f"{path}.md")
        source.write_text(SKELETON, encoding="utf-8")
        command = [
            pypandoc.get_pandoc_path(),
            f"--from={PANDOC_FROM}",
            f"--to={fmt}",
            "--metadata=lang:fr-FR",
            f"--reference-doc={self.references.path(fmt)}",
            f"--output={path}.en-cours",
            str(source),
        ]
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=pandoc_environment(),
            )
        except OSError as err:
            raise DocumentError(self._skeleton_error(fmt, f"pandoc n'a pas pu être lancé : {err}")) from err

    def _skeleton_error(self, fmt: Format, message: str) -> str:
        reference = self.references.path(fmt).name
        return f"le gabarit {fmt.upper()} des documents des membres (document de référence {reference}) : {message}"

    def templates(self) -> dict[Format, Template]:
        """The members' document templates, taken apart (pandoc's runs waited for, once)."""
        for fmt, (path, process) in self._skeletons.items():
            if fmt in self._templates:
                continue
            if process is not None:
                try:
                    _, errors = process.communicate(timeout=TIMEOUT)
                except subprocess.TimeoutExpired as err:
                    process.kill()
                    raise DocumentError(self._skeleton_error(fmt, "pandoc n'a pas fini à temps")) from err
                self._skeletons[fmt] = (path, None)
                partial = Path(f"{path}.en-cours")
                Path(f"{path}.md").unlink(missing_ok=True)
                if process.returncode != 0:
                    partial.unlink(missing_ok=True)
                    message = errors.decode("utf-8", "replace").strip()
                    raise DocumentError(
                        self._skeleton_error(fmt, f"pandoc a échoué (code {process.returncode}) : {message}")
                    )
                partial.replace(path)
            try:
                self._templates[fmt] = Template.read(path.read_bytes(), fmt)
            except (OSError, TemplateError) as err:
                raise DocumentError(self._skeleton_error(fmt, f"document inutilisable : {err}")) from err
        return self._templates

    def member_outputs(self, key: str, fmt: str) -> tuple[Path, bool]:
        """Where a member's document of this key goes, and whether it is already there."""
        path = self.folder / f"{key}.{fmt}"
        self._used.add(path.name)
        return path, path.is_file()

    # --- the end ----------------------------------------------------------------------------

    def wait(self) -> None:
        """Wait for every run; raise one error listing every failed download."""
        failures = []
        for path, (origin, job) in list(self._jobs.items()):
            try:
                job.result()
            except DocumentError as err:
                failures.append(f"{origin} ({path.suffix[1:].upper()}) : {err}")
            except Exception as err:  # any failure of a run is reported
                failures.append(f"{origin} ({path.suffix[1:].upper()}) : {type(err).__name__} : {err}")
        if failures:
            raise DocumentError(
                "des téléchargements n'ont pas pu être faits :\n" + "\n".join(f"  {f}" for f in failures)
            )

    def close(self, prune: bool = True) -> None:
        """Stop the threads and processes; forget outputs this build did not use; remove a temporary folder."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for path, process in self._skeletons.values():
            if process is not None:  # never waited for: stop it, close its pipe
                if process.poll() is None:
                    process.kill()
                process.communicate()
                Path(f"{path}.en-cours").unlink(missing_ok=True)
                Path(f"{path}.md").unlink(missing_ok=True)
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
        elif prune:
            for path in self.folder.glob("*.*"):
                if path.name not in self._used:
                    with contextlib.suppress(OSError):
                        path.unlink()


def filled_document(root: Path, blocks: Sequence[notices.Block], fmt: Format) -> bytes:
    """Blocks as a DOCX or ODT document: the members' document template, filled.

    The template is the one the site's members' documents use (a skeleton pandoc converts
    once, styled by the territory's reference documents; see :mod:`dote.office`). It is made
    in a temporary folder: nothing confidential touches the territory's cache. Used by the
    confidential documents of the DPO (breach notification draft, annual report).
    """
    converter = Converter(References.find(root), None, threads=1)
    try:
        template = converter.templates()[fmt]
    finally:
        converter.close(prune=False)
    return template.fill(blocks)


def cache_folder(root: Path | None) -> Path | None:
    """``.cache/dote/documents/`` of a territory, or None when the cache is off."""
    if root is None or not cache.enabled():
        return None
    return root / cache.CACHE_DIR / "documents"


#: A member's document: which (``mentions``: its notices, ``droits``: its rights letters),
#: in which format, written where.
MemberFormat = Literal["docx", "odt", "html"]
MemberJob = tuple[Literal["mentions", "droits"], MemberFormat, Path]


def write_member_documents(
    territory: Territory,
    member: Member,
    templates: Mapping[Format, Template],
    jobs: Sequence[MemberJob],
    legal: Mapping[str, str] | None = None,
) -> None:
    """Write a member's documents: its blocks made and escaped once, filled in each format.

    ``legal``: the addresses of the legal pages, for the footer of the notices page.
    """
    made: dict[str, Any] = {}
    written: dict[str, list[notices.Block]] | None = None  # each notice, made once for every format

    def notices_made() -> dict[str, list[notices.Block]]:
        nonlocal written
        if written is None:
            written = notices.notices_of(territory, member)
        return written

    for kind, fmt, path in jobs:
        if fmt == "html":  # the printable page of the notices
            page = notices.notices_page(territory, member, legal, notices_made())
            write_atomic_bytes(path, page.encode("utf-8"), sync=False)
            continue
        if kind not in made:
            blocks = (
                notices.member_notices(territory, member, notices_made())
                if kind == "mentions"
                else notices.rights_letters(territory, member)
            )
            made[kind] = prepare(blocks)
        write_atomic_bytes(path, templates[fmt].fill(made[kind]), sync=False)
