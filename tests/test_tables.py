"""Tables of hand-written pages: each in a named region the keyboard reaches (dote.tables)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import markdown

from dote.tables import REGION_CLASS, scroll_regions

TABLE = "<table>\n<thead>\n<tr><th>Base</th><th>Sens</th></tr>\n</thead>\n<tbody>\n<tr><td>a</td><td>b</td></tr>\n</tbody>\n</table>"


def _regions(page: str) -> list[dict[str, str | None]]:
    """The attributes of every region div this module writes, in order."""

    found: list[dict[str, str | None]] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "div" and dict(attrs).get("class") == REGION_CLASS:
                found.append(dict(attrs))

    Finder().feed(page)
    return found


def test_a_table_is_wrapped_in_a_focusable_region_named_by_its_section() -> None:
    page = f'<h2 id="bases">Les bases légales<a class="headerlink" href="#bases" title="Permanent link">¶</a></h2>\n{TABLE}\n<p>Après.</p>'
    out = scroll_regions(page)
    assert out == page.replace(
        TABLE,
        f'<div class="{REGION_CLASS}" role="region" tabindex="0" aria-label="Tableau : Les bases légales">'
        f"{TABLE}</div>",
    )
    (region,) = _regions(out)
    assert region["role"] == "region" and region["tabindex"] == "0"


def test_the_rest_of_the_page_is_left_byte_for_byte() -> None:
    page = (
        "<h1>Titre &amp; sous-titre</h1>\r\n<p>Un <br/>texte &eacute; <!-- commentaire --></p>\n"
        f"<script>const t = '<table>';</script>\n<pre><code>&lt;table&gt;</code></pre>\n{TABLE}\n<p>Fin</p>\n"
    )
    out = scroll_regions(page)
    assert out.count("<table>") == 2  # the one in the script stays as it is
    start = f'<div class="{REGION_CLASS}" role="region" tabindex="0" aria-label="Tableau : Titre &amp; sous-titre">'
    assert out == page.replace(f"\n{TABLE}\n", f"\n{start}{TABLE}</div>\n")


def test_a_page_without_tables_is_returned_unchanged() -> None:
    page = "<h1>Rien</h1><p>Aucun tableau, même pas <code>&lt;table&gt;</code>.</p>"
    assert scroll_regions(page) is page


def test_tables_already_in_a_region_or_in_a_table_are_not_wrapped_again() -> None:
    generated = '<div class="dote-table" role="region" tabindex="0" aria-labelledby="t"><table class="dote-tableau"><caption id="t">Un</caption><tr><td>x</td></tr></table></div>'
    hand_written = f'<div role="region" tabindex="0" aria-label="À moi"><div>{TABLE}</div></div>'
    nested = "<table><tr><td><table><tr><td>dedans</td></tr></table></td></tr></table>"
    page = f"<h2>Section</h2>{generated}{hand_written}{nested}"
    out = scroll_regions(page)
    assert out == page.replace(
        nested,
        f'<div class="{REGION_CLASS}" role="region" tabindex="0" aria-label="Tableau : Section">{nested}</div>',
    )
    assert scroll_regions(out) == out  # a second pass changes nothing


def test_names_come_from_the_caption_or_are_numbered_and_unique() -> None:
    page = (
        f"<p>Avant tout titre</p>{TABLE}"
        f"<h2>Durées</h2>{TABLE}<p>entre</p>{TABLE}"
        f'<h3>Listes</h3><table><caption id="cap">Les listes</caption><tr><td>x</td></tr></table>'
        f"<table><caption>Les sorts <em>finaux</em></caption><tr><td>x</td></tr></table>"
        f"<h3>Autres</h3>{TABLE}"
    )
    names = [
        region.get("aria-label") or f"#{region.get('aria-labelledby')}"
        for region in _regions(scroll_regions(page))
    ]
    assert names == [
        "Tableau 1",
        "Tableau 1 : Durées",
        "Tableau 2 : Durées",
        "#cap",
        "Les sorts finaux",
        "Tableau : Autres",
    ]
    assert len(set(names)) == len(names)


def test_names_are_escaped_in_the_attribute() -> None:
    page = f"<h2>« Guillemets » &quot;doubles&quot; &amp; &lt;b&gt;</h2>{TABLE}"
    (region,) = _regions(scroll_regions(page))
    assert region["aria-label"] == 'Tableau : « Guillemets » "doubles" & <b>'


def test_an_unclosed_table_is_left_alone() -> None:
    page = "<h2>Cassé</h2><table><tr><td>sans fin"
    assert scroll_regions(page) == page


def test_a_markdown_table_as_mkdocs_renders_it() -> None:
    text = "# Page\n\n## Les rôles\n\n| Rôle | Qui |\n|---|---|\n| éditeur | la Maison |\n\nTexte.\n"
    page = markdown.markdown(
        text, extensions=["tables", "toc"], extension_configs={"toc": {"permalink": True}}
    )
    out = scroll_regions(page)
    (region,) = _regions(out)
    assert region["aria-label"] == "Tableau : Les rôles"
    # The region holds the whole table, and nothing else.
    inside = re.search(rf'<div class="{REGION_CLASS}"[^>]*>(.*?)</div>', out, re.S)
    assert (
        inside is not None and inside.group(1).startswith("<table>") and inside.group(1).endswith("</table>")
    )
