"""Small pieces of rendering a citizen reads: French dates, numbers, durations, links."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from markupsafe import escape

from dote import pipeline, render
from dote.dpia import Screening
from dote.fragments import Fragments
from dote.model import Activity, Contact, Dpia, Member, Territory, duration_in_words
from dote.problems import Position
from dote.render import GeneratedPage, date_fr, number_fr, relative_url
from dote.vocabulary import Term, load_vocabularies, slugify

POSITION = Position("registers/members/m/member.yml")


@pytest.mark.parametrize(
    ("iso", "words"),
    [
        ("P1Y", "1 an"),
        ("P10Y", "10 ans"),
        ("P6M", "6 mois"),
        ("P30D", "30 jours"),
        ("P2W", "2 semaines"),
        ("P1Y6M", "1 an et 6 mois"),
        ("P1Y2M3D", "1 an, 2 mois et 3 jours"),
        ("P0D", "aucune conservation"),
    ],
)
def test_durations_in_french(iso: str, words: str) -> None:
    assert duration_in_words(iso) == words


def test_dates_and_numbers_in_french() -> None:
    assert date_fr(dt.date(2026, 2, 1)) == "1er février 2026"
    assert date_fr(dt.date(2026, 8, 15)) == "15 août 2026"
    assert number_fr(4200) == "4\u202f200"
    assert number_fr(18500000) == "18\u202f500\u202f000"


@pytest.mark.parametrize(
    ("origin", "target", "link"),
    [
        ("registres/", "registres/saint-exemple/", "saint-exemple/"),
        ("registres/saint-exemple/", "registres/", "../"),
        ("registres/saint-exemple/", "sous-traitants/nuage/", "../../sous-traitants/nuage/"),
        ("", "registres/", "registres/"),
        ("label/", "label/saint-exemple.svg", "saint-exemple.svg"),
    ],
)
def test_links_between_generated_pages_are_relative(origin: str, target: str, link: str) -> None:
    assert relative_url(origin, target) == link


def test_closest_codes_forgive_accents_case_and_parts() -> None:
    vocab = load_vocabularies()
    assert vocab["categories-donnees"].closest("Santé") == ["sante"]
    assert vocab["categories-donnees"].closest("sante-publique")[0] == "sante"
    assert vocab["pays"].closest("us") == ["US"]
    assert "enfants" in vocab["personnes-concernees"].closest("enfant")
    assert slugify("Élections municipales 2026") == "elections-municipales-2026"


# --- member pages: the parts written in Python (dote.fragments, render.search_filters) ---


def _member_pages(root: Path, territory: Territory | None = None) -> dict[str, GeneratedPage]:
    result = pipeline.run(root)
    assert result.ok and result.territory is not None
    pages = render.register_pages(territory or result.territory, render.environment(root), label=result.label)
    return {page.url: page for page in pages}


def test_glossary_links_are_those_of_their_own_page() -> None:
    """A page's links are kept for that page only: another page gets its own."""
    m = Fragments(glossary=True)
    here, there = (lambda a: f"../glossaire/#{a}"), (lambda a: f"../../glossaire/#{a}")
    first = m.gloss(here, "aipd", "AIPD")
    assert 'href="../glossaire/#aipd"' in first and m.gloss(here, "aipd", "AIPD") is first
    assert 'href="../../glossaire/#aipd"' in m.gloss(there, "aipd", "AIPD")
    assert m.gloss(there, "aipd", "analyse d'impact").endswith(">analyse d&#39;impact</a>")
    assert Fragments(glossary=False).gloss(here, "aipd", "<AIPD>") == "&lt;AIPD&gt;"


HOSTILE = " <script>x()</script> \" onmouseover='x()' & {{ 1 }}"


def test_activity_section_writes_register_text_as_text(demo_root: Path) -> None:
    result = pipeline.run(demo_root)
    assert result.territory is not None
    territory = result.territory
    member = next(m for m in territory.members if m.activities)
    texts = dict.fromkeys(
        ("name", "purpose", "description", "department", "subjects_details", "sources_details"), HOSTILE
    )
    texts |= {"rights_details": HOSTILE, "algorithm_rules": HOSTILE, "information_notice": "javascript:x()"}
    hostile = dataclasses.replace(
        member.activities[0],
        **texts,
        secondary_purposes=(HOSTILE,),
        tools=(HOSTILE,),
        transfers=(),
        controllers_served=("inconnu" + HOSTILE,),
        dpia=Dpia(summary=HOSTILE, link="javascript:x()"),
    )
    changed = dataclasses.replace(member, activities=(hostile, *member.activities[1:]))
    territory = dataclasses.replace(
        territory, members=tuple(changed if m.id == member.id else m for m in territory.members)
    )
    html = _member_pages(demo_root, territory)[f"registres/{member.id}/"].render(f"registres/{member.id}/")
    escaped = str(escape(HOSTILE))
    assert "<script>" not in html and "onmouseover='" not in html and 'href="javascript:' not in html
    assert html.count(escaped) >= 12  # every field above, the heading's anchor label, the filters…


def test_search_filters_name_each_value_once() -> None:
    kind = Term("types-membres", "commune", "Commune <&>")
    theme = Term("thematiques", "ecole", "École")
    activity = Activity(
        "a", "m", "A", None, Term("roles", "responsable", "Responsable"), POSITION, themes=(theme,)
    )
    member = Member("m", "Ville", kind, POSITION, Contact(), None, False, activities=(activity, activity))
    screened = Screening("requis", ())
    html = render.search_filters(member, None, lambda a: screened)
    assert html.startswith('<div class="dote-filtres" hidden>\n') and html.endswith("</div>\n")
    assert 'data-pagefind-filter="Type de membre:Commune ‹＆›"' in html
    assert html.count("Thème:École") == 1 and html.count("Analyse d’impact (AIPD):") == 1


def test_a_territory_template_replaces_the_activity_section(territory_copy: Path) -> None:
    """``_activite.html`` is written in Python, and a territory may still override it."""
    folder = territory_copy / render.TEMPLATE_OVERRIDES
    folder.mkdir(parents=True)
    (folder / "_activite.html").write_text(
        '<section class="propre">{{ a.name }}</section>\n', encoding="utf-8"
    )
    pages = _member_pages(territory_copy)
    result = pipeline.run(territory_copy)
    assert result.territory is not None
    member = next(m for m in result.territory.members if m.activities)
    html = pages[f"registres/{member.id}/"].render(f"registres/{member.id}/")
    assert html.count('<section class="propre">') == len(member.activities)
    assert "dote-activite" not in html


def test_an_unpublished_dpia_state_is_one_statement_in_markup(territory_copy: Path) -> None:
    """A member publishing « au choix » without the DPIA's fields: the screening's verdict and
    « not published » are one statement, written as markup (not escaped into visible tags)."""
    folder = territory_copy / "registers" / "members" / "boulangerie-exemple"
    for path in folder.glob("*.yml"):  # « aipd » out of champs_publies, and out of the registers
        text = path.read_text(encoding="utf-8").replace("  - aipd\n", "")
        path.write_text(re.sub(r"(?m)^aipd:.*\n(?:[ \t]+.*\n|\n)*", "", text), encoding="utf-8")
    page = _member_pages(territory_copy)["registres/boulangerie-exemple/"].render(
        "registres/boulangerie-exemple/"
    )
    statements = [part.split("</p>", 1)[0] for part in page.split('<dd class="dote-aipd">\n    <p>')[1:]]
    unpublished = [s for s in statements if "ne publie pas où en est" in s]
    assert unpublished and len(unpublished) == len(statements)
    for statement in unpublished:
        assert statement.startswith('<strong class="dote-badge dote-aipd--'), statement
        assert "&lt;" not in statement and '<span class="dote-manquant">le membre ne publie' in statement
