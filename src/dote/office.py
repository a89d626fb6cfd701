"""Filling a word-processing document that pandoc made once (DOCX and ODT).

A member's notices and rights letters are made for every member: running pandoc for each
would cost a process per member and per format. Instead pandoc converts, once, a
skeleton (:data:`SKELETON`) holding one block of each kind with a marker text, styled by
the Maison's reference document. This module takes that document apart — each kind of
block's XML becomes a prototype — and writes a member's blocks (:class:`dote.notices.Block`)
as copies of the prototypes: same styles, same list numbering, nothing but the text
changed. Every other part of the package (styles, numbering, fonts, manifest) is copied
byte for byte. Both formats are zipped XML: DOCX (ECMA-376, ``word/document.xml``) and
ODT (OpenDocument, ``content.xml``, with ``mimetype`` stored first).

Text comes from the registers and is untrusted: it is set as XML text by lxml (escaped),
after removing the characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

from lxml import etree

from dote.notices import Block

Format = Literal["docx", "odt"]
FORMATS: tuple[Format, ...] = ("docx", "odt")

#: What pandoc converts once: one block of each kind, found again by its marker text.
SKELETON = """# DOTE_TITRE

## DOTE_SECTION

### DOTE_SOUS_SECTION

DOTE_PREMIER

DOTE_PARAGRAPHE

- DOTE_PUCE
"""
_MARKERS = {
    "titre": "DOTE_TITRE",
    "section": "DOTE_SECTION",
    "sous-section": "DOTE_SOUS_SECTION",
    "premier": "DOTE_PREMIER",
    "paragraphe": "DOTE_PARAGRAPHE",
    "puce": "DOTE_PUCE",
}
#: The pandoc options of the skeleton: no heading identifiers (they would make bookmarks).
PANDOC_FROM = "markdown-auto_identifiers-smart"

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
FO = "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
_MAIN = {"docx": "word/document.xml", "odt": "content.xml"}
_PAGE_BREAK_STYLE = "DoteSautDePage"


class TemplateError(Exception):
    """The document pandoc made does not have the blocks this module looks for."""


def xml_text(text: str) -> str:
    """Text XML can hold: forbidden characters removed, line breaks and tabs made spaces."""
    return _NOT_XML.sub(_xml_character, text) if _NOT_XML.search(text) else text


@dataclass(frozen=True)
class _Part:
    """One part of the archive, compressed once: copied as is into every filled document."""

    name: bytes
    crc: int
    size: int
    data: bytes  # raw deflate, or the bytes themselves when stored
    stored: bool


@dataclass(frozen=True)
class Template:
    """A pandoc-made document taken apart: its parts, and its main XML as text around the body.

    The main XML is kept as text: what comes before the body, what comes after it, and
    each kind of block with its marker, ready for the block's escaped text. Filling is
    then joining strings and compressing one part; every other part was compressed once.
    """

    format: Format
    parts: tuple[_Part, ...]
    main_index: int  # where the main XML part goes among the parts
    head: str
    tail: str
    snippets: dict[str, str]  # kind → its XML, the marker where the text goes
    list_open: str = ""  # ODT: a list's start and end tags; items go between them
    list_close: str = ""

    @classmethod
    def read(cls, data: bytes, format: Format) -> Template:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
        except zipfile.BadZipFile as err:
            raise TemplateError(f"le document n'est pas une archive {format.upper()} : {err}") from err
        names = [name for name, _ in entries]
        if _MAIN[format] not in names:
            raise TemplateError(f"{_MAIN[format]} est absent du document")
        main_index = names.index(_MAIN[format])
        tree = etree.fromstring(entries[main_index][1])
        body = (
            tree.find(f"{{{W}}}body") if format == "docx" else tree.find(f"{{{OFFICE}}}body/{{{OFFICE}}}text")
        )
        if body is None:
            raise TemplateError("le corps du document est introuvable")
        prototypes: dict[str, etree._Element] = {}
        for element in list(body):
            text = "".join(str(t) for t in element.itertext())
            for kind, marker in _MARKERS.items():
                if text.strip() == marker:
                    prototypes[kind] = element
        missing = sorted(set(_MARKERS) - set(prototypes))
        if missing:
            raise TemplateError("blocs introuvables dans le document de pandoc : " + ", ".join(missing))
        snippets = {kind: _serialised(element) for kind, element in prototypes.items()}
        list_open = list_close = ""
        if format == "odt":
            # <text:list …><text:list-item>…</text:list-item></text:list>: the item apart.
            item = prototypes["puce"].find(f"{{{TEXT}}}list-item")
            if item is None:
                raise TemplateError("élément de liste introuvable dans le document de pandoc")
            snippets["puce"] = _serialised(item)
            whole = _serialised(prototypes["puce"])
            list_open, _, rest = whole.partition(snippets["puce"])
            list_close = rest
            _add_page_break_style(tree)
        # The body emptied but for the section properties (DOCX), and a mark where blocks go.
        for element in list(body):
            if element.tag != f"{{{W}}}sectPr":
                body.remove(element)
        body.insert(0, etree.Comment("DOTE_CORPS"))
        text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=True).decode("utf-8")
        head, _, tail = text.partition("<!--DOTE_CORPS-->")
        parts = tuple(_compressed(name, content, 9) for name, content in entries)
        return cls(format, parts, main_index, head, tail, snippets, list_open, list_close)

    def fill(self, blocks: Sequence[Block] | Prepared) -> bytes:
        """The document with ``blocks`` as its body (a new archive; the template is unchanged).

        Blocks written in both formats are escaped once with :func:`prepare`.
        """
        prepared = blocks if isinstance(blocks, Prepared) else prepare(blocks)
        out = [self.head]
        halves = self._halves
        after_heading = True
        in_list = False
        for kind, text in prepared.blocks:
            if kind == "puce":
                if not in_list and self.list_open:
                    out.append(self.list_open)
                in_list = True
                before, after = halves["puce"]
                out += (before, text, after)
                continue
            if in_list and self.list_close:
                out.append(self.list_close)
            in_list = False
            if kind == "saut":
                out.append(self._page_break)
                after_heading = True
            elif kind == "paragraphe":
                before, after = halves["premier" if after_heading else "paragraphe"]
                out += (before, text, after)
                after_heading = False
            else:
                before, after = halves[kind]
                out += (before, text, after)
                after_heading = True
        if in_list and self.list_close:
            out.append(self.list_close)
        out.append(self.tail)
        main = _compressed(_MAIN[self.format], "".join(out).encode("utf-8", "replace"), _LEVEL)
        parts = list(self.parts)
        parts[self.main_index] = main
        return _archive(parts)

    @cached_property
    def _halves(self) -> dict[str, tuple[str, str]]:
        """Each kind's XML split at its marker (its first, as a replace would): the text goes
        between the two halves."""
        return {kind: _split(snippet, _MARKERS[kind]) for kind, snippet in self.snippets.items()}

    @property
    def _page_break(self) -> str:
        if self.format == "docx":
            return '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'
        return f'<text:p text:style-name="{_PAGE_BREAK_STYLE}"/>'


_NAMESPACE_DECLARATION = re.compile(r' xmlns:[A-Za-z0-9_.-]+="[^"]*"')


def _serialised(element: etree._Element) -> str:
    """An element of the main part as XML text, without the namespace declarations that the
    part's root already makes (lxml repeats them on an element serialised alone)."""
    return _NAMESPACE_DECLARATION.sub("", etree.tostring(element, encoding="unicode", with_tail=False))


@dataclass(frozen=True)
class Prepared:
    """Blocks with their text ready for XML: (kind, escaped text)."""

    blocks: tuple[tuple[str, str], ...]


def prepare(blocks: Sequence[Block]) -> Prepared:
    """Escape the blocks' text once, for any number of documents."""
    return Prepared(tuple((b.kind, _escape(b.text)) for b in blocks))


#: XML 1.0's forbidden characters (C0 controls but tab, LF, CR; U+FFFE, U+FFFF), and line
#: breaks and tabs, which a paragraph of the template does not hold either.
_NOT_XML = re.compile("[\x00-\x1f\ufffe\uffff]")


def _xml_character(match: re.Match[str]) -> str:
    return " " if match.group() in "\t\n\r" else ""


def _split(snippet: str, marker: str) -> tuple[str, str]:
    before, _, after = snippet.partition(marker)
    return before, after


#: Most of a member's blocks are the same sentences as every other member's (the rights, the
#: DPO, the complaint to the CNIL: a seventh of their text is distinct at 300 members): each
#: text is escaped once per process. Bounded, for a large territory's member-specific texts.
@lru_cache(maxsize=1 << 15)
def _escape(text: str) -> str:
    # Surrogates (which UTF-8 cannot encode) become « ? » when the part is encoded.
    return xml_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: The filled part's compression: fast (a member's notices are written at every clean build).
_LEVEL = 1


def _compressed(name: str, content: bytes, level: int) -> _Part:
    # ODF wants its mimetype first and stored; everything else is compressed (raw deflate).
    if name == "mimetype":
        return _Part(name.encode(), zlib.crc32(content), len(content), content, True)
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = deflate.compress(content) + deflate.flush()
    return _Part(name.encode(), zlib.crc32(content), len(content), data, False)


#: 1980-01-01 00:00 in MS-DOS time and date: every part has this date (reproducible bytes).
_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1


def _archive(parts: Sequence[_Part]) -> bytes:
    """A zip archive of parts already compressed (APPNOTE.TXT 4.3: local headers, central directory)."""
    out = bytearray()
    central = bytearray()
    for part in parts:
        method = 0 if part.stored else 8
        offset = len(out)
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0,
            method,
            _DOS_TIME,
            _DOS_DATE,
            part.crc,
            len(part.data),
            part.size,
            len(part.name),
            0,
        )
        out += header + part.name + part.data
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                0x0314,
                20,
                0,
                method,
                _DOS_TIME,
                _DOS_DATE,
                part.crc,
                len(part.data),
                part.size,
                len(part.name),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + part.name
        )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), len(out), 0)
    return bytes(out + central + end)


def _add_page_break_style(tree: etree._Element) -> None:
    """An automatic paragraph style that starts a new page (ODT has no page-break element)."""
    styles = tree.find(f"{{{OFFICE}}}automatic-styles")
    if styles is None:
        styles = etree.Element(f"{{{OFFICE}}}automatic-styles")
        tree.insert(0, styles)
    style = etree.SubElement(
        styles,
        f"{{{STYLE}}}style",
        {f"{{{STYLE}}}name": _PAGE_BREAK_STYLE, f"{{{STYLE}}}family": "paragraph"},
    )
    etree.SubElement(style, f"{{{STYLE}}}paragraph-properties", {f"{{{FO}}}break-before": "page"})
