"""Site search: the Pagefind index of the built site, in shards indexed side by side and cached.

Pagefind's command line indexes one page after another on one core, about 40 ms for a
member page of 30 activities: 40 s for a territory of 1,000 members. So a large site is
indexed in **shards** of about 250 members (at least one per worker, at most 16: see
:func:`shard_count`), by as many Pagefind processes at once as the build has workers:

- the *primary* bundle (``pagefind/``) indexes every page but the member pages, and holds
  Pagefind's script, WebAssembly and interface;
- each member shard (``pagefind-membres-N/``) indexes the pages of the members whose
  identifier falls in it (a stable hash: adding a member moves no other);
- the search page merges the shards into the primary (Pagefind's ``mergeIndex``): one
  query, one ranked list, the same filters. Each merged shard costs a first query its
  small entry and filter files and the index chunks of the words typed.

A shard whose pages are byte for byte those of an earlier build is copied from the cache
(``.cache/dote/``) instead of being indexed again. A small site stays one bundle.

Pagefind's time grows with the text it reads: a member page of 30 activities holds about
12,000 words (legal references, DPIA reasons, retention tables, label criteria), and indexing
it costs about 60 ms. What a citizen searches for is narrower: the member, and for each
activity its name, purposes, the people and data concerned, who receives the data and where
they go. So a member page is indexed from its **search document**
(:func:`member_document`): that text, under the page's own headings and anchors and with
the page's filters, written at the page's address in a staging copy of the site that
Pagefind reads instead of the site (every other page is linked there unchanged). Results
land on the real page and its activities' anchors; indexing takes about a tenth of the time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dote.cache import content_key
from dote.model import Activity, Member, Processor
from dote.safe import html_text

#: Where the primary bundle is written, relative to the site.
PRIMARY = "pagefind"
#: The folder of member shard N, relative to the site.
SHARD = "pagefind-membres-{}"
#: From how many member pages a site is indexed in shards.
SHARDS_FROM = 200
#: The generated member pages, relative to the site.
MEMBER_PAGES = "registres"
#: How a member page's block of search filters begins (render.search_filters): the block,
#: to the end of the page's content, is copied into the page's search document.
FILTERS_START = '<div class="dote-filtres" hidden>'


#: About how many member pages a shard holds: a warm build indexes again the shard of each
#: changed member (1,000 members: 1.8 s for a shard of 500, 0.6 s for a shard of 250; with
#: 125, the build waits 0.1 s for it at the end, against 0.45 s with 250), and a first query
#: downloads a little of every shard (1,000 members: 424 KiB in all with 2 shards, 435 KiB
#: with 4; benchmarks/PROFILING.md, eighteenth pass, for 8).
SHARD_MEMBERS = 125
#: At most this many shards: each adds requests to a first query.
MAX_SHARDS = 16


def shard_count(members: int, workers: int) -> int:
    """How many member shards a site of ``members`` member pages gets (0: one bundle): at
    least one per worker, about :data:`SHARD_MEMBERS` members each, at most :data:`MAX_SHARDS`."""
    if members < SHARDS_FROM or workers < 2:
        return 0
    return min(max(workers, 2, -(-members // SHARD_MEMBERS)), max(MAX_SHARDS, workers))


def shard_of(member_id: str, shards: int) -> int:
    return zlib.crc32(member_id.encode("utf-8")) % shards


def page_script(name: str) -> bytes:
    """A search page's script (``recherche.js``, ``recherche-nationale.js``) as the site serves
    it: after ``recherche-filtres.js``, which both use to complete the merged search's filters."""
    assets = Path(__file__).parent / "assets"
    return (assets / "recherche-filtres.js").read_bytes() + b"\n" + (assets / name).read_bytes()


def merged_bundles(shards: int) -> list[str]:
    """The shards' folders, relative to the site, for the search page's ``mergeIndex``."""
    return [SHARD.format(n) + "/" for n in range(shards)]


@dataclass(frozen=True)
class Job:
    """One Pagefind run: the pages it indexes (a glob relative to the site) and its output."""

    output: str
    glob: str
    pages: tuple[Path, ...]


def jobs(site: Path, member_ids: Sequence[str], shards: int) -> list[Job]:
    """The Pagefind runs that index ``site``: one, or the primary and one per member shard.

    A member's folder holds, besides its page, files that are not pages of the site's theme
    (its printable notices, see :data:`dote.notices.PAGE_NAME`): they carry no
    ``data-pagefind-body``, so Pagefind would parse them only to leave them out — at 1,000
    members, 90 MB of HTML and most of the search stage. No job lists them.
    """
    members = set(member_ids)
    member_pages: list[Path] = []
    others: list[Path] = []
    for page in site.rglob("*.html"):
        parts = page.relative_to(site).parts
        if len(parts) == 3 and parts[0] == MEMBER_PAGES and parts[1] in members:
            if parts[2] == "index.html":
                member_pages.append(page)
            continue  # a member's printable page: never indexed
        others.append(page)
    others.sort()

    def named(pages: Iterable[Path]) -> str:  # one by one: globs have no negation
        return "{" + ",".join(sorted(_glob_escape(p.relative_to(site).as_posix()) for p in pages)) + "}"

    if shards == 0:
        return [Job(PRIMARY, named([*others, *member_pages]), tuple(sorted([*others, *member_pages])))]
    return [Job(PRIMARY, named(others), tuple(others)), *shard_jobs(site, member_ids, shards)]


def shard_jobs(site: Path, member_ids: Sequence[str], shards: int) -> list[Job]:
    """The member shards' runs (see :func:`jobs`)."""
    groups: list[list[str]] = [[] for _ in range(shards)]
    for member_id in member_ids:
        groups[shard_of(member_id, shards)].append(member_id)
    result = []
    for n, group in enumerate(groups):
        if not group:
            continue
        names = ",".join(_glob_escape(member_id) for member_id in sorted(group))
        pages = tuple(sorted(site / MEMBER_PAGES / member_id / "index.html" for member_id in group))
        result.append(Job(SHARD.format(n), f"{MEMBER_PAGES}/{{{names}}}/index.html", pages))
    return result


# --- search documents of the member pages ---------------------------------------------------


def _paragraph(label: str, values: Iterable[str]) -> str:
    texts = [v for v in values if v]
    return f"<p>{html_text(label)} : {html_text(' ; '.join(texts))}</p>" if texts else ""


def _activity_document(activity: Activity, processors: Mapping[str, Processor]) -> str:
    a = activity
    parts = [f'<section><h3 id="{html_text(a.id)}">{html_text(a.name)}</h3>']
    if a.description:
        parts.append(f"<p>{html_text(a.description)}</p>")
    parts.append(_paragraph("Finalités", (a.purpose, *a.secondary_purposes)))
    if a.department:
        parts.append(f"<p>{html_text(a.department)}</p>")
    if a.legal_basis is not None:
        parts.append(_paragraph("Base légale", (a.legal_basis.basis.label,)))
    parts.append(_paragraph("Personnes concernées", (*(t.label for t in a.subjects), a.subjects_details)))
    parts.append(
        _paragraph(
            "Données",
            (f"{c.kind.label} ({c.details})" if c.details else c.kind.label for c in a.categories),
        )
    )
    names = [processors[p].name if p in processors else p for p in a.recipients.processors]
    parts.append(_paragraph("Destinataires", (*a.recipients.internal, *a.recipients.external, *names)))
    if a.transfers:
        parts.append(
            _paragraph(
                "Transferts hors de l'Union européenne",
                (f"{t.country.label} ({t.recipient})" for t in a.transfers),
            )
        )
    parts.append(_paragraph("Moyens", (t.label for t in a.means)))
    parts.append(_paragraph("Surveillance", (t.label for t in a.monitoring)))
    parts.append(_paragraph("Outils", a.tools))
    parts.append(_paragraph("Thèmes", (t.label for t in a.themes)))
    parts.append("</section>")
    return "".join(parts)


def member_document(member: Member, processors: Mapping[str, Processor], filters: str) -> str:
    """The text Pagefind indexes for a member's page (see the module's docstring).

    ``filters`` is the page's own block of Pagefind filters, as rendered on the page. Every
    register value is escaped here as on the page: the document is read by Pagefind, and
    what Pagefind shows of it in results is the same text.
    """
    about = ", ".join(html_text(v) for v in (member.kind.label, member.town) if v)
    body = [f"<h1>{html_text(member.name)}</h1><p>{about}</p>"]
    if member.description:
        body.append(f"<p>{html_text(member.description)}</p>")
    body += [_activity_document(a, processors) for a in member.activities]
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{html_text(member.name)}</title></head>"
        f"<body><main data-pagefind-body>{''.join(body)}{filters}</main></body></html>"
    )


def stage(site: Path, folder: Path, documents: Mapping[str, str]) -> None:
    """What Pagefind reads, in ``folder``: every page of ``site``, member pages replaced.

    ``documents`` maps a page's path relative to the site (``registres/x/index.html``) to
    its search document. Other pages are hard links to the site's files (copies on a file
    system without links).
    """
    for page in site.rglob("*.html"):
        relative = page.relative_to(site).as_posix()
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative in documents:
            target.write_text(documents[relative], encoding="utf-8")
            continue
        try:
            os.link(page, target)
        except OSError:
            shutil.copyfile(page, target)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]{},\\" else c for c in text)


def index(
    site: Path,
    member_ids: Sequence[str],
    shards: int,
    options: Sequence[str],
    cache_folder: Path | None,
    documents: Mapping[str, str] | None = None,
    started: MemberShards | None = None,
) -> tuple[int, int]:
    """Index ``site``: each job from the cache when its pages are unchanged, or by Pagefind.

    With ``documents`` (search documents by page path, see :func:`stage`), Pagefind reads
    a staging copy of the site where those pages are replaced; the bundles are written
    into ``site``. With ``started``, the member shards' runs begun before the site was
    written (:class:`MemberShards`): only the primary is left to index, then they are
    waited for. Returns how many bundles were indexed and how many were taken from the
    cache. Raises :class:`RuntimeError` with Pagefind's last lines when a run fails.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="dote-recherche-") as staging:
            source = site
            if documents:
                source = Path(staging)
                stage(site, source, documents)
            todo = jobs(source, member_ids, shards)
            if started is not None:
                todo = todo[:1]  # the primary: the shards run apart
            keep = started.keys if started is not None else ()
            indexed, reused = _index(site, source, todo, max(shards, 1), options, cache_folder, keep)
    finally:
        early = started.finish() if started is not None else (0, 0)
    return indexed + early[0], reused + early[1]


class MemberShards:
    """The member shards' Pagefind runs, started as soon as every member page's search
    document is known: they index while the rest of the site is written (the primary,
    which indexes that rest, runs at the end). A shard unchanged since an earlier build is
    taken from the cache at the end."""

    def __init__(
        self,
        site: Path,
        member_ids: Sequence[str],
        shards: int,
        options: Sequence[str],
        cache_folder: Path | None,
        documents: Mapping[str, str],
    ) -> None:
        self.site = site
        self.cache_folder = cache_folder
        self._staging = tempfile.TemporaryDirectory(prefix="dote-recherche-membres-")
        source = Path(self._staging.name)
        # Keyed by the documents' bytes as they would be staged; only the documents of the
        # shards Pagefind indexes again are written (in a warm build, one shard's).
        staged = {relative: text.encode("utf-8") for relative, text in documents.items()}
        version = _pagefind_version()
        self.runs: list[tuple[Job, str, subprocess.Popen[str] | None]] = []
        try:
            for job in shard_jobs(source, member_ids, shards):
                pages = [p.relative_to(source).as_posix() for p in job.pages]
                pages = [relative for relative in pages if relative in staged]
                digests = [_digest(relative, staged[relative]) for relative in pages]
                key = content_key(version, job.output, job.glob, *options, *digests)
                cached = cache_folder / key if cache_folder is not None else None
                process = None
                if cached is None or not cached.is_dir():
                    for relative in pages:
                        target = source / relative
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(staged[relative])
                    process = subprocess.Popen(
                        _command(source, site / job.output, job.glob, options),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                self.runs.append((job, key, process))
        except BaseException:
            self.finish(stop=True)
            raise

    @property
    def keys(self) -> list[str]:
        return [key for _, key, _ in self.runs]

    def finish(self, *, stop: bool = False) -> tuple[int, int]:
        """Wait for the runs (or, with ``stop``, end them) and put every bundle in place.

        Returns how many bundles were indexed and how many were taken from the cache.
        """
        indexed = reused = 0
        failures: list[str] = []
        try:
            for job, key, process in self.runs:
                cached = self.cache_folder / key if self.cache_folder is not None else None
                if process is None:
                    if not stop and cached is not None:
                        _link_tree(cached, self.site / job.output)
                        reused += 1
                    continue
                if stop:
                    process.kill()
                out, err = process.communicate(timeout=3600)
                if stop:
                    continue
                if process.returncode != 0:
                    failures.append("\n".join((err or out).strip().splitlines()[-5:]))
                    continue
                indexed += 1
                if cached is not None:
                    _store(self.site / job.output, cached)
        finally:
            self.runs = []
            self._staging.cleanup()
        if failures:
            raise RuntimeError("\n".join(failures))
        return indexed, reused


def _command(source: Path, output: Path, glob: str, options: Sequence[str]) -> list[str]:
    command = [sys.executable, "-m", "pagefind", "--site", str(source), "--output-path", str(output)]
    return [*command, "--glob", glob, *options, "--silent"]


def _index(
    site: Path,
    source: Path,
    todo: Sequence[Job],
    width: int,
    options: Sequence[str],
    cache_folder: Path | None,
    keep: Sequence[str] = (),
) -> tuple[int, int]:
    version = _pagefind_version()
    reused: list[str] = []

    def run(job: Job) -> str:
        key = content_key(version, job.output, job.glob, *options, *_page_digests(source, job.pages))
        cached = cache_folder / key if cache_folder is not None else None
        target = site / job.output
        if cached is not None and cached.is_dir():
            _link_tree(cached, target)
            reused.append(job.output)
            return key
        command = _command(source, target, job.glob, options)
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError("\n".join(detail))
        if cached is not None:
            _store(target, cached)
        return key

    with ThreadPoolExecutor(max(1, min(len(todo), width))) as pool:  # as many runs at once
        keys = [future.result() for future in [pool.submit(run, job) for job in todo]]
    keys += keep
    if cache_folder is not None and cache_folder.is_dir():  # bundles of pages since changed
        for stale in cache_folder.iterdir():
            if stale.name not in keys:
                shutil.rmtree(stale, ignore_errors=True)
    return len(todo) - len(reused), len(reused)


def _page_digests(site: Path, pages: Sequence[Path]) -> list[str]:
    return [_digest(page.relative_to(site).as_posix(), page.read_bytes()) for page in pages]


def _digest(relative: str, data: bytes) -> str:
    """What stands for one page Pagefind reads in its run's key: its place and its bytes."""
    return f"{relative}:{hashlib.sha256(data).hexdigest()}"


def _link_tree(source: Path, target: Path) -> None:
    """``target`` made a copy of the folder ``source`` whose files are hard links to its files
    (Pagefind's files are written once and never changed in place); copies on a file system
    without links, or across file systems."""
    try:
        shutil.copytree(source, target, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def _store(bundle: Path, cached: Path) -> None:
    """Copy a shard's bundle into the cache (a temporary folder renamed: never half a bundle)."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cached.parent))
    except OSError:
        return  # a read-only disk: the next build indexes the shard again
    try:
        _link_tree(bundle, staging / "bundle")
        (staging / "bundle").rename(cached)
    except OSError:
        pass  # a full disk, or another build stored it first
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pagefind_version() -> str:
    try:
        from importlib.metadata import version

        return version("pagefind")
    except Exception:  # pragma: no cover - pagefind is a dependency
        return "?"
