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
import logging
import marshal
import os
import shutil
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dote.cache import content_key
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


def shell_key(env: Any, config: Any, files: Any, nav: Any, folder: str) -> str | None:
    """The hash of the template rendered for a sample page in ``folder`` (the member pages'
    depth), through the plugins' page events as a real page; ``None`` if that fails (then
    every page is themed as usual)."""
    from mkdocs.commands.build import get_context
    from mkdocs.structure.files import File
    from mkdocs.structure.pages import Page

    try:
        file = File.generated(config, f"{folder}/dote-gabarit/index.md", content="")
        page = Page(None, file, config)
        page.meta = {"title": SAMPLE_TITLE}
        page.content = SAMPLE_CONTENT
        context = get_context(nav, files.documentation_pages(), config, page)
        template = env.get_template("main.html")
        context = config.plugins.on_page_context(context, page=page, config=config, nav=nav)
        output = config.plugins.on_post_page(template.render(context), page=page, config=config)
    except Exception:
        return None
    return content_key(FORMAT, output)


class Manifest:
    """The member pages the previous build wrote: key, size, modification time, inode."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def read(self, site: Path) -> dict[str, tuple[str, int, int, int]]:
        """The previous build's records for ``site`` (nothing if it wrote another folder)."""
        if self.path is None:
            return {}
        try:
            kept = marshal.loads(zlib.decompress(self.path.read_bytes()))
        except (OSError, EOFError, ValueError, TypeError, zlib.error):
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
            write_atomic_bytes(self.path, zlib.compress(marshal.dumps(record), 1), sync=False)


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
    linked pages, which are not skipped."""

    def __init__(self, src_uris: Iterable[str]) -> None:
        super().__init__()
        self.messages = {f"Page skipped: '{src_uri}'. Generated empty output." for src_uri in src_uris}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages
