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

import copy
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
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
#: Characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; surrogates; U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PAGE_BREAK_STYLE = "DoteSautDePage"


class TemplateError(Exception):
    """The document pandoc made does not have the blocks this module looks for."""


def xml_text(text: str) -> str:
    """Text XML can hold, on one line (line breaks become spaces)."""
    return " ".join(_NOT_XML.sub("", text).split())


@dataclass(frozen=True)
class Template:
    """A pandoc-made document taken apart: its parts, its main XML, its block prototypes."""

    format: Format
    parts: tuple[tuple[zipfile.ZipInfo, bytes], ...]
    tree: etree._Element  # the main XML part, its body emptied
    body: etree._Element
    tail: tuple[etree._Element, ...]  # what ends the body (DOCX: the section properties)
    prototypes: dict[str, etree._Element]

    @classmethod
    def read(cls, data: bytes, format: Format) -> Template:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                parts = tuple((info, archive.read(info)) for info in archive.infolist())
        except zipfile.BadZipFile as err:
            raise TemplateError(f"le document n'est pas une archive {format.upper()} : {err}") from err
        main = dict((info.filename, content) for info, content in parts).get(_MAIN[format])
        if main is None:
            raise TemplateError(f"{_MAIN[format]} est absent du document")
        tree = etree.fromstring(main)
        if format == "docx":
            body = tree.find(f"{{{W}}}body")
        else:
            body = tree.find(f"{{{OFFICE}}}body/{{{OFFICE}}}text")
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
        tail = tuple(e for e in body if e.tag == f"{{{W}}}sectPr")
        for element in list(body):
            body.remove(element)
        if format == "odt":
            _add_page_break_style(tree)
        return cls(format, parts, tree, body, tail, prototypes)

    def fill(self, blocks: Sequence[Block]) -> bytes:
        """The document with ``blocks`` as its body (a new archive; the template is unchanged)."""
        tree = copy.deepcopy(self.tree)
        body = (
            tree.find(f"{{{W}}}body")
            if self.format == "docx"
            else tree.find(f"{{{OFFICE}}}body/{{{OFFICE}}}text")
        )
        assert body is not None
        after_heading = True
        current_list: etree._Element | None = None
        for block in blocks:
            if block.kind == "puce":
                item = self._clone("puce", block.text)
                if self.format == "odt":
                    if current_list is None:
                        current_list = item
                        body.append(item)
                    else:
                        current_list.extend(item.findall(f"{{{TEXT}}}list-item"))
                else:
                    body.append(item)
                continue
            current_list = None
            if block.kind == "saut":
                body.append(self._page_break())
                after_heading = True
                continue
            if block.kind == "paragraphe":
                body.append(self._clone("premier" if after_heading else "paragraphe", block.text))
                after_heading = False
            else:
                body.append(self._clone(block.kind, block.text))
                after_heading = True
        for element in self.tail:
            body.append(copy.deepcopy(element))
        main = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=True)
        return _zip(self.parts, _MAIN[self.format], main)

    def _clone(self, kind: str, text: str) -> etree._Element:
        element = copy.deepcopy(self.prototypes[kind])
        marker = _MARKERS[kind]
        for node in element.iter():
            if node.text and marker in node.text:
                node.text = node.text.replace(marker, xml_text(text))
                return element
        raise TemplateError(f"marqueur {marker} introuvable")  # pragma: no cover - checked in read()

    def _page_break(self) -> etree._Element:
        if self.format == "docx":
            paragraph = etree.Element(f"{{{W}}}p")
            run = etree.SubElement(paragraph, f"{{{W}}}r")
            etree.SubElement(run, f"{{{W}}}br", {f"{{{W}}}type": "page"})
            return paragraph
        return etree.Element(f"{{{TEXT}}}p", {f"{{{TEXT}}}style-name": _PAGE_BREAK_STYLE})


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


def _zip(parts: Sequence[tuple[zipfile.ZipInfo, bytes]], replaced: str, content: bytes) -> bytes:
    """The archive again, ``replaced`` holding ``content``; fixed dates, so equal input gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, data in parts:
            if info.filename == replaced:
                data = content
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            # ODF wants its mimetype first and stored; everything else is compressed.
            entry.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data, compresslevel=6 if entry.compress_type else None)
    return out.getvalue()
