"""Small pieces of rendering a citizen reads: French dates, numbers, durations, links."""

from __future__ import annotations

import datetime as dt

import pytest

from dote.model import duration_in_words
from dote.render import date_fr, number_fr, relative_url
from dote.vocabulary import load_vocabularies, slugify


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
