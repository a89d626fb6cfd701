"""The MkDocs adapter: runs the pipeline once per build and hands its pages to MkDocs.

Generated pages never go through Markdown: each is added as a tiny virtual file, and
its HTML, rendered by Jinja, replaces the (empty) content after Markdown. They stay out
of the navigation unless ``mkdocs.yml`` lists them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc
from mkdocs.utils.meta import get_data as get_markdown_meta

from dote import (
    algorithms,
    annual_report,
    audit,
    csp,
    dashboard,
    documents,
    explorer,
    notices,
    office,
    opendata,
    pipeline,
    render,
    search,
    tables,
    training,
    watch_site,
    workers,
)
from dote.cache import (
    FileStore,
    MemberFragments,
    MemberResults,
    MemberValues,
    PageCache,
    compress,
    content_key,
    decompress,
    engine_fingerprint,
    template_cache,
)
from dote.confidential import OVERLAY_ENV, overlay_location, private_location_refusal
from dote.files import NEW_FILE_MODE, system_reason
from dote.label import Evaluation
from dote.model import Member, Territory, activity_summaries
from dote.page_links import LINK_TEMPLATE, Manifest, QuietSkips, Shell, link, page_key, shell_key, unchanged
from dote.problems import format_problems, relative_name
from dote.safe import html_text
from dote.schema import published_schemas

log = logging.getLogger("mkdocs.plugins.dote")
#: Warnings that must not abort a strict build (``dote build``): outside MkDocs' loggers,
#: whose warnings a strict build counts. A missing ``site_url`` only withholds the feeds.
notice = logging.getLogger("dote.site")

STYLESHEET = "assets/dote/dote.css"
SEARCH_SCRIPT = "assets/dote/recherche.js"
# Generated pages are not rendered by mkdocs-macros: their text comes from registers.
_STUB = "---\nrender_macros: false\n---\n"


#: From how many pages to render a parallel pool of workers is worth forking.
PARALLEL_FROM = 64
#: The generated pages, for the forked workers (set just before they are forked).
_PAGES: Mapping[str, render.GeneratedPage] = {}


def _no_document(generated: render.GeneratedPage, html: str) -> str | None:
    return None


#: A generated page and its HTML → its search document, or None (set with _PAGES).
_DOCUMENT: Callable[[render.GeneratedPage, str], str | None] = _no_document

#: A generated page's HTML (packed: see _pack) and, for a member page, its search document
#: (see dote.search).
Rendered = tuple[bytes, "str | None"]


def _render_page(src_uri: str, url: str) -> Rendered:
    """In a worker process: one generated page's HTML, and its search document."""
    html = _PAGES[src_uri].kept_html(url)
    return _pack(html), _DOCUMENT(_PAGES[src_uri], html)


#: The territory and the members' document templates, for the forked workers.
_MEMBER_DOCUMENTS: tuple[Territory, Mapping[office.Format, office.Template]] | None = None


def _member_documents(member_id: str, jobs: list[documents.MemberJob], legal: dict[str, str]) -> None:
    """In a worker process: write one member's notices and rights letters."""
    assert _MEMBER_DOCUMENTS is not None
    territory, templates = _MEMBER_DOCUMENTS
    documents.write_member_documents(territory, territory.members_by_id[member_id], templates, jobs, legal)


#: What the explorer's data file is made of, for a forked worker (set before they are forked).
_EXPLORER: tuple[Territory, Evaluation | None, MemberResults | None, Mapping[str, str] | None] | None = None


def _explorer_data() -> bytes:
    """In a worker process: the explorer's data file."""
    assert _EXPLORER is not None
    return explorer.data_file(*_EXPLORER)


#: The open data to make in a forked process (set just before it is forked).
_OPEN_DATA: tuple[opendata.OpenData, FileStore] | None = None


def _open_data_apart() -> tuple[list[opendata.Dataset], dict[str, bytes], set[str]]:
    """In a forked process: the open data's datasets, catalogue and the file-store entries used."""
    assert _OPEN_DATA is not None
    data, store = _OPEN_DATA
    data.build()
    return data.datasets, data.catalogue, store.used()


def _shut(pool: ProcessPoolExecutor | None) -> None:
    """Stop a pool of forked workers, if there is one, its queued jobs cancelled."""
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


#: A page's content changed before this plugin's turn: its inline scripts cannot be told
#: from the theme's (see dote.csp), the build fails rather than allow them.
_CHANGED_CONTENT = (
    "dote : le contenu de la page {page} a été modifié avant le plugin « dote » : placez « dote » "
    "en premier dans la liste « plugins » de mkdocs.yml"
)


def _pack(html: str) -> bytes:
    """A generated page's HTML as the build keeps it (until it is themed, and in the cache):
    ``1`` if it holds ``<h1`` (``0`` if not), then its UTF-8 bytes compressed."""
    return (b"1" if "<h1" in html else b"0") + compress(html.encode("utf-8"))


def _is_packed(entry: bytes) -> bool:
    """Whether a cache entry starts as :func:`_pack` makes a page (search documents do not)."""
    return entry[:1] in (b"0", b"1")


def _unpack(packed: bytes) -> str:
    """The HTML :func:`_pack` kept (``ValueError`` if damaged)."""
    return _unpack_bytes(packed).decode("utf-8")


def _unpack_bytes(packed: bytes) -> bytes:
    """The UTF-8 bytes of the HTML :func:`_pack` kept (``ValueError`` if damaged)."""
    if not _is_packed(packed):
        raise ValueError("not a packed page")
    return decompress(packed[1:])


def _document_key(page_key: str) -> str:
    """The cache key of a page's search document: it depends on what the page depends on."""
    return content_key(page_key, "recherche")


def _overrides(root: Path) -> list[bytes]:
    """The territory's own templates (overrides/dote/): part of every cached page's key."""
    folder = root / render.TEMPLATE_OVERRIDES
    if not folder.is_dir():
        return []
    return [
        path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


class DoteConfig(base.Config):
    enabled = c.Type(bool, default=True)
    # The territory's root folder (holding registers/); defaults to the folder of mkdocs.yml.
    root = c.Optional(c.Dir(exists=True))
    # The date that rules relative to "today" use (ISO 8601); defaults to the build's day.
    reference_date = c.Optional(c.Type(str))
    # The confidential overlay folder, read by internal builds only (`dote build --internal`);
    # $DOTE_CONFIDENTIEL or `--overlay` take precedence. A public build never reads it.
    overlay = c.Optional(c.Type(str))
    # Site search with Pagefind, indexed at the end of the build (replaces Material's search).
    search = c.Type(bool, default=True)
    # How many shards the member pages are indexed in (see dote.search); -1: by the site's size.
    search_shards = c.Type(int, default=-1)
    # The reference documents that style DOCX and ODT downloads (paths relative to the
    # territory's root); by default, the package's (see dote.documents).
    reference_docx = c.Optional(c.Type(str))
    reference_odt = c.Optional(c.Type(str))


def _member_page(member_id: str) -> str:
    """The source address of a member's generated page."""
    return f"{search.MEMBER_PAGES}/{member_id}/index.md"


def _search_options(config: MkDocsConfig) -> list[str]:
    """Pagefind's options for this site."""
    options = ["--force-language", "fr"]
    # Not content: the headings' permalink signs and the search form of every page.
    options += ["--exclude-selectors", ".headerlink", "--exclude-selectors", ".dote-recherche-rapide"]
    if not config.use_directory_urls:
        options.append("--keep-index-url")  # pages are .html files: results must name them
    return options


class _SidebarMemo:
    """Material's sidebars (navigation and table of contents), rendered once for all the
    member pages: same depth, none of them in the navigation, no table of contents of their
    own (their content is not Markdown), so the same HTML, which the theme would otherwise
    render a thousand times (see ``theme/main.html``, block ``site_nav``)."""

    def __init__(self) -> None:
        self.html: Any = None

    def keep(self, html: Any) -> Any:
        self.html = html
        return html


class _CachedFile(File):
    """A file the build made in its cache (a download): linked into the site, not copied.

    The cache never writes into an entry it holds (an entry is written beside and renamed),
    so the site's file and the cache's share their bytes safely; a site on another file
    system gets a copy.
    """

    #: Folders of the site this build has made (thousands of files go to a few hundred).
    made_folders: ClassVar[set[str]] = set()

    def copy_file(self, dirty: bool = False) -> None:
        assert self.abs_src_path is not None
        output_path = self.abs_dest_path
        folder = os.path.dirname(output_path)
        try:
            if folder not in self.made_folders:
                os.makedirs(folder, exist_ok=True)
                self.made_folders.add(folder)
            if os.stat(self.abs_src_path).st_mode & 0o777 != NEW_FILE_MODE:
                # An entry of an older version, written private (0o600): the site's copy must be
                # readable by the web server, as a copied file would be.
                os.chmod(self.abs_src_path, NEW_FILE_MODE)
            try:
                os.link(self.abs_src_path, output_path)
            except FileExistsError:
                os.unlink(output_path)
                os.link(self.abs_src_path, output_path)
        except OSError:
            super().copy_file(dirty)


def _stored_file(config: MkDocsConfig, path: str, stored: Path | None, content: bytes | None) -> File:
    """The site's file at ``path``: linked from its file-store entry, or (a build without a
    cache) written from ``content``."""
    if stored is not None:
        return _CachedFile.generated(config, path, abs_src_path=str(stored))
    assert content is not None
    return File.generated(config, path, content=content)


class _GeneratedPage(Page):
    """A page whose content the plugin makes (its Markdown is empty, see ``on_page_markdown``):
    MkDocs would set up a Markdown converter with every extension for each of them, about half
    a millisecond a page, to convert nothing. What that conversion gives, given here."""

    def render(self, config: MkDocsConfig, files: Files) -> None:
        if self.markdown is None or self.markdown.strip():  # another plugin wrote some: converted
            super().render(config, files)
            return
        self.content = ""
        self.toc = get_toc([])
        self._title_from_render = None
        self.present_anchor_ids = set()
        self.links_to_anchors = {}


class DotePlugin(BasePlugin[DoteConfig]):
    """Adds the registers of a Maison DOTE territory to an MkDocs site."""

    #: MkDocs holds every page's content until it has themed them all (2 GB of text for 5,000
    #: member pages, Python keeping most of it at two bytes a character): a generated page's
    #: content is kept here compressed, as the cache keeps it, until then, and MkDocs holds a
    #: marker in its place, replaced in on_post_page by the content (a theme must show it once,
    #: as Material does). Pages linked from the previous site are never uncompressed.
    PARK_CONTENTS = True
    #: Member pages that are not linked from the previous site are themed by filling the
    #: template's output for a sample page (dote.page_links.Shell), not by the template.
    FILL_MEMBER_PAGES = True

    def __init__(self) -> None:
        self.territory: Territory | None = None
        self.root: Path | None = None
        self._pages: dict[str, render.GeneratedPage] = {}
        self.label: Evaluation | None = None
        self._badges: dict[str, str] = {}
        # Set by `dote build --internal` only: the overlay to merge into an internal build.
        self.internal_overlay: Path | None = None
        self._command = "build"
        self._fingerprints: Mapping[str, str] = {}
        self._context_key = ""
        self._dateless_key = ""
        self._rendered: dict[str, Rendered | Future[Rendered]] = {}
        #: Generated pages' contents (packed: see _pack) and their markers, until MkDocs themes them.
        self._parked: dict[str, tuple[bytes, str]] = {}
        self._token = ""
        self._pool: ProcessPoolExecutor | None = None
        self._member_keys: dict[str, str] = {}
        self._window_keys: dict[str, str] = {}
        self._own_templates = False
        #: The forked process making the open data (see _open_data), and its result.
        self._apart: ProcessPoolExecutor | None = None
        self._open_data_job: Future[tuple[list[opendata.Dataset], dict[str, bytes], set[str]]] | None = None
        #: The explorer's data file, when a worker makes it (see on_files).
        self._explorer_job: Future[bytes] | None = None
        self._cache = PageCache(None)
        self._data_store = FileStore(None, "donnees")
        self._badge_store = FileStore(None, "badges")
        self._shards = 0
        self._waited = 0.0
        self.watch: watch_site.WatchSite | None = None
        self.opendata: opendata.OpenData | None = None
        self._today = dt.date.today()
        #: The search documents of the member pages, by page path (see dote.search).
        self._search_documents: dict[str, str] = {}
        # --- downloads (issue 12): pandoc's outputs, and the pages that offer them ---
        self._references: documents.References | None = None
        self._converter: documents.Converter | None = None
        #: Pages of docs/ offered as downloads: src_uri → their links (Markdown).
        self._download_links: dict[str, str] = {}
        #: Members' documents being written by the page workers.
        #: Members' documents given to the workers: the job, and what to write it from here.
        self._member_jobs: list[tuple[Future[None], str, list[documents.MemberJob], dict[str, str]]] = []
        self._sidebars = _SidebarMemo()
        self._in_nav: set[str] = set()
        self._nav: Any = None
        #: Set by `dote build` for a public build: the site this build replaces, whose unchanged
        #: member pages are linked instead of themed again (dote.page_links).
        self.previous_site: Path | None = None
        self._links: dict[str, Path] = {}  # src_uri → the previous build's file
        self._link_keys: dict[str, str] = {}  # dest_uri → key, recorded for the next build
        self._quiet: QuietSkips | None = None
        self._writes_filled = False
        self._shell: Shell | None = None
        self._filled: set[str] = set()  # src_uri of the member pages themed by the shell
        self._early_shards: search.MemberShards | None = None
        self.training = training.Training()
        # --- end of downloads ---

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self._command = command

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if not self.config.enabled:
            return config
        self.root = Path(self.config.root or Path(config.config_file_path).parent).resolve()
        self._forget_overlay(config)
        today = None
        if self.config.reference_date:
            try:
                today = dt.date.fromisoformat(self.config.reference_date)
            except ValueError as err:
                raise PluginError(
                    f"dote : reference_date « {self.config.reference_date} » n'est pas une date AAAA-MM-JJ"
                ) from err
        internal = self.internal_overlay is not None
        started = time.perf_counter()
        result = pipeline.run(
            self.root,
            today=today,
            overlay=self.internal_overlay,
            cache=True,
            docs_dir=Path(config.docs_dir),
        )
        log.info(f"dote : registres lus, vérifiés et évalués en {time.perf_counter() - started:.1f} s")
        for warning in result.problems:
            if not warning.is_error:
                log.info(warning.text())
        if not result.ok or result.territory is None:
            raise PluginError(
                f"le territoire « {relative_name(self.root, Path.cwd())} » contient "
                f"{len(result.errors)} erreur(s) :\n" + format_problems(result.errors, "text")
            )
        self.territory = result.territory
        # Pages of an internal build carry confidential fields: never cached.
        self._cache = PageCache(None if internal else self.root)
        # The watch page also shows the names of the watch's sources.
        self._fingerprints = {
            **result.fingerprints,
            watch_site.FINGERPRINT: watch_site.fingerprint(
                result.fingerprints.get(pipeline.EVERYTHING, ""), result.watch
            ),
        }
        self._today = today or dt.date.today()
        # What each member's kept results (explorer values, review table) are keyed by: its
        # records, the shared files and the date (none without fingerprints).
        self._member_keys = self._keys_for(self._today)
        env = render.environment(self.root)
        env.bytecode_cache = template_cache(self.root, env, "pages")  # templates compiled once
        # Whether the site has the training modules' page: the calendar links to it only then.
        modules_page = (Path(config.docs_dir) / training.MODULES_FOLDER / "index.md").is_file()
        # What every generated page and download is made with besides the registers; the
        # members' documents (notices, letters) show no date but those of the registers, so
        # theirs leaves the date out: they are not made again on the first build of a day.
        overrides = _overrides(self.root)
        self._own_templates = bool(overrides)
        self._dateless_key = content_key(
            engine_fingerprint(),
            config.site_url or "",
            str(self.config.search),
            str(env.globals["glossary"]),
            str(modules_page),
            *overrides,
        )
        self._context_key = content_key(self._dateless_key, self._today.isoformat())
        self.label = result.label
        # What depends on the date only through a member's label (its page, once its label's
        # date is put in when written; its open data, explorer values and dashboard figures) is
        # kept for the days its label stays the same (label.DateWindow), not for the day only;
        # not with templates of the territory's own, which may use the date otherwise. The key
        # has what the label is made of besides the member's files and the shared ones: the
        # days of its window, and the end of the last session it attended (the date moves it).
        windows = self.label.windows if self.label is not None else {}
        self._window_keys = (
            {
                m.id: pipeline.member_key(
                    self._fingerprints, m.id, f"fenetre {windows[m.id]} {m.training_attended}"
                )
                for m in self.territory.members
            }
            if self._member_keys and not overrides and all(m.id in windows for m in self.territory.members)
            else {}
        )
        site_url = config.site_url or ""
        # The dashboard's stores (see below), known to the open data, whose forked workers keep
        # each member's figures as they make its texts (a clean build; see OpenData.along).
        # Each member's figures and records to review are kept between public builds, under its key.
        figures = kept_reviews = None
        if not internal and self._member_keys:
            # A member's figures depend on the date through its label only (kept for its window);
            # its records to review are kept without the date, with their own window.
            figures = MemberValues(self.root, "tableau", self._window_keys or self._member_keys)
            kept_reviews = MemberValues(self.root, "revues-fiches", self._keys_for("revues sans date"))
            figures.prune()
            kept_reviews.prune()
        # --- open data: made first, while this process goes on with the pages (see _open_data) ---
        self._data_store = FileStore(None if internal else self.root, "donnees")
        self._badge_store = FileStore(None if internal else self.root, "badges")
        self.opendata = opendata.OpenData(
            self.territory,
            self.label,
            site_url,
            self._today,
            internal=internal,
            cache=_OpenDataCache(self),
            store=self._data_store,
            build_now=False,
            along=None
            if figures is None
            else dashboard.figures_keeper(
                self.territory, self.label, self._today, figures, figures_dated=not self._window_keys
            ),
        )
        self._open_data()
        # --- legal watch: its page, feeds (in on_files) and the items of each activity ---
        self.watch = watch_site.WatchSite(result.watch, self.territory, site_url)
        if refusal := watch_site.feeds_refusal(result.watch, site_url):
            notice.warning(refusal)
        pages = render.register_pages(
            self.territory,
            env,
            label=self.label,
            site_url=site_url,
            watch=self.watch,
            # the DPO's registers of requests and breaches: internal builds only (the overlay)
            dpo_registers=result.dpo_registers if internal else None,
            today=self._today,
            # the member's audit and action plan (issue 16): internal builds only (the overlay)
            audit_section=audit.section_renderer(result.audit, env, self._today) if internal else None,
            # the member's annual report for the current year (issue 16): internal builds only
            annual_report_section=annual_report.section_renderer(result, env, self._today)
            if internal
            else None,
        )
        pages.append(self.watch.page(env))
        # --- end of legal watch ---
        if self.label is not None:
            pages += render.label_pages(self.territory, self.label, env, site_url=site_url)
            self._badges = render.badges(self.label, env)
        pages += render.catalogue_pages(self.territory, env)
        # --- dashboard (issue 9): its page, and its figures for the home page's macros ---
        self.dashboard = dashboard.compute(
            self.territory,
            self.label,
            self._today,
            figures,
            kept_reviews,
            figures_dated=not self._window_keys,
        )
        pages += dashboard.pages(self.dashboard, env)
        # --- end of dashboard ---
        # --- reviews (issue 15): the editors' page of records to review, beside the dashboard ---
        from dote import review

        reviews = self.dashboard.review_list
        if reviews is None or self.dashboard.reference_date != self._today:
            reviews = review.compute(self.territory, self.label, self._today, kept=kept_reviews)
        # Each member's table is kept between public builds, under its member's key.
        tables = None
        if not internal and self._member_keys:
            keys = {
                member_id: content_key(self._context_key, key) for member_id, key in self._member_keys.items()
            }
            tables = MemberFragments(self.root, "revues", keys)
            tables.prune()
        pages.extend(review.pages(reviews, self.territory, env, tables))
        # --- end of reviews ---
        # --- downloads (issue 12): reference documents; each member's notices page ---
        try:
            self._references = documents.References.find(
                self.root, self.config.reference_docx, self.config.reference_odt
            )
        except documents.DocumentError as err:
            raise PluginError(f"dote : {err}") from err
        if self._converter is not None:
            self._converter.close(prune=False)
        # An internal build's records carry the overlay: its documents are never cached.
        # The converter starts pandoc on the members' document skeletons now.
        try:
            self._converter = documents.Converter(
                self._references, None if internal else documents.cache_folder(self.root)
            )
        except documents.DocumentError as err:
            raise PluginError(f"dote : {err}") from err
        # --- end of downloads ---
        # --- training (issue 12): the sessions' calendar page; its iCalendar file in on_files ---
        self.training = result.training
        pages.append(
            training.calendar_page(
                self.training,
                env,
                self._today,
                urljoin(site_url, training.ICS_PATH) if site_url else training.ICS_PATH,
                member_names={m.id: m.name for m in self.territory.members},
                modules_page=modules_page,
            )
        )
        # --- end of training ---
        # --- registers explorer (issue 9): its page; its data file and assets in on_files ---
        if refusal := explorer.clash(self.territory):
            raise PluginError(f"dote : {refusal}")
        pages.append(explorer.page(self.territory, env))
        # --- end of registers explorer ---
        # --- public algorithms (issue 16): CRPA art. L311-3-1 and L312-1-3, beside the explorer ---
        if refusal := algorithms.clash(self.territory):
            raise PluginError(f"dote : {refusal}")
        pages.append(algorithms.page(self.territory, env))
        # --- end of public algorithms ---
        # --- open data (/donnees/): its pages; its files (public builds only) in on_files ---
        if not internal and (refusal := opendata.catalogue_refusal(site_url)):
            notice.warning(refusal)
        pages += self.opendata.pages(env)
        # --- end of open data ---
        if self.config.search:
            self._shards = (
                self.config.search_shards
                if self.config.search_shards >= 0
                else search.shard_count(len(self.territory.members), workers.count())
            )
            pages.append(render.search_page(env, search.merged_bundles(self._shards)))
        self._pages = {p.src_uri: p for p in pages}
        config.extra["dote"] = {
            "fictive": self.territory.maison.fictional,
            "interne": self.internal_overlay is not None,
            "nom": self.territory.maison.name,
            "recherche": render.SEARCH_URL if self.config.search else "",
        }
        # The package's theme overrides (fictional-territory banner, legal links in the
        # footer) sit between the territory's own custom_dir and Material's templates.
        theme_dir = str(Path(__file__).parent / "theme")
        if theme_dir not in config.theme.dirs:
            config.theme.dirs.insert(1 if config.theme.custom_dir else 0, theme_dir)
        if STYLESHEET not in [str(s) for s in config.extra_css]:
            config.extra_css.append(STYLESHEET)
        return config

    def _keys_for(self, part: dt.date | str) -> dict[str, str]:
        """Each member's key for what is kept of it under ``part`` (see pipeline.member_key);
        none without fingerprints."""
        assert self.territory is not None
        if pipeline.SHARED not in self._fingerprints:
            return {}
        return {m.id: pipeline.member_key(self._fingerprints, m.id, part) for m in self.territory.members}

    def _open_data(self) -> None:
        """Make the open data; in a forked process when few members' files are not in the
        cache (a warm build: a second or so at 1,000 members of reading them back and writing
        the territory's files, while this process makes the pages). :meth:`_open_data_made`
        takes the result before the pages are rendered. A build with many members to compute
        makes it here, with its own forked workers (see :mod:`dote.opendata`)."""
        assert self.opendata is not None and self.territory is not None
        data = self.opendata
        apart = (
            not data.internal
            and self._command == "build"
            and self._data_store.folder is not None
            and data.cache is not None
            and len(self.territory.members) >= opendata.PARALLEL_FROM
            and workers.available()
            # few to compute: the forked process computes them itself (no workers of its own)
            and len(data.to_compute()) < opendata.PARALLEL_FROM
        )
        if not apart:
            data.build()
            return
        # The summaries of the activities whose records were not made (model.LazyMember), made
        # once here before the process forks: it, the explorer's and the pages' workers read them.
        with pipeline.collection_paused():  # they live until the end, as the records
            for member in self.territory.members:
                activity_summaries(member)
        global _OPEN_DATA
        _OPEN_DATA = (data, self._data_store)
        self._apart = workers.pool(1)
        self._open_data_job = self._apart.submit(_open_data_apart)
        log.info("dote : données ouvertes préparées par un processus parallèle")

    def _open_data_made(self) -> None:
        """Take the open data made apart (see :meth:`_open_data`), if it was."""
        global _OPEN_DATA
        job, self._open_data_job = self._open_data_job, None
        if job is None:
            return
        try:
            datasets, catalogue, used = job.result()
        finally:
            _OPEN_DATA = None
            self._stop_apart()
        assert self.opendata is not None
        self.opendata.adopt((datasets, catalogue))
        self._data_store.adopt(used)

    def _stop_apart(self) -> None:
        self._open_data_job = None
        _shut(self._apart)
        self._apart = None

    def _forget_overlay(self, config: MkDocsConfig) -> None:
        """A public build never learns where the overlay is.

        Pages in docs/, the macros module and the theme overrides are code run by the
        build: in a public build they must not find the overlay through the environment
        variable or the plugin option, which are removed before any of them runs.
        An overlay placed where it would be published is refused in every build.
        """
        assert self.root is not None
        location = overlay_location(None, self.config.overlay, self.root)
        if location is not None:
            refusal = private_location_refusal(location, self.root, "le dépôt confidentiel")
            if not refusal and location.resolve().is_relative_to(Path(config.docs_dir).resolve()):
                refusal = f"le dépôt confidentiel ({location}) est dans le dossier des pages, qui est publié"
            if refusal:
                raise PluginError(f"dote : {refusal}")
        if self.internal_overlay is None:
            if os.environ.pop(OVERLAY_ENV, None) is not None:
                log.info(f"dote : construction publique : la variable {OVERLAY_ENV} est ignorée et retirée")
            self.config.overlay = None

    def on_files(self, files: Files, /, *, config: MkDocsConfig) -> Files | None:
        if not self.config.enabled:
            return files
        assert self.root is not None
        docs_dir = Path(config.docs_dir).absolute()
        taken: dict[str, File] = {}
        for file in files:
            source = file.abs_src_path
            if (
                source
                and Path(source).absolute().is_relative_to(docs_dir)
                and not Path(source).resolve().is_relative_to(self.root)
            ):
                raise PluginError(
                    f"dote : {file.src_uri} est un lien symbolique vers un fichier hors du territoire : "
                    "il serait publié ; remplacez-le par le fichier lui-même"
                )
            taken[file.dest_uri] = file

        def add(file: File) -> None:
            # A hand-written file at the address of a generated one would silently win or
            # lose: refuse it (docs/sous-traitants/x.md and the generated /sous-traitants/x/).
            clash = taken.get(file.dest_uri)
            if clash is not None:
                raise PluginError(
                    f"dote : docs/{clash.src_uri} a la même adresse ({file.url or file.dest_uri}) qu'une page "
                    "générée à partir des registres ; supprimez ou renommez ce fichier"
                )
            taken[file.dest_uri] = file
            files.append(file)

        self._open_data_made()  # before the pages (the open data's) are rendered
        for src_uri in self._pages:
            add(File.generated(config, src_uri, content=_STUB))
        # The members' document templates, in the memory of the workers forked just below.
        global _MEMBER_DOCUMENTS
        assert self._converter is not None and self.territory is not None
        try:
            _MEMBER_DOCUMENTS = (self.territory, self._converter.templates())
        except documents.DocumentError as err:
            raise PluginError(f"dote : {err}") from err
        # The explorer's data (public registers only): each member's values are kept between
        # public builds, under its label's key.
        global _EXPLORER
        kept = MemberResults(self.root, "explorateur") if self.internal_overlay is None else None
        # Its values depend on the date through the member's label only: kept for its window.
        keys = (self._window_keys or self._member_keys) if kept is not None and self._member_keys else None
        _EXPLORER = (self.territory, self.label, kept, keys)
        # Workers start rendering pages now, while this process computes the data files below.
        self._prerender({src_uri: files.get_file_from_path(src_uri) for src_uri in self._pages})
        _CachedFile.made_folders.clear()  # the site's folder is a new one at each build
        for path, svg in self._badges.items():
            # Kept in the file store like the open data: a warm build links the unchanged ones.
            content = svg.encode("utf-8")
            add(_stored_file(config, path, self._badge_store.put(content), content))
        # The footer links to the legal pages wherever their files put them.
        legal = {
            "mentions_legales": "mentions-legales.md",
            "donnees_personnelles": "donnees-personnelles.md",
            "accessibilite": "accessibilite.md",
        }
        config.extra["dote"]["liens"] = {
            key: found.url
            for key, path in legal.items()
            if (found := files.get_file_from_path(path)) is not None
        }
        stylesheet = Path(__file__).parent / "assets" / "dote.css"
        add(File.generated(config, STYLESHEET, content=stylesheet.read_bytes()))
        if self.config.search:
            add(File.generated(config, SEARCH_SCRIPT, content=search.page_script("recherche.js")))
        # --- registers explorer (issue 9): its data file (public registers only), script, style sheet ---
        assert self.territory is not None
        # In a warm build, a worker makes the data file (see _prerender); on_env waits for it.
        if self._explorer_job is not None:
            add(File.generated(config, explorer.DATA_PATH, content=b""))  # its place, filled in on_env
            log.info("dote : données de l'explorateur préparées par un processus parallèle")
        for path, content in explorer.files(
            self.territory, self.label, kept, keys, with_data=self._explorer_job is None
        ).items():
            add(File.generated(config, path, content=content))
        # --- end of registers explorer ---
        # --- dashboard (issue 9): its style sheet, linked from its page only ---
        notices_css = Path(__file__).parent / "assets" / "mentions.css"
        add(File.generated(config, notices.STYLESHEET, content=notices_css.read_bytes()))
        dashboard_css = Path(__file__).parent / "assets" / "tableau-de-bord.css"
        add(File.generated(config, dashboard.STYLESHEET, content=dashboard_css.read_bytes()))
        # --- end of dashboard ---
        # --- legal watch: its script, style sheet and feeds ---
        assert self.watch is not None
        assets = Path(__file__).parent / "assets"
        add(File.generated(config, watch_site.SCRIPT_PATH, content=(assets / "veille.js").read_bytes()))
        add(File.generated(config, watch_site.STYLESHEET_PATH, content=(assets / "veille.css").read_bytes()))
        for path, content in self.watch.files(self._today).items():
            add(File.generated(config, path, content=content))
        # --- end of legal watch ---
        # --- open data: the datasets and the catalogue (none in an internal build) ---
        assert self.opendata is not None
        for path, data in self.opendata.data_files().items():  # written to the store as made
            add(_stored_file(config, path, data.path, data.content))
        # --- end of open data ---
        for name, text in published_schemas().items():
            add(File.generated(config, f"schemas/{name}", content=text))
        # --- training (issue 12): the sessions as an iCalendar file (stamped with the build's day) ---
        stamp = dt.datetime.combine(self._today, dt.time(), dt.UTC)
        calendar = training.calendar(
            self.training, config.site_url or "", self.territory.maison.name, stamp=stamp
        )
        add(File.generated(config, training.ICS_PATH, content=calendar))
        # --- end of training ---
        # --- downloads (issue 12): pages of docs/ as DOCX/ODT/PDF, members' notices and letters ---
        for path, made in self._downloads(files, config).items():
            add(_CachedFile.generated(config, path, abs_src_path=str(made)))
        # --- end of downloads ---
        return files

    # --- downloads (issue 12) ------------------------------------------------------------------

    def _downloads(self, files: Files, config: MkDocsConfig) -> dict[str, Path]:
        """Every download of the site (its path → the file made or on its way), runs started.

        Pandoc runs go on in threads while MkDocs renders the pages; :meth:`on_env` waits.
        """
        assert self.root is not None and self.territory is not None and self._converter is not None
        converter = self._converter
        self._member_jobs = []
        macros = config.plugins.get("macros")
        env = getattr(macros, "env", None) if macros is not None else None
        variables = dict(getattr(macros, "variables", {}) or {}) if macros is not None else {}
        out: dict[str, Path] = {}
        self._download_links = {}
        try:
            for file in list(files.documentation_pages()):
                if file.generated_by is not None or not file.abs_src_path:
                    continue
                source = Path(file.abs_src_path)
                text = source.read_text(encoding="utf-8-sig")
                if not text.startswith("---") or documents.META_KEY not in text:
                    continue
                body, meta = get_markdown_meta(text)
                if meta.get(documents.META_KEY) is not True:
                    continue
                origin = relative_name(source, self.root)
                first_line = text.count("\n") - body.count("\n") + 1
                markdown = documents.render_macros(body, origin, env, variables, first_line)
                markdown = self._handout(file.src_uri, markdown)
                self._download_links[file.src_uri] = documents.links_markdown(file.src_uri)
                for fmt, path in converter.page(markdown, origin).items():
                    out[documents.download_uri(file.src_uri, fmt)] = path
            prints = self._fingerprints
            shared = prints.get(pipeline.SHARED, "")
            written = 0
            legal: dict[str, str] = dict(config.extra["dote"].get("liens", {}))
            # Whether a member has notices the Maison writes is kept under its key, so that an
            # unchanged member's records are not made for it (model.LazyMember).
            kept_notices = (
                MemberValues(self.root, "mentions-generees", self._keys_for("mentions generees"))
                if self.internal_overlay is None and self._member_keys
                else None
            )
            if kept_notices is not None:
                kept_notices.prune()
            for member in self.territory.members:
                jobs: list[documents.MemberJob] = []
                kinds: list[Literal["mentions", "droits"]] = ["droits"]
                has_notices = kept_notices.get(member.id) if kept_notices is not None else None
                if not isinstance(has_notices, bool):
                    has_notices = bool(notices.generated(member))
                    if kept_notices is not None:
                        kept_notices.put(member.id, has_notices)
                if has_notices:
                    kinds.insert(0, "mentions")
                for kind in kinds:
                    # Notices show the member's activities; letters its own file (in SHARED).
                    depends = prints.get(member.id, "") if kind == "mentions" else member.id
                    formats: tuple[documents.MemberFormat, ...] = office.FORMATS
                    if kind == "mentions":  # and the printable page of the notices
                        formats = (*formats, "html")
                    for fmt in formats:
                        # What else it is made of: its template and styles, or the legal pages' addresses.
                        made_of = repr(sorted(legal.items())) if fmt == "html" else converter.identity(fmt)
                        key = content_key(self._dateless_key, kind, shared, depends, made_of)
                        path, made = converter.member_outputs(key, fmt)
                        where = (
                            notices.page_path(member)
                            if fmt == "html"
                            else notices.download_path(member, kind, fmt)
                        )
                        out[where] = path
                        if not made:
                            jobs.append((kind, fmt, path))
                written += len(jobs)
                if jobs and self._pool is not None:
                    job = self._pool.submit(_member_documents, member.id, jobs, legal)
                    self._member_jobs.append((job, member.id, jobs, legal))
                elif jobs:
                    documents.write_member_documents(
                        self.territory, member, converter.templates(), jobs, legal
                    )
        except documents.DocumentError as err:
            raise PluginError(f"dote : {err}") from err
        log.info(f"dote : documents des membres : {written} à écrire, {len(out) - written} repris du cache")
        return out

    def _module(self, src_uri: str) -> training.Module | None:
        """The training module a page of docs/ presents (``formation/<id>.md``), if any."""
        folder, _, name = src_uri.rpartition("/")
        module = (
            self.training.modules.get(name.removesuffix(".md")) if folder == training.MODULES_FOLDER else None
        )
        return module if module is not None and module.src_uri == src_uri else None

    def _handout(self, src_uri: str, markdown: str) -> str:
        """A training module's handout also says its objectives, duration and audience."""
        module = self._module(src_uri)
        if module is None:
            return markdown
        objectives = "\n".join(f"- {o}" for o in module.objectives)
        header = (
            f"**Objectifs :**\n\n{objectives}\n\n"
            f"**Durée :** {module.duration_text} · **Public :** {module.audience_text}\n"
        )
        return documents.with_links(markdown, header)

    def on_nav(self, nav: Any, /, *, config: MkDocsConfig, files: Files) -> Any:
        self._in_nav = {page.file.src_uri for page in nav.pages}
        self._nav = nav
        return nav

    def _shares_shell(self, page: Any) -> bool:
        """Whether ``page`` is a member page themed like all the others: same depth, not in the
        navigation, no table of contents of its own, nothing hidden."""
        if not self.config.enabled or self.territory is None:
            return False
        src_uri = page.file.src_uri if page is not None and getattr(page, "file", None) is not None else ""
        generated = self._pages.get(src_uri)
        return not (
            generated is None
            or self._member_of(generated) is None
            or src_uri in self._in_nav
            or page.toc
            or page.meta.get("hide")
        )

    def _member_sidebars(self, page: Any) -> _SidebarMemo | None:
        """The sidebars' memo when ``page`` is a member page that shares them (else None)."""
        return self._sidebars if self._shares_shell(page) else None

    def _manifest(self) -> Manifest:
        """Where the member pages written by the previous public ``dote build`` are recorded."""
        usable = (
            self._command == "build"
            and self.previous_site is not None
            and self.internal_overlay is None
            and self._cache.folder is not None
        )
        return Manifest(
            self._cache.folder.parent / "pages-du-site" if usable and self._cache.folder else None
        )

    def _plan_links(self, env: Any, config: MkDocsConfig, files: Files) -> None:
        """Key every member page (see dote.page_links); a page whose key is the one the
        previous build recorded, and whose file is still there, is linked from it instead of
        being themed (its template then renders nothing). The others are themed by filling
        the template's output once rendered (see :meth:`_plan_fills`)."""
        self._links, self._link_keys = {}, {}
        shared = [
            file.page
            for file in files.documentation_pages()
            if file.page is not None and self._shares_shell(file.page)
        ]
        manifest = self._manifest()
        shell = (
            shell_key(env, config, files, self._nav, search.MEMBER_PAGES)
            if manifest.path is not None and self.previous_site is not None
            else None
        )
        if shell is not None:
            # The pages' content is kept with the date's mark (GeneratedPage.marked): a page
            # written on another day named another date.
            shell = content_key(shell, self._today.isoformat())
        if shell is not None and self.previous_site is not None:
            kept = manifest.read(self.previous_site)
            for page in shared:
                parked = self._parked.get(page.file.src_uri)
                key = self._link_keys[page.file.dest_uri] = page_key(
                    shell, page, parked[0] if parked else None
                )
                old = unchanged(self.previous_site, page.file.dest_uri, key, kept) if kept else None
                if old is not None:
                    page.meta["template"] = LINK_TEMPLATE
                    self._links[page.file.src_uri] = old
        if self._links:
            log.info(
                f"dote : {len(self._links)} page(s) de membre inchangée(s), reprise(s) du site précédent"
            )
        self._plan_fills(env, config, files, [p for p in shared if p.file.src_uri not in self._links])
        # A filled page is written by this plugin (_write_filled) when no plugin after it changes
        # pages: then it goes through their on_post_page, and MkDocs writes it.
        after = config.plugins.events["post_page"]
        self._writes_filled = bool(after) and getattr(after[-1], "__self__", None) is self
        # MkDocs says « Page skipped » of a page it did not write: linked, or filled and written
        # by this plugin (_write_filled).
        if self._links or (self._filled and self._writes_filled):
            self._quiet = QuietSkips([*self._links, *(self._filled if self._writes_filled else ())])
            logging.getLogger("mkdocs.commands.build").addFilter(self._quiet)

    def _plan_fills(self, env: Any, config: MkDocsConfig, files: Files, pages: list[Any]) -> None:
        """Theme the member ``pages`` by filling the shell (dote.page_links.Shell) where it
        gives what the template would: checked on two of them (a title holding a character
        reference, and one without), each rendered both ways; if either differs, none is filled."""
        self._shell, self._filled = None, set()
        if not self.FILL_MEMBER_PAGES or not pages:
            return
        shell = Shell(env, config, files, self._nav, search.MEMBER_PAGES, pages[0].meta)
        fillable = [page for page in pages if shell.fillable(page)]
        if not fillable:
            return
        # Checked on a page whose title is escaped (« d&#x27;Exemple »), and on one whose is not.
        escaped = next((page for page in fillable if "&" in page.meta["title"]), fillable[0])
        plain = next((page for page in fillable if "&" not in page.meta["title"]), fillable[0])
        if not (shell.check(escaped) and shell.check(plain)):
            log.info(
                "dote : le thème ne se remplit pas comme prévu : chaque page de membre est mise en forme"
            )
            return
        for page in fillable:
            page.meta["template"] = LINK_TEMPLATE  # renders nothing: on_post_page fills the shell
            self._filled.add(page.file.src_uri)
        self._shell = shell

    def _end_links(self, config: MkDocsConfig | None) -> None:
        """Record the member pages of this build for the next one (``config``: the build
        succeeded), and let MkDocs speak of skipped pages again."""
        if self._quiet is not None:
            logging.getLogger("mkdocs.commands.build").removeFilter(self._quiet)
            self._quiet = None
        self._shell, self._filled = None, set()
        if config is not None and self._link_keys and self.previous_site is not None:
            self._manifest().write(self.previous_site, Path(config.site_dir), self._link_keys)
        self._links, self._link_keys = {}, {}

    def on_env(self, env: Any, /, *, config: MkDocsConfig, files: Files) -> Any:
        """Every download is made before MkDocs copies the files: wait for the pandoc runs."""
        self._sidebars = _SidebarMemo()
        if self.root is not None and env.bytecode_cache is None:  # Material's templates compiled once
            env.bytecode_cache = template_cache(self.root, env, "theme")
        env.globals["dote_barres"] = self._member_sidebars
        if self._converter is not None:
            started = time.perf_counter()
            try:
                # A job no worker has started yet is written here instead of waited for (the
                # workers are still busy with pages given to them before): from the last, while
                # the workers go on from the first.
                for job, member_id, member_jobs, legal in reversed(self._member_jobs):
                    if job.cancel():
                        assert self.territory is not None
                        documents.write_member_documents(
                            self.territory,
                            self.territory.members_by_id[member_id],
                            self._converter.templates(),
                            member_jobs,
                            legal,
                        )
                    else:
                        job.result()
                self._member_jobs = []
                self._converter.wait()
            except documents.DocumentError as err:
                raise PluginError(f"dote : {err}") from err
            log.info(
                f"dote : téléchargements : {self._converter.runs} conversion(s) pandoc, "
                f"attendues {time.perf_counter() - started:.1f} s"
            )
        if self._explorer_job is not None:  # made by a worker (see on_files)
            data = self._explorer_job.result()
            self._explorer_job = None
            placeholder = files.get_file_from_path(explorer.DATA_PATH)
            assert placeholder is not None
            placeholder.content_bytes = data
        # Every page's content is made (MkDocs does it before this event): the workers, which
        # hold their own copies of the records they touched, are done before Pagefind starts.
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._start_member_shards(config, files)
        self._plan_links(env, config, files)
        return env

    def _search_cache(self) -> Path | None:
        return self._cache.folder.parent / "recherche" if self._cache.folder is not None else None

    def _start_member_shards(self, config: MkDocsConfig, files: Files) -> None:
        """Start indexing the member shards now, while MkDocs applies the theme to every page
        and writes it: MkDocs has made every page's content (and this plugin every member
        page's search document) before this point."""
        if not self.config.enabled or not self.config.search or not self._shards or self.territory is None:
            return
        documents: dict[str, str] = {}
        for member in self.territory.members:
            file = files.get_file_from_path(_member_page(member.id))
            document = self._search_documents.get(file.dest_uri) if file is not None else None
            if file is None or document is None:
                return  # then every bundle is made at the end
            documents[file.dest_uri] = document
        try:
            self._early_shards = search.MemberShards(
                Path(config.site_dir),
                [m.id for m in self.territory.members],
                self._shards,
                _search_options(config),
                self._search_cache(),
                documents,
            )
        except (OSError, subprocess.SubprocessError) as err:
            raise PluginError(f"dote : l'indexation de la recherche (Pagefind) a échoué :\n{err}") from err

    # --- generated pages: from the cache, or rendered by worker processes ------------------

    def _page_key(self, generated: render.GeneratedPage, url: str) -> str:
        prints = self._fingerprints
        # A member page kept with its date's mark: for the days of its label's window; a page
        # made without the date, for any day (neither with the territory's own templates).
        window = self._window_keys.get(generated.depends_on) if generated.marked is not None else None
        dateless = window is not None or (generated.dateless and not self._own_templates)
        return content_key(
            self._dateless_key if dateless else self._context_key,
            generated.src_uri,
            url,
            prints.get(pipeline.SHARED, ""),
            prints.get(generated.depends_on, "")
            if generated.shows is None
            else f"montre:{generated.shows()}",
            *(() if window is None else (window,)),
        )

    def _prerender(self, files: Mapping[str, File | None]) -> None:
        """Take generated pages from the cache; render the others, in parallel on a large site.

        Worker processes are forked once the pipeline has run (they share its records
        without copying them) and render while MkDocs goes on with the other pages.
        """
        self._rendered = {}
        self._search_documents = {}
        self._parked = {}
        self._token = secrets.token_hex(8)
        self._waited = 0.0
        self._stop_workers()
        missing: list[tuple[str, str]] = []
        for src_uri, generated in self._pages.items():
            file = files[src_uri]
            url = file.url if file is not None else generated.url
            key = self._page_key(generated, url)
            cached = self._cache.get_bytes(key)
            if cached is not None and _is_packed(cached):
                self._rendered[src_uri] = (cached, self._cache.get(_document_key(key)))
            else:
                missing.append((src_uri, url))
        log.info(
            f"dote : {len(self._pages) - len(missing)} pages générées reprises du cache, {len(missing)} à rendre"
        )
        # Few pages to render on a large territory are those that show all of it (the lists,
        # the label, the dashboard): they render in a worker while this process goes on.
        large = self.territory is not None and len(self.territory.members) >= PARALLEL_FROM
        if not missing or (len(missing) < PARALLEL_FROM and not large):
            return
        if self._command != "build" or not workers.available():
            return
        global _PAGES, _DOCUMENT
        _PAGES, _DOCUMENT = self._pages, self._search_document
        # The build's own process renders one page in (processes + 1) between its other
        # work (Markdown, Material's template, writing): one worker fewer is forked, and
        # each forked worker ends up holding a copy of the records.
        count = workers.count()
        self._pool = workers.pool(count - 1)
        # Frozen (in the workers' memory, the records stay where they are until written; here,
        # collections do not walk them again), until the next build's read of the registers.
        gc.freeze()
        share = count + 1
        if len(missing) < PARALLEL_FROM:
            # A warm build: the pages that show the whole territory changed. A worker first
            # makes the explorer's data file (seconds at 1,000 members), then renders pages
            # with the others, while this process renders its share and goes on. Not in a
            # clean build: workers are busy with every page, and the one that made the file
            # would hold a copy of every record.
            self._explorer_job = self._pool.submit(_explorer_data)
            share = count
        for n, (src_uri, url) in enumerate(missing):
            if n % share:
                self._rendered[src_uri] = self._pool.submit(_render_page, src_uri, url)
        log.info(f"dote : pages rendues par {count} processus")

    def on_pre_page(self, page: Page, /, *, config: MkDocsConfig, files: Files) -> Page | None:
        if page.file.src_uri in self._pages and type(page) is Page:
            page.__class__ = _GeneratedPage  # its content is made here: no Markdown to convert
        return page

    def on_page_markdown(
        self, markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        generated = self._pages.get(page.file.src_uri)
        if generated is None:
            # A training module: its objectives, duration, audience and next sessions.
            if (module := self._module(page.file.src_uri)) is not None:
                block = training.module_block(module, self.training.sessions, page.url, self._today)
                markdown = documents.with_links(markdown, block)
            links = self._download_links.get(page.file.src_uri)
            return documents.with_links(markdown, links) if links else markdown
        # MkDocs and Material write a page's title as HTML (<title>, header, navigation,
        # search index): a title made from register text is escaped here, once.
        page.meta["title"] = html_text(generated.title)
        # Its "edit" link opens the register file the page shows, not a Markdown file that does not exist.
        page.edit_url = self._edit_url(generated, config)
        return ""

    def _source_file(self, generated: render.GeneratedPage) -> str | None:
        """The register file a generated page shows (relative to the territory), if there is one."""
        assert self.territory is not None
        kind, _, rest = generated.src_uri.partition("/")
        ident = rest.removesuffix("/index.md") if rest.count("/") == 1 else ""
        if kind == "registres" and ident in self.territory.members_by_id:
            return self.territory.members_by_id[ident].position.file
        if kind == render.MODELS_URL.strip("/") and ident in self.territory.models:
            return self.territory.models[ident].content.position.file
        if kind == render.PROCESSORS_URL.strip("/") and ident in self.territory.processors:
            return self.territory.processors[ident].position.file
        if generated.src_uri == "label/index.md":
            return "registers/label.yml"
        return None

    def _edit_url(self, generated: render.GeneratedPage, config: MkDocsConfig) -> str | None:
        """The edit address of a generated page's register file, beside the pages' own.

        ``edit_uri`` (``edit/main/docs/``) leads to the pages' folder; the registers sit
        beside it, in the territory. A page made from many files (explorer, dashboard…)
        has no edit link, nor has one when the edit address cannot be derived.
        """
        source = self._source_file(generated)
        edit_uri = config.edit_uri or ""
        if (
            source is None
            or not config.repo_url
            or not edit_uri
            or config.edit_uri_template
            or self.root is None
        ):
            return None
        try:
            docs = Path(config.docs_dir).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None
        if docs == ".":
            base = edit_uri
        elif edit_uri.rstrip("/").endswith("/" + docs) or edit_uri.rstrip("/") == docs:
            base = edit_uri.rstrip("/")[: -len(docs)]
        else:
            return None
        repo = config.repo_url if config.repo_url.endswith("/") else config.repo_url + "/"
        return urljoin(repo, base + source)

    def on_page_content(self, html: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        generated = self._pages.get(page.file.src_uri)
        if generated is None:
            # A hand-written page: its tables in scroll regions that the keyboard reaches.
            return tables.scroll_regions(html) if self.config.enabled else html
        packed, document = self._settle(generated, page.url, self._rendered.pop(page.file.src_uri, None))
        if document is None or not self.PARK_CONTENTS:
            content = self._unpacked(generated, page, packed)
            if document is None:  # a page cached without its document
                document = self._search_document(generated, content)
        if document is not None:
            self._search_documents[page.file.dest_uri] = document
        if not self.PARK_CONTENTS:
            return content
        # Parked (see PARK_CONTENTS): the marker holds "<h1" if the content does, so that
        # Material's test for a title of its own ("<h1" in page.content) gives the same answer.
        marker = f"<!--dote:{self._token}:{page.file.src_uri}:{'<h1' if packed[:1] == b'1' else ''}-->"
        self._parked[page.file.src_uri] = packed, marker
        return marker

    def _unpacked(self, generated: render.GeneratedPage, page: Page, packed: bytes) -> str:
        """A generated page's HTML; rendered again if its cache entry is damaged."""
        try:
            return generated.finish(_unpack(packed))
        except ValueError:
            html = generated.kept_html(page.url)
            self._cache.put_bytes(self._page_key(generated, page.url), _pack(html))
            return generated.finish(html)

    def _unpark(self, output: str, page: Page) -> str:
        """The themed page with its content in place of its marker (see :meth:`on_page_content`)."""
        parked = self._parked.pop(page.file.src_uri, None)
        if parked is None:
            return output
        packed, marker = parked
        parts = output.split(marker)
        if len(parts) != 2:
            raise PluginError(
                f"dote : le gabarit du thème doit afficher une fois le contenu de la page {page.file.src_uri} "
                f"({{{{ page.content }}}}), il l'affiche {len(parts) - 1} fois"
            )
        return parts[0] + self._unpacked(self._pages[page.file.src_uri], page, packed) + parts[1]

    def _write_filled(self, page: Page, shell: str) -> bool:
        """Write a filled member page (``shell``: its themed output, its parked content's marker
        in place of its content) as bytes: its content, kept compressed as UTF-8, is written
        as it comes out, not made a string, joined, searched for its policy and encoded again
        (a millisecond a page of 250 KB). The same bytes as MkDocs would write. ``False`` if
        the page is not parked, its cache entry is damaged, or a plugin after this one changes
        pages (see :meth:`_plan_links`): themed the usual way."""
        parked = self._parked.get(page.file.src_uri)
        if parked is None or not self._writes_filled:
            return False
        packed, marker = parked
        if shell.count(marker) != 1:
            return False  # the usual way says what is wrong
        try:
            content = self._pages[page.file.src_uri].finish_bytes(_unpack_bytes(packed))
        except ValueError:
            return False  # damaged: rendered again the usual way
        # The policy of the theme's page alone (see dote.csp), put in at its head.
        head, tail = csp.with_policy(shell).split(marker)
        path = Path(page.file.abs_dest_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join((head.encode("utf-8"), content, tail.encode("utf-8"))))
        del self._parked[page.file.src_uri]
        return True

    def _settle(
        self, generated: render.GeneratedPage, url: str, done: Rendered | Future[Rendered] | None
    ) -> Rendered:
        """A generated page's HTML and search document: cached, rendered by a worker (waited
        for), or rendered here (when no worker started it); a page rendered now is cached."""
        if isinstance(done, tuple):
            return done
        started = time.perf_counter()
        if done is not None and not done.cancel():  # not started by a worker: rendered here
            packed, document = done.result()
        else:
            content = generated.kept_html(url)
            document = self._search_document(generated, content)
            packed = _pack(content)
        self._waited += time.perf_counter() - started
        key = self._page_key(generated, url)
        self._cache.put_bytes(key, packed)
        if document is not None:
            self._cache.put(_document_key(key), document)
        return packed, document

    def _member_of(self, generated: render.GeneratedPage) -> Member | None:
        """The member whose page ``generated`` is (None for any other generated page)."""
        assert self.territory is not None
        member = self.territory.members_by_id.get(generated.depends_on)
        if member is None or generated.src_uri != _member_page(member.id):
            return None
        return member

    def _search_document(self, generated: render.GeneratedPage, content: str) -> str | None:
        """What Pagefind indexes for a member page: its search document (see dote.search)."""
        assert self.territory is not None
        member = self._member_of(generated)
        if not self.config.search or member is None:
            return None
        start = content.rfind(search.FILTERS_START)
        filters = content[start:] if start >= 0 else ""
        return search.member_document(member, self.territory.processors, filters)

    def on_post_page(self, output: str, /, *, page: Page, config: MkDocsConfig) -> str | None:
        if not self.config.enabled:
            return output
        previous = self._links.get(page.file.src_uri)
        if previous is None:
            if page.file.src_uri in self._filled and self._shell is not None:
                # Themed by the template after all if a plugin changed the page since it was planned.
                filled = self._shell.fill(page) or self._shell.themed(page)
                if filled is None:
                    raise PluginError(f"dote : la page {page.file.dest_uri} n'a pas pu être mise en forme")
                output = filled
                if self._write_filled(page, output):
                    return ""  # written here: MkDocs skips it (and says nothing, see _plan_links)
            # The policy allows the theme's inline scripts, not the content's (see dote.csp): a
            # generated page's content is not in it yet, a Markdown page's is taken out.
            theme = output if page.file.src_uri in self._parked else csp.without_content(output, page.content)
            if theme is None:
                raise PluginError(_CHANGED_CONTENT.format(page=page.file.src_uri))
            output = self._unpark(output, page)
        else:  # unchanged since the previous build: its file, linked
            self._parked.pop(page.file.src_uri, None)
            try:
                link(previous, Path(page.file.abs_dest_path))
            except OSError as err:  # the previous site changed meanwhile: the next build themes it
                raise PluginError(
                    f"dote : la page {page.file.dest_uri} n'a pas pu être reprise du site précédent "
                    f"({system_reason(err)}) : relancez « dote build »"
                ) from err
            return output
        if self.watch is not None and page.file.src_uri == f"{watch_site.WATCH_URL}index.md":
            # Feed readers and browsers find the watch's feeds in the page's head.
            links = self.watch.alternate_links(page.url)
            if links and "</head>" in output:
                output = output.replace("</head>", links + "</head>", 1)
        return csp.with_policy(output, theme)

    def on_post_template(
        self, output_content: str, /, *, template_name: str, config: MkDocsConfig
    ) -> str | None:
        if self.config.enabled and template_name.endswith(".html"):
            return csp.with_policy(output_content)
        return output_content

    def _stop_workers(self) -> None:
        self._explorer_job = None
        _shut(self._pool)
        self._pool = None
        self._rendered = {}

    def on_build_error(self, *, error: Exception) -> None:
        self._stop_apart()
        self._stop_workers()
        self._end_links(None)
        if self._early_shards is not None:
            with contextlib.suppress(RuntimeError, OSError):
                self._early_shards.finish(stop=True)
            self._early_shards = None
        if self._converter is not None:
            self._converter.close(prune=False)
            self._converter = None
        self.internal_overlay = None  # MkDocs may reuse this instance for a public build

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Index the built site with Pagefind (its command line: fast, and the same everywhere)."""
        self._stop_workers()
        self._end_links(config)
        self.internal_overlay = None  # MkDocs may reuse this instance for a public build
        log.info(f"dote : pages générées attendues ou rendues pendant {self._waited:.1f} s")
        self._cache.prune()
        self._data_store.prune()
        self._badge_store.prune()
        if self._converter is not None:
            self._converter.close()
            self._converter = None
        if not self.config.enabled or not self.config.search:
            return
        assert self.territory is not None
        early, self._early_shards = self._early_shards, None
        try:
            started = time.perf_counter()
            indexed, reused = search.index(
                Path(config.site_dir),
                [m.id for m in self.territory.members],
                self._shards,
                _search_options(config),
                self._search_cache(),
                None if early is not None else self._search_documents,  # the shards have them
                early,
            )
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            raise PluginError(f"dote : l'indexation de la recherche (Pagefind) a échoué :\n{err}") from err
        log.info(
            f"dote : recherche : {indexed} index construit(s) par Pagefind, {reused} repris du cache, "
            f"en {time.perf_counter() - started:.1f} s"
        )

    def on_serve(self, server: Any, /, *, config: MkDocsConfig, builder: Any) -> Any:
        if self.root is not None:
            for folder in ("registers", "overrides", "watch"):
                if (self.root / folder).is_dir():
                    server.watch(str(self.root / folder))
        return server


class _OpenDataCache:
    """Each member's open-data files in the page cache, keyed like the member's page."""

    def __init__(self, plugin: DotePlugin) -> None:
        self.plugin = plugin

    def _key(self, member_id: str) -> str:
        prints = self.plugin._fingerprints
        # Its texts name the date only as opendata.DATE_MARK: kept for its label's window.
        window = self.plugin._window_keys.get(member_id)
        return content_key(
            self.plugin._context_key if window is None else self.plugin._dateless_key,
            "donnees",
            member_id,
            prints.get(pipeline.SHARED, ""),
            prints.get(member_id, ""),
            *(() if window is None else (window,)),
        )

    def has(self, member_id: str) -> bool:
        return self.plugin._cache.has(self._key(member_id))

    def get(self, member_id: str) -> bytes | None:
        return self.plugin._cache.get_data(self._key(member_id))

    def put(self, member_id: str, texts: bytes) -> None:
        self.plugin._cache.put_data(self._key(member_id), texts)
