"""Member pages left unchanged since the previous build are linked from it, not themed again.

Material's template takes most of the time MkDocs spends on a member page (about 3 ms each),
and a warm build themes and writes a thousand of them where one changed. ``dote build``
writes the new site beside the previous one (see :func:`dote.cli._build`), so a member page
whose every input is the same as in the previous build can be a hard link to the previous
build's file: the same bytes, without the template.

What a themed member page is made of, and what stands for it in its key:

- everything but the page itself (configuration, navigation, theme and its overrides, the
  plugins' additions): the **shell** — the template rendered once per build for a sample page
  of the same depth (:func:`shell_key`); any change there changes every key;
- the page: its address, title, metadata, edit link and content (the content hashed whole).

The previous build records, for each member page it wrote, that key and the file's size,
modification time and inode (:class:`Manifest`, in the build cache). A page is linked only
when its key is the recorded one and the previous site's file is still the one recorded, so
a site edited by hand, another site folder or a damaged record make the page rendered as
usual. Nothing confidential is concerned: internal builds never link nor record.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import marshal
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import markupsafe

from dote.cache import compress, content_key, decompress
from dote.files import write_atomic_bytes

#: The template that renders nothing: MkDocs then writes no file for the page, linked instead.
LINK_TEMPLATE = "dote-lien.html"
#: The sample page the shell is rendered for (never written: its output is only hashed).
SAMPLE_TITLE = "DOTE-GABARIT-TITRE"
SAMPLE_CONTENT = "<p>DOTE-GABARIT-CONTENU</p>"
#: The layout of the manifest (part of its keys).
FORMAT = "1"


def page_key(shell: str, page: Any, content: bytes | None = None) -> str:
    """The key of a themed page: the shell's, and everything of the page the theme shows
    (``content``: the page's content as the build keeps it, when ``page.content`` only holds its
    place: compressed, so that an unchanged page is never uncompressed)."""
    if content is None:
        content = (page.content or "").encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(content).hexdigest()
    return content_key(
        FORMAT,
        shell,
        page.file.src_uri,
        page.file.dest_uri,
        page.url,
        str(page.title or ""),
        str(page.edit_url or ""),
        str(page.canonical_url or ""),
        repr(sorted(page.meta.items())),
        digest,
    )


def _theme(env: Any, config: Any, files: Any, nav: Any, page: Any, template: str = "main.html") -> str | None:
    """What ``template`` renders for ``page``, through the plugins' page events as MkDocs does
    (see ``mkdocs.commands.build._build_page``, but the ``on_post_page`` event); ``None`` if
    that fails."""
    from mkdocs.commands.build import get_context

    try:
        context = get_context(nav, files.documentation_pages(), config, page)
        context = config.plugins.on_page_context(context, page=page, config=config, nav=nav)
        return str(env.get_template(template).render(context))
    except Exception:
        return None


def _render_sample(
    env: Any,
    config: Any,
    files: Any,
    nav: Any,
    src_uri: str,
    meta: dict[str, Any],
    content: str,
    edit_url: str | None = None,
) -> tuple[str, Any] | None:
    """Material's template rendered for a sample page at ``src_uri`` (see :func:`_theme`), and
    the page; ``None`` if that fails."""
    from mkdocs.structure.files import File
    from mkdocs.structure.pages import Page

    file = File.generated(config, src_uri, content="")
    page = Page(None, file, config)
    page.markdown = ""  # as a read page's: MkDocs gives no title to a page not read
    page.meta = dict(meta)
    page.content = content
    page.edit_url = edit_url
    output = _theme(env, config, files, nav, page)
    return (output, page) if output is not None else None


def shell_key(env: Any, config: Any, files: Any, nav: Any, folder: str) -> str | None:
    """The hash of the template rendered for a sample page in ``folder`` (the member pages'
    depth), through the plugins' page events as a real page; ``None`` if that fails (then
    every page is themed as usual)."""
    sample = _render_sample(
        env, config, files, nav, f"{folder}/dote-gabarit/index.md", {"title": SAMPLE_TITLE}, SAMPLE_CONTENT
    )
    if sample is None:
        return None
    try:
        output = config.plugins.on_post_page(sample[0], page=sample[1], config=config)
    except Exception:
        return None
    return content_key(FORMAT, output)


# --- member pages themed by filling the template's output once rendered (the shell) ---------

#: What stands, in the sample page, for each value of a member page that the theme shows.
FILL_TITLE = "DOTE-GABARIT-TITRE"
FILL_NAME = "DOTE-GABARIT-ADRESSE"  # the page's folder: its address, canonical address
#: The edit link, with the part of the path Material's « view source » action (feature
#: ``content.action.view``) replaces by ``raw``: ``blob`` when the link has ``/blob/``, else ``edit``.
FILL_EDIT = "https://dote-gabarit.invalid/{}/DOTE-GABARIT-EDITION"
#: The sample's content, with "<h1" when the pages' contents have their own title (Material
#: writes one for a page whose content has none).
FILL_CONTENT = "<!--DOTE-GABARIT-CONTENU{}-->"
#: A title already escaped (the plugin escapes register text once: « d&#x27;Exemple »), as the
#: theme shows it in three ways: as it is, unescaped (``striptags``), escaped again (``e``).
#: The sample's title ends with this probe, so each place of the title says which way.
_TITLE_PROBE = "&#x27;&amp;&lt;&gt;&quot;"
_TITLE_WAYS: dict[str, Callable[[str], str]] = {
    _TITLE_PROBE: lambda title: title,
    html.unescape(_TITLE_PROBE): html.unescape,
    str(markupsafe.escape(_TITLE_PROBE)): lambda title: str(markupsafe.escape(title)),
}


def _edit_part(edit_url: str) -> str:
    """The part of an edit link that Material's « view source » action replaces by ``raw``."""
    return "blob" if "/blob/" in edit_url else "edit"


def _edit_ways(edit_url: str, part: str) -> tuple[str, str]:
    """An edit link as it is, and as the « view source » action shows it (every ``part``
    replaced by ``raw``, as Jinja's ``replace`` does)."""
    return edit_url, edit_url.replace(part, "raw")


#: A title or address whose every way is known (no markup, no quote, single spaces): other
#: pages are themed by the template.
_INERT_TITLE = re.compile(r"[^\s<>\"'`\\]+(?: [^\s<>\"'`\\]+)*")
_INERT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_INERT_URL = re.compile(r"https?://[A-Za-z0-9._~:/@%+,;-]+")


class Shell:
    """Material's template for the member pages, rendered once per build and filled for each.

    A member page (same depth as the others, not in the navigation, no table of contents of
    its own) differs from another, once themed, only by its title, its folder's name, its edit
    link and its content. The template is rendered for sample pages whose values are markers,
    and a member page is that output with its own values in place of the markers — a few
    string joins instead of Material's template (about 2 ms a page).

    The title (escaped once by the plugin) is filled in each of the ways the sample shows it
    (:data:`_TITLE_WAYS`: as it is, unescaped, escaped again); the edit link as it is and as
    the « view source » action shows it (:func:`_edit_ways`); the address as it is. A page with
    another value (markup or quotes in its title, two spaces, other metadata, a table of
    contents) is themed by the template. And before any page is filled,
    the caller themes two both ways (:meth:`check`): if they differ (a theme override that shows
    the title through another filter, or another value of the page), no page is filled.
    """

    def __init__(
        self, env: Any, config: Any, files: Any, nav: Any, folder: str, meta: dict[str, Any]
    ) -> None:
        self._render = (env, config, files, nav)
        self._folder = folder
        self._meta = {**meta, "title": FILL_TITLE + _TITLE_PROBE}
        #: What a fillable page's metadata holds besides its title (and the template it is given).
        self._other_meta = {k: v for k, v in meta.items() if k not in ("title", "template")}
        self._parts: dict[tuple[bool, str], list[str] | None] = {}
        self.usable = True

    def _sample(self, titled: bool, edit_part: str) -> list[str] | None:
        """The sample's output split at its markers (literal texts at even places); its edit
        link has ``edit_part`` (see :data:`FILL_EDIT`), or there is none if that is empty."""
        variant = (titled, edit_part)
        if variant not in self._parts:
            content = FILL_CONTENT.format("<h1" if titled else "")
            edit = FILL_EDIT.format(edit_part) if edit_part else None
            sample = _render_sample(
                *self._render, f"{self._folder}/{FILL_NAME}/index.md", self._meta, content, edit
            )
            parts = None
            if sample is not None:
                titles = [FILL_TITLE + way for way in _TITLE_WAYS]
                edits = list(_edit_ways(edit, edit_part)) if edit else []
                markers = "|".join(re.escape(m) for m in (*titles, FILL_NAME, *edits, content))
                parts = re.split(f"({markers})", sample[0])
                if (
                    parts.count(content) != 1  # the content shown once, as Material does
                    or any(FILL_TITLE in part for part in parts[::2])  # a title shown another way
                ):
                    parts = None
            self._parts[variant] = parts
        return self._parts[variant]

    def _values(self, page: Any) -> tuple[list[str], dict[str, str]] | None:
        """The sample's split output and the page's values, or ``None`` (see :meth:`fill`)."""
        if not self.usable:
            return None
        title, edit_url, content = page.meta.get("title"), page.edit_url, page.content or ""
        prefix = self._folder + "/"
        name = page.url[len(prefix) : -1] if page.url.startswith(prefix) else ""
        if (
            page.url != f"{prefix}{name}/"
            or not isinstance(title, str)
            or not _INERT_TITLE.fullmatch(title)
            or not _INERT_NAME.fullmatch(name)
            or (edit_url is not None and not _INERT_URL.fullmatch(edit_url))
            or {k: v for k, v in page.meta.items() if k not in ("title", "template")} != self._other_meta
            or page.toc
        ):
            return None
        titled = "<h1" in content
        edit_part = "" if edit_url is None else _edit_part(edit_url)
        parts = self._sample(titled, edit_part)
        if parts is None:
            return None
        marker = FILL_CONTENT.format("<h1" if titled else "")
        values = {FILL_TITLE + probe: way(title) for probe, way in _TITLE_WAYS.items()}
        if edit_url is not None:
            sample_edit = FILL_EDIT.format(edit_part)
            values |= zip(_edit_ways(sample_edit, edit_part), _edit_ways(edit_url, edit_part), strict=True)
        return parts, {**values, FILL_NAME: name, marker: content}

    def fillable(self, page: Any) -> bool:
        """Whether :meth:`fill` gives ``page``'s themed output."""
        return self._values(page) is not None

    def fill(self, page: Any) -> str | None:
        """The template's output for ``page``, or ``None`` when it cannot be filled in."""
        found = self._values(page)
        if found is None:
            return None
        parts, values = found
        return "".join(part if n % 2 == 0 else values[part] for n, part in enumerate(parts))

    def themed(self, page: Any, template: str = "main.html") -> str | None:
        """What the template renders for ``page``, as MkDocs would (``None`` if that fails)."""
        active = page.active
        page.active = True  # as MkDocs does before theming a page
        try:
            return _theme(*self._render, page, template)
        finally:
            page.active = active

    def check(self, page: Any) -> bool:
        """Whether ``page`` filled in is what the template renders for it (else no page is)."""
        filled = self.fill(page)
        if filled is None:
            return True  # themed by the template anyway
        self.usable = self.themed(page, page.meta.get("template", "main.html")) == filled
        return self.usable


class Manifest:
    """The member pages the previous build wrote: key, size, modification time, inode."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def read(self, site: Path) -> dict[str, tuple[str, int, int, int]]:
        """The previous build's records for ``site`` (nothing if it wrote another folder)."""
        if self.path is None:
            return {}
        try:
            kept = marshal.loads(decompress(self.path.read_bytes()))
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if not isinstance(kept, dict) or kept.get("site") != str(site) or kept.get("format") != FORMAT:
            return {}
        pages = kept.get("pages")
        return pages if isinstance(pages, dict) else {}

    def write(self, site: Path, written: Path, keys: dict[str, str]) -> None:
        """Record the pages of ``keys`` (by destination) as written in ``written``, the folder
        that becomes ``site`` once the build is done (renamed: sizes, times, inodes stay)."""
        if self.path is None:
            return
        pages = {}
        for dest_uri, key in keys.items():
            try:
                found = os.stat(written / dest_uri)
            except OSError:
                continue
            pages[dest_uri] = (key, found.st_size, found.st_mtime_ns, found.st_ino)
        record = {"format": FORMAT, "site": str(site), "pages": pages}
        with contextlib.suppress(OSError):
            write_atomic_bytes(self.path, compress(marshal.dumps(record)), sync=False)


def unchanged(
    previous: Path, dest_uri: str, key: str, kept: dict[str, tuple[str, int, int, int]]
) -> Path | None:
    """The previous build's file for ``dest_uri`` when it can stand for the page: same key,
    and still the file that build wrote."""
    record = kept.get(dest_uri)
    if record is None or record[0] != key:
        return None
    old = previous / dest_uri
    try:
        found = os.stat(old)
    except OSError:
        return None
    return old if (found.st_size, found.st_mtime_ns, found.st_ino) == tuple(record[1:]) else None


def link(old: Path, new: Path) -> None:
    """``new`` made the same file as ``old``: a hard link, or a copy across file systems."""
    new.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        new.unlink()
    try:
        os.link(old, new)
    except OSError:
        shutil.copyfile(old, new)


class QuietSkips(logging.Filter):
    """MkDocs says « Page skipped » for a page whose template rendered nothing: not for the
    pages the plugin links or writes itself, which are not skipped."""

    def __init__(self, src_uris: Iterable[str]) -> None:
        super().__init__()
        self.messages = {f"Page skipped: '{src_uri}'. Generated empty output." for src_uri in src_uris}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages
