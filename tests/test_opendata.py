"""Open data on the site (/donnees/): the datasets, their catalogue, the page and the dictionary.

The demo territory (this repository's root, with ``site_url``) is built once by the
``built_demo`` fixture; the other cases use a copy of it, or its records directly
(:class:`dote.opendata.OpenData` needs no MkDocs build).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from dote import opendata, pipeline
from dote.cli import main
from dote.confidential import STRUCTURAL_KEYS, published_fields
from dote.load import Document
from dote.model import Converter
from dote.schema import validate_document
from dote.vocabulary import load_vocabularies
from libreoffice import convert

SITE_URL = "https://dote.example.org/"
TODAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def demo() -> pipeline.Result:
    result = pipeline.run(ROOT)
    assert result.ok and result.territory is not None
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode()), path  # a BOM: spreadsheets read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def member_files(site: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((site / "donnees" / "membres").glob("*.json"))
    }


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- the files ------------------------------------------------------------------------------------


def test_files_have_stable_names(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    folder = built_demo / "donnees"
    for name in ("territoire.json", "territoire.csv", "catalogue.jsonld", "catalogue.csv", "index.html"):
        assert (folder / name).is_file(), name
    assert (folder / "dictionnaire" / "index.html").is_file()
    ids = sorted(m.id for m in demo.territory.members)
    assert sorted(p.stem for p in (folder / "membres").glob("*.json")) == ids
    assert sorted(p.stem for p in (folder / "membres").glob("*.csv")) == ids


def test_every_activity_validates_against_the_activity_schema(
    built_demo: Path, demo: pipeline.Result
) -> None:
    assert demo.territory is not None
    territory = json.loads((built_demo / "donnees" / "territoire.json").read_text(encoding="utf-8"))
    assert territory["licence"]["code"] == "licence-ouverte-2.0"
    files = member_files(built_demo)
    assert [m["membre"]["identifiant"] for m in territory["membres"]] == [
        m.id for m in demo.territory.members
    ]
    checked = 0
    for member in territory["membres"]:
        member_id = member["membre"]["identifiant"]
        own = files[member_id]
        assert {k: own[k] for k in ("membre", "label", "activites")} == {
            k: member[k] for k in ("membre", "label", "activites")
        }
        record = demo.territory.member(member_id)
        partial = record.publication == "choix"
        assert [a["identifiant"] for a in member["activites"]] == [a.id for a in record.activities]
        for entry in member["activites"]:
            doc = Document(
                Path(f"{member_id}/{entry['identifiant']}.json"), entry["identifiant"], entry["activite"]
            )
            assert validate_document(doc, "activite", partial=partial) == [], (
                member_id,
                entry["identifiant"],
            )
            assert entry["depistage_aipd"]["verdict"] in ("requis", "recommande", "non-requis", "exempte")
            assert entry["page"] == f"{SITE_URL}registres/{member_id}/#{entry['identifiant']}"
            checked += 1
    assert checked == len(demo.territory.activities) > 20


def test_an_activity_written_back_gives_the_same_record(demo: pipeline.Result) -> None:
    """activity_data is the inverse of the converter: nothing the site shows is left out."""
    assert demo.territory is not None
    convert = Converter(load_vocabularies())
    for a in demo.territory.activities:
        data = opendata.activity_data(a)
        assert convert.activity(a.id, a.member_id, data, a.position, withheld=a.withheld) == a, a.id


def test_screening_and_label_are_the_engines(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.label is not None
    for member_id, data in member_files(built_demo).items():
        result = demo.label.member(member_id)
        assert data["label"]["niveau_libelle"] == result.level_title
        assert [c["id"] for c in data["label"]["criteres_non_remplis"]] == [c.id for c in result.unmet]
        for entry in data["activites"]:
            screening = result.activities[entry["identifiant"]].screening
            assert entry["depistage_aipd"]["verdict"] == screening.verdict
            if entry["depistage_aipd"]["motifs_publies"]:
                assert entry["depistage_aipd"]["motifs"] == list(screening.reasons)


def test_csv_has_one_row_per_activity(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    rows = read_csv(built_demo / "donnees" / "territoire.csv")
    assert len(rows) == len(demo.territory.activities)
    assert list(rows[0]) == list(opendata.COLUMNS)
    assert [(r["Identifiant du membre"], r["Identifiant de l'activité"]) for r in rows] == [
        (a.member_id, a.id) for a in demo.territory.activities
    ]
    for member in demo.territory.members:
        own = read_csv(built_demo / "donnees" / "membres" / f"{member.id}.csv")
        assert own == [r for r in rows if r["Identifiant du membre"] == member.id]
    several = next(r for r in rows if " ; " in r["Personnes concernées"])
    assert several["Dépistage AIPD"].startswith(("AIPD", "Dispense"))


def test_a_formula_in_the_registers_is_neutralised(territory_copy: Path) -> None:
    path = territory_copy / "registers" / "members" / "saint-exemple" / "etat-civil.yml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^nom: .*$", 'nom: "=HYPERLINK(\\"https://x.example\\")"', text, count=1)
    path.write_text(text, encoding="utf-8")
    result = pipeline.run(territory_copy)
    assert result.ok and result.territory is not None, [p.text() for p in result.errors]
    data = opendata.OpenData(result.territory, result.label, SITE_URL, TODAY)
    for name in (opendata.TERRITORY_CSV, opendata.member_csv_path("saint-exemple")):
        rows = list(csv.DictReader(io.StringIO(data.files()[name].decode("utf-8-sig")), delimiter=";"))
        row = next(
            r
            for r in rows
            if (r["Identifiant du membre"], r["Identifiant de l'activité"]) == ("saint-exemple", "etat-civil")
        )
        assert row["Activité"] == '\'=HYPERLINK("https://x.example")'
    member = json.loads(data.files()[opendata.member_json_path("saint-exemple")])
    entry = next(e for e in member["activites"] if e["identifiant"] == "etat-civil")
    assert entry["activite"]["nom"] == '=HYPERLINK("https://x.example")'  # JSON keeps the text as written


def _company(demo: pipeline.Result) -> tuple[Any, frozenset[str]]:
    import yaml

    assert demo.territory is not None
    company = next(m for m in demo.territory.members if m.publication == "choix" and m.activities)
    data = yaml.safe_load(
        (ROOT / "registers" / "members" / company.id / "member.yml").read_text(encoding="utf-8")
    )
    chosen = published_fields(data)
    assert chosen is not None
    return company, chosen


def test_withheld_fields_are_absent_from_json_and_csv(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.label is not None
    company, chosen = _company(demo)
    data = json.loads((built_demo / "donnees" / "membres" / f"{company.id}.json").read_text(encoding="utf-8"))
    raw_json = (built_demo / "donnees" / "membres" / f"{company.id}.json").read_text(encoding="utf-8")
    raw_csv = (built_demo / "donnees" / "membres" / f"{company.id}.csv").read_text(encoding="utf-8-sig")
    withheld_values: list[str] = []
    for entry in data["activites"]:
        assert set(entry["activite"]) <= chosen | STRUCTURAL_KEYS, entry["identifiant"]
        assert entry["depistage_aipd"]["motifs_publies"] is False and "motifs" not in entry["depistage_aipd"]
        # The label judges the whole register: its record of the activity has every field.
        complete = opendata.activity_data(demo.label.activity(company.id, entry["identifiant"]).activity)
        for key in set(complete) - chosen - STRUCTURAL_KEYS:
            for value in _strings(complete[key]):
                if len(value) > 15:
                    withheld_values.append(value)
    assert withheld_values, "the demo company withholds no text: nothing is tested"
    for value in withheld_values:
        assert value not in raw_json and value not in raw_csv, value
    rows = read_csv(built_demo / "donnees" / "membres" / f"{company.id}.csv")
    assert all(r["Publication du membre"].startswith("partielle") for r in rows)
    assert all(r["Outils"] == "" and r["Service"] == "" for r in rows) or "outils" in chosen


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# --- the pages ------------------------------------------------------------------------------------


def test_data_page_lists_every_file_with_its_size_and_the_licence(
    built_demo: Path, demo: pipeline.Result
) -> None:
    assert demo.territory is not None
    page = (built_demo / "donnees" / "index.html").read_text(encoding="utf-8")
    body = text_of(page)
    assert "<title>Données ouvertes" in page
    assert "Licence Ouverte / Open Licence 2.0 (Etalab)" in body
    assert 'href="https://www.etalab.gouv.fr/licence-ouverte-open-licence/"' in page
    assert "Fichiers produits le" in body
    links = set(re.findall(r'href="([^"#]+)"', page))
    folder = built_demo / "donnees"
    for name in ["territoire.json", "territoire.csv", "catalogue.jsonld", "catalogue.csv"] + [
        f"membres/{m.id}.{ext}" for m in demo.territory.members for ext in ("json", "csv")
    ]:
        assert name in links, name
        size = opendata.size_fr((folder / name).stat().st_size)
        assert size in body, (name, size)
    assert "dictionnaire/" in links
    for schema in ("activite.schema.json", "membre.schema.json", "sous-traitant.schema.json"):
        assert f"../schemas/{schema}" in links and (built_demo / "schemas" / schema).is_file()
    nav = page[page.find('<nav class="md-nav md-nav--primary"') :]
    assert "Données ouvertes" in nav


def test_the_reuse_conditions_follow_the_licence(territory_copy: Path, tmp_path: Path) -> None:
    from dote.cli import main

    maison = territory_copy / "registers" / "maison.yml"
    maison.write_text(
        maison.read_text(encoding="utf-8").replace("licence: licence-ouverte-2.0", "licence: odbl-1.0"),
        encoding="utf-8",
    )
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    body = text_of((site / "donnees" / "index.html").read_text(encoding="utf-8"))
    assert "Open Database License (ODbL) 1.0" in body
    assert "sous la même licence toute base de données dérivée" in body
    assert "la date de leur dernière mise à jour" not in body  # Licence Ouverte's condition, not ODbL's


def test_dictionary_documents_fields_with_their_codes(built_demo: Path) -> None:
    page = (built_demo / "donnees" / "dictionnaire" / "index.html").read_text(encoding="utf-8")
    body = text_of(page)
    assert "<title>Dictionnaire des données" in page
    for field in (
        "categories_donnees[].code",
        "categories_donnees[].conservation.duree",
        "finalites.principale",
        "base_legale.code",
        "transferts[].pays",
        "notes_internes",
        "champs_publies",
    ):
        assert f"<code>{field}</code>" in page, field
    assert 'href="#vocabulaire-categories-donnees"' in page and 'id="vocabulaire-categories-donnees"' in page
    assert "<code>etat-civil-identite</code>" in page  # the codes of the vocabulary
    assert "<code>generee</code>" in page  # the values of a closed list without vocabulary
    assert "Catégories de données" in body and "non publié (confidentiel)" in body
    assert "non publié (réservé aux membres)" in body and "date (AAAA-MM-JJ)" in body
    article = page[page.find("<article") : page.find("</article>")]
    assert "Boulangerie Exemple" not in article and "saint-exemple" not in article  # never data


# --- the catalogue ------------------------------------------------------------------------------------


def test_catalogue_lists_every_dataset_with_absolute_urls(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    raw = (built_demo / "donnees" / "catalogue.jsonld").read_text(encoding="utf-8")
    catalogue = json.loads(raw)
    assert catalogue["@type"] == "dcat:Catalog"
    assert catalogue["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert catalogue["@context"]["dct"] == "http://purl.org/dc/terms/"
    licence = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    datasets = catalogue["dcat:dataset"]
    assert len(datasets) == len(demo.territory.members) + 1
    downloads = set()
    for dataset in datasets:
        assert dataset["@type"] == "dcat:Dataset"
        assert dataset["dct:license"] == {"@id": licence}
        assert dataset["dct:title"]["@value"] and dataset["dct:description"]["@value"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", dataset["dct:modified"]["@value"])
        assert dataset["dct:publisher"]["foaf:name"] == demo.territory.maison.name
        for distribution in dataset["dcat:distribution"]:
            url = distribution["dcat:downloadURL"]["@id"]
            assert url.startswith(SITE_URL)
            path = built_demo / url.removeprefix(SITE_URL)
            assert path.is_file(), url
            assert distribution["dcat:byteSize"]["@value"] == str(path.stat().st_size)
            assert distribution["dcat:mediaType"]["@id"].endswith(("application/json", "text/csv"))
            assert distribution["dct:format"]["@id"].rsplit("/", 1)[1] in ("JSON", "CSV")
            downloads.add(url.removeprefix(SITE_URL))
    expected = {f"donnees/territoire.{e}" for e in ("json", "csv")} | {
        f"donnees/membres/{m.id}.{e}" for m in demo.territory.members for e in ("json", "csv")
    }
    assert downloads == expected


def test_catalogue_is_valid_json_ld(built_demo: Path) -> None:
    jsonld = pytest.importorskip("pyld.jsonld")
    catalogue = json.loads((built_demo / "donnees" / "catalogue.jsonld").read_text(encoding="utf-8"))
    expanded = jsonld.expand(catalogue)  # the context is inline: nothing is fetched
    assert len(expanded) == 1
    node = expanded[0]
    dcat, dct = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"
    assert node["@type"] == [f"{dcat}Catalog"]
    datasets = node[f"{dcat}dataset"]
    assert all(d["@type"] == [f"{dcat}Dataset"] for d in datasets)
    first = datasets[0]
    assert first[f"{dct}license"] == [{"@id": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}]
    assert first[f"{dct}modified"][0]["@type"] == "http://www.w3.org/2001/XMLSchema#date"
    url = first[f"{dcat}distribution"][0][f"{dcat}downloadURL"][0]["@id"]
    assert url == f"{SITE_URL}donnees/territoire.json"
    # And as RDF: every dataset has a title, a licence and a distribution.
    quads = jsonld.to_rdf(catalogue)["@default"]
    subjects = {q["subject"]["value"] for q in quads if q["predicate"]["value"] == f"{dct}license"}
    assert len(subjects) >= len(datasets)


def test_catalogue_csv_has_the_scdl_columns(built_demo: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    rows = read_csv(built_demo / "donnees" / "catalogue.csv")
    assert list(rows[0]) == list(opendata.SCDL_CATALOGUE_COLUMNS)
    assert len(rows) == len(demo.territory.members) + 1
    assert [r["ID"] for r in rows] == ["territoire"] + [f"membre-{m.id}" for m in demo.territory.members]
    for row in rows:
        assert row["URL"].startswith(SITE_URL)
        assert row["LICENCE"] == "Licence Ouverte / Open Licence 2.0 (Etalab)"
        assert row["NOMBRE_RESSOURCES"] == "2" and row["FORMAT_RESSOURCES"] == "json,csv"
        assert row["COLL_NOM"] == demo.territory.maison.name


def test_without_site_url_no_catalogue_and_a_notice(
    territory_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = territory_copy / "mkdocs.yml"
    config.write_text(re.sub(r"(?m)^site_url:.*\n", "", config.read_text(encoding="utf-8")), encoding="utf-8")
    site = tmp_path / "site"
    with caplog.at_level(logging.WARNING, logger="dote.site"):
        assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    notices = [r.getMessage() for r in caplog.records if r.name == "dote.site"]
    assert any("données ouvertes" in n and "site_url" in n for n in notices), notices
    folder = site / "donnees"
    assert not (folder / "catalogue.jsonld").exists() and not (folder / "catalogue.csv").exists()
    assert (folder / "territoire.json").is_file() and (folder / "territoire.csv").is_file()
    data = json.loads((folder / "territoire.json").read_text(encoding="utf-8"))
    assert data["membres"][0]["membre"]["page"].startswith("registres/")  # site-relative without site_url
    body = text_of((folder / "index.html").read_text(encoding="utf-8"))
    assert "n'est pas publié" in body and "catalogue.jsonld" not in body


def test_an_internal_build_writes_no_data_file(demo: pipeline.Result) -> None:
    assert demo.territory is not None
    data = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY, internal=True)
    assert data.files() == {}


def test_same_registers_same_files(demo: pipeline.Result) -> None:
    assert demo.territory is not None
    first = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY).files()
    second = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY).files()
    assert first == second


def test_the_csv_downloads_open_in_libreoffice(built_demo: Path, soffice: str, tmp_path: Path) -> None:
    """LibreOffice reads the territory's CSV with its separator and accents, one row per activity."""
    source = built_demo / "donnees" / "territoire.csv"
    expected = read_csv(source)
    # Semicolon-separated, double quotes, UTF-8 (LibreOffice's CSV filter options: 59,34,76).
    out = convert(soffice, tmp_path, "xlsx", [source], infilter="CSV:59,34,76,1")
    import openpyxl

    workbook = openpyxl.load_workbook(out / "territoire.xlsx", read_only=True)
    try:
        sheet = workbook.active
        assert sheet is not None
        rows = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    assert rows[0] == list(expected[0])
    assert len(rows) == len(expected) + 1
    names = {row[list(expected[0]).index("Activité")] for row in rows[1:]}
    assert names == {r["Activité"] for r in expected} and "État civil" in names


def test_format_2_names_the_processors_of_the_published_activities(demo: pipeline.Result) -> None:
    """``sous_traitants`` (format 2): each file names the processors its activities name, with
    public fields only (sous-traitant.schema.json's ``x-visibilite``), sorted by id."""
    territory = demo.territory
    assert territory is not None
    files = opendata.OpenData(territory, demo.label, SITE_URL, TODAY).files()
    whole = json.loads(files[opendata.TERRITORY_JSON])
    assert whole["format"] == opendata.FORMAT_NAME and whole["version_format"] == opendata.FORMAT_VERSION == 2
    assert list(whole)[:9] == [
        "format",
        "version_format",
        "licence",
        "produit_le",
        "schema_activite",
        "dictionnaire",
        "maison",
        "sous_traitants",
        "membres",
    ]
    allowed = {"identifiant", "nom", "siren", "pays_hors_ue", "page"}

    def expected(activities: list[Any]) -> list[str]:
        return sorted(
            {pid for a in activities for pid in a.recipients.processors if pid in territory.processors}
        )

    def check(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            assert set(entry) <= allowed, entry
            processor = territory.processors[entry["identifiant"]]
            assert entry["nom"] == processor.name
            assert entry.get("siren", "") == processor.siren
            assert entry["pays_hors_ue"] == [c.code for c in processor.countries_outside_eea]
            assert entry["page"] == f"{SITE_URL}sous-traitants/{processor.id}/"

    named = expected(list(territory.activities))
    assert [p["identifiant"] for p in whole["sous_traitants"]] == named
    assert named and len(named) < len(territory.processors) + 1
    check(whole["sous_traitants"])
    assert any(p["pays_hors_ue"] for p in whole["sous_traitants"]) or not any(
        territory.processors[pid].countries_outside_eea for pid in named
    )
    for member in territory.members:
        data = json.loads(files[opendata.member_json_path(member.id)])
        assert data["version_format"] == 2
        ids = [p["identifiant"] for p in data["sous_traitants"]]
        assert ids == expected(list(member.activities)), member.id
        check(data["sous_traitants"])
    # The territory's list is the union of its members'.
    assert set(named) == {
        p["identifiant"]
        for m in territory.members
        for p in json.loads(files[opendata.member_json_path(m.id)])["sous_traitants"]
    }


class _Kept:
    """A member cache in memory (as the plugin's, by member), whose entries can be damaged."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes | None] = {}

    def has(self, member_id: str) -> bool:
        return member_id in self.entries

    def get(self, member_id: str) -> bytes | None:
        return self.entries.get(member_id)

    def put(self, member_id: str, texts: bytes) -> None:
        self.entries[member_id] = texts


def test_files_are_the_same_from_the_store_the_cache_workers_or_a_damaged_entry(
    demo: pipeline.Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files written piece by piece into the file store, from members' texts kept by an
    earlier build (one of them damaged since), or computed by forked workers, are the files
    made in memory in one process."""
    from dote import cache

    assert demo.territory is not None
    expected = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY).files()
    kept = _Kept()
    store = cache.FileStore(tmp_path, "donnees")
    stored = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY, cache=kept, store=store)
    assert all(f.path is not None for p, f in stored.data_files().items() if "catalogue" not in p)
    assert stored.files() == expected
    damaged = demo.territory.members[0].id
    kept.entries[damaged] = None
    again = opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY, cache=kept, store=store)
    assert again.files() == expected and kept.entries[damaged] is not None
    monkeypatch.setattr(opendata, "PARALLEL_FROM", 1)
    monkeypatch.setenv("DOTE_PROCESSUS", "2")
    forked: list[int] = []
    real = opendata.workers.imap_forked
    monkeypatch.setattr(opendata.workers, "imap_forked", lambda *a, **k: forked.append(1) or real(*a, **k))
    assert opendata.OpenData(demo.territory, demo.label, SITE_URL, TODAY).files() == expected
    assert forked


def test_data_json_is_compact_utf8_without_markup_and_takes_any_integer() -> None:
    value = {"nom": "Ville <b>&</b> « CCAS »", "volume": 2**70, "petit": -(2**63), "liste": [1.5, None, True]}
    raw = opendata._json_bytes(value)  # beyond 64 bits: the standard library's encoder
    assert json.loads(raw) == value
    assert (
        raw
        == (
            '{"nom":"Ville \\u003cb\\u003e\\u0026\\u003c/b\\u003e « CCAS »","volume":1180591620717411303424,'
            '"petit":-9223372036854775808,"liste":[1.5,null,true]}'
        ).encode()
    )
    assert opendata._json_bytes({"n": 1, "t": "é<"}) == '{"n":1,"t":"é\\u003c"}'.encode()  # orjson
    with pytest.raises(TypeError):  # refused, not converted: a date is never written by accident
        opendata._json_bytes({"date": dt.date(2026, 12, 2)})
