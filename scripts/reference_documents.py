"""Make the reference documents that style every DOCX and ODT download.

Run from the repository's root: ``python scripts/reference_documents.py``. It asks the
pandoc of ``pypandoc-binary`` for its default reference documents and changes what a
French public body expects: A4 pages with 2 cm margins, French language (spelling and
hyphenation), a sans-serif font (Arial, which LibreOffice replaces by the metric-compatible
Liberation Sans), headings in the site's dark teal. The results are kept in the repository
(``src/dote/assets/reference.docx`` and ``reference.odt``) so that builds never depend on
this script; a territory can use its own (the ``reference_docx`` and ``reference_odt``
options of the dote plugin).
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

import pypandoc

TEAL = "00695C"  # --md-primary-fg-color of dote.css
FONT = "Arial"
OUT = Path(__file__).resolve().parent.parent / "src" / "dote" / "assets"


def default(name: str) -> bytes:
    return subprocess.run(
        [pypandoc.get_pandoc_path(), "--print-default-data-file", name], check=True, capture_output=True
    ).stdout


def rezip(data: bytes, changes: dict[str, callable]) -> bytes:  # type: ignore[valid-type]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename in changes:
                content = changes[info.filename](content.decode()).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()


def docx_styles(xml: str) -> str:
    fonts = f'<w:rFonts w:ascii="{FONT}" w:hAnsi="{FONT}" w:eastAsia="{FONT}" w:cs="{FONT}" />'
    xml = re.sub(r"<w:rFonts [^>]*/>", fonts, xml)
    xml = re.sub(r'<w:lang w:val="en-US"', '<w:lang w:val="fr-FR"', xml)
    xml = re.sub(r'<w:color w:val="0F4761"[^>]*/>', f'<w:color w:val="{TEAL}" />', xml)
    # 11 pt body text (sizes are in half-points)
    return xml.replace(
        '<w:sz w:val="24" />\n        <w:szCs w:val="24" />',
        '<w:sz w:val="22" />\n        <w:szCs w:val="22" />',
        1,
    )


def docx_document(xml: str) -> str:
    page = '<w:pgSz w:w="11906" w:h="16838" /><w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="567" w:footer="567" w:gutter="0" />'
    return xml.replace("<w:sectPr>", "<w:sectPr>" + page, 1)


def odt_styles(xml: str) -> str:
    xml = xml.replace(
        "<office:font-face-decls>",
        f'<office:font-face-decls><style:font-face style:name="{FONT}" svg:font-family="{FONT}" '
        'style:font-family-generic="swiss" style:font-pitch="variable" />',
        1,
    )
    xml = re.sub(r'style:font-name="(Times New Roman|Arial)"', f'style:font-name="{FONT}"', xml)
    xml = xml.replace('fo:language="en" fo:country="US"', 'fo:language="fr" fo:country="FR"')
    xml = xml.replace('fo:hyphenate="false"', 'fo:hyphenate="true"', 1)
    xml = re.sub(
        r'fo:page-width="8.5in"\s+fo:page-height="11in"', 'fo:page-width="21cm" fo:page-height="29.7cm"', xml
    )
    xml = re.sub(
        r'(<style:page-layout-properties [^>]*?)fo:margin-top="[^"]*"', r'\1fo:margin-top="2cm"', xml
    )
    for side in ("bottom", "left", "right"):
        xml = re.sub(
            rf'(<style:page-layout-properties [^>]*?)fo:margin-{side}="[^"]*"',
            rf'\1fo:margin-{side}="2cm"',
            xml,
        )
    # headings in the site's teal
    return re.sub(
        r'(<style:style style:name="Heading" style:family="paragraph".*?<style:text-properties )',
        rf'\1fo:color="#{TEAL.lower()}" ',
        xml,
        count=1,
        flags=re.S,
    )


def main() -> None:
    docx = rezip(
        default("reference.docx"), {"word/styles.xml": docx_styles, "word/document.xml": docx_document}
    )
    odt = rezip(default("reference.odt"), {"styles.xml": odt_styles})
    (OUT / "reference.docx").write_bytes(docx)
    (OUT / "reference.odt").write_bytes(odt)
    print(f"écrit : {OUT / 'reference.docx'}, {OUT / 'reference.odt'}")


if __name__ == "__main__":
    main()
