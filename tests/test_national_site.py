"""The national static site (dote.national.site): its pages, figures, explorer, search and trust.

Three small demo territories are built once for the module (``dote demo`` then ``dote build``
with a ``site_url``); their published ``donnees/territoire.json`` make a Harvest in Python,
with hostile strings planted in one, the third downgraded to the older format, plus an
unreachable Maison and a refused one. The national site is built once from it.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dote import explorer
from dote.national import site
from dote.national.model import Harvest, Issue, MaisonHarvest, MaisonSource, NationalConfig
from dote.vocabulary import load_vocabularies
from hostile import live_markup
from national_fixtures import Spec, build_maisons

SCRIPT = "<script>dotexss()</script>"
IMAGE = '"><img src=x onerror=dotexss()>'
HOSTILE = f"{SCRIPT} {IMAGE}"
WHEN = dt.datetime(2026, 11, 30, 8, 15, tzinfo=dt.UTC)
BASE = "http://127.0.0.1:9/"

PAGES = (
    "index.html",
    "maisons/index.html",
    "tableau-de-bord/index.html",
    "explorateur/index.html",
    "recherche/index.html",
    "provenance/index.html",
    "donnees-personnelles/index.html",
    "accessibilite/index.html",
    "404.html",
)


def _hostile(data: dict[str, Any]) -> dict[str, Any]:
    """Hostile text in every kind of harvested string the site shows, and a javascript: page."""
    data = copy.deepcopy(data)
    data["maison"]["nom"] = f"Maison hostile {HOSTILE}"
    data["maison"]["territoire"] = f"Territoire {HOSTILE}"
    first = data["membres"][0]
    first["membre"]["nom"] = f"Membre {HOSTILE}"
    first["membre"]["page"] = "javascript:dotexss()"
    first["membre"]["type_libelle"] = f"Type {HOSTILE}"
    activity = first["activites"][0]
    activity["activite"]["nom"] = f"Activité {HOSTILE}"
    activity["activite"]["finalites"]["principale"] = f"Finalité {HOSTILE}"
    activity["activite"].setdefault("destinataires", {})["externes"] = [f"Destinataire {HOSTILE}"]
    activity["activite"]["transferts"] = [{"pays": "US", "destinataire": HOSTILE}]
    if first.get("label"):
        first["label"]["niveau_libelle"] = f"Niveau {HOSTILE}"
    for processor in data.get("sous_traitants", []):
        processor["nom"] = f"Sous-traitant {HOSTILE}"
    return data


def _older(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["version_format"] = 1
    data.pop("sous_traitants", None)
    return data


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Harvest, dict[str, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("national-site")
    specs = [Spec("grande", 8, 5, 1), Spec("petite", 4, 3, 2), Spec("ancienne", 3, 3, 3)]
    maisons = build_maisons(specs, work / "territoires", work / "servi", BASE, parallel=3)
    data = {}
    for maison in maisons:
        assert maison.site is not None
        data[maison.id] = json.loads((maison.site / "donnees" / "territoire.json").read_bytes())
    data["petite"] = _hostile(data["petite"])
    # Cameras on public space, as a commune's video protection publishes them (issue 14's facts).
    for member in data["grande"]["membres"][:2]:
        record = member["activites"][0]["activite"]
        record["moyens"], record["surveillance"] = ["videoprotection"], ["espace-public"]
    data["ancienne"] = _older(data["ancienne"])

    def source(ident: str, name: str = "") -> MaisonSource:
        return MaisonSource(ident, name, f"{BASE}{ident}/")

    def good(ident: str, older: bool = False, issues: list[Issue] | None = None) -> MaisonHarvest:
        return MaisonHarvest(
            source(ident),
            "a-jour" if ident != "ancienne" else "inchange",
            attempted=WHEN,
            last_success=WHEN,
            format_version=data[ident]["version_format"],
            older_format=older,
            issues=issues or [],
            territory=data[ident],
            catalogue_url=f"{BASE}{ident}/donnees/catalogue.jsonld",
            dataset_url=f"{BASE}{ident}/donnees/territoire.json",
        )

    refused_issue = Issue("erreur", f"champ non public « notes_internes » {HOSTILE}", "mairie-x", "paie")
    harvest = Harvest(
        [
            good("grande"),
            good("petite", issues=[Issue("erreur", f"activité refusée {HOSTILE}", "m1", "a1")]),
            good("ancienne", older=True),
            MaisonHarvest(
                source("muette", "Maison muette"),
                "injoignable",
                attempted=WHEN,
                last_success=None,
                reason="la connexion a été refusée",
            ),
            MaisonHarvest(
                source("refusee", "Maison refusée"),
                "refuse",
                attempted=WHEN,
                last_success=WHEN,
                reason="elle publie un champ non public",
                format_version=2,
                issues=[refused_issue],
                territory=data["grande"],
            ),
        ],
        WHEN,
    )
    config = NationalConfig(
        work / "national.yml",
        "Registre national (essai)",
        tuple(m.source for m in harvest.maisons),
        work / "moisson",
        publisher=f"Fédération {HOSTILE}",
        contact="mailto:contact@national.example.org",
    )
    out = work / "national-site"
    site.build(config, harvest, out)
    return out, harvest, {k: data[k] for k in ("grande", "petite", "ancienne")}


def _read(folder: Path, page: str) -> str:
    return (folder / page).read_text(encoding="utf-8")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_page_exists_with_its_policy(built: tuple[Path, Harvest, Any]) -> None:
    folder, _, _ = built
    for page in PAGES:
        html = _read(folder, page)
        assert '<meta http-equiv="Content-Security-Policy"' in html, page
        assert 'lang="fr"' in html, page
    assert "Page introuvable" in _read(folder, "404.html")
    every = [p for p in folder.rglob("*.html") if "pagefind" not in p.parts]
    assert all('http-equiv="Content-Security-Policy"' in p.read_text(encoding="utf-8") for p in every)


def test_footer_links_work(built: tuple[Path, Harvest, Any]) -> None:
    folder, _, _ = built
    html = _read(folder, "maisons/index.html")
    footer = html[html.index('aria-label="Informations légales"') :]
    links = re.findall(r'href="([^"]+)"', footer[: footer.index("</nav>")])
    assert links
    for link in links:
        target = (folder / "maisons" / link).resolve()
        assert target.is_file() or (target / "index.html").is_file(), link


def test_legal_pages_name_the_publisher_and_say_what_is_true(built: tuple[Path, Harvest, Any]) -> None:
    folder, _, _ = built
    statement = _text(_read(folder, "accessibilite/index.html"))
    # RGAA: without an audit there is no conformity rate, and the state is « non conforme ».
    assert "non conforme" in statement and "partiellement conforme" not in statement
    assert "Fédération" in statement and "contact@national.example.org" in statement
    assert "Libre réponse 71120" in statement
    assert "Accessibilité : non conforme" in _text(_read(folder, "index.html"))
    privacy = _read(folder, "donnees-personnelles/index.html")
    assert 'href="mailto:contact@national.example.org"' in privacy
    assert "Aucune requête vers un autre site" in _text(privacy)


def test_the_maisons_page_lists_all_five_with_their_status(built: tuple[Path, Harvest, Any]) -> None:
    folder, harvest, data = built
    text = _text(_read(folder, "maisons/index.html"))
    assert text.count("État de la moisson") == 5
    for maison in harvest.maisons:
        assert maison.source.site in _read(folder, "maisons/index.html")
    assert "Maison muette" in text and "Injoignable : aucune moisson réussie" in text
    assert "Maison refusée" in text and "Refusé : elle publie un champ non public" in text
    assert "Inchangé" in text and "À jour" in text
    assert "format plus ancien" in text
    assert "mairie-x" in text and "paie" in text  # the refused activity: its member and id
    grande = data["grande"]
    activities = sum(len(m["activites"]) for m in grande["membres"])
    assert f"{len(grande['membres'])} membres, {activities} activités publiées" in text


def test_explorer_data_links_every_usable_maisons_activities(built: tuple[Path, Harvest, Any]) -> None:
    folder, _, data = built
    raw = (folder / site.EXPLORER_DATA).read_bytes()
    records = explorer.decode(raw)
    content = json.loads(raw)
    assert [f["cle"] for f in content["facettes"]][:2] == ["membre", "maison"]
    assert len(content["pages"]) == len(content["membres"])
    expected = {
        (ident, m["membre"]["identifiant"], a["identifiant"])
        for ident, territory in data.items()
        for m in territory["membres"]
        for a in m["activites"]
    }
    assert {(r["maison"][0], r["membre"][0].split("/", 1)[1], r["id"]) for r in records} == expected
    assert {r["maison"][0] for r in records} == {"grande", "petite", "ancienne"}
    for record in records:
        if record["membre"][0] == "petite/" + data["petite"]["membres"][0]["membre"]["identifiant"]:
            assert record["page"] == ""  # its page was javascript:
        else:
            assert record["page"].startswith(f"{BASE}{record['maison'][0]}/registres/")
            assert record["page"].endswith("#" + record["id"])
    assert "javascript" not in raw.decode()
    assert "refusee" not in {r["maison"][0] for r in records}
    # The means used and what is watched, as the Maisons publish them, are facets too.
    published = {
        (ident, m["membre"]["identifiant"], a["identifiant"]): a["activite"]
        for ident, territory in data.items()
        for m in territory["membres"]
        for a in m["activites"]
    }
    for record in records:
        activity = published[(record["maison"][0], record["membre"][0].split("/", 1)[1], record["id"])]
        assert record.get("moyens", []) == list(dict.fromkeys(activity.get("moyens", [])))
        assert record.get("surveillance", []) == list(dict.fromkeys(activity.get("surveillance", [])))
    assert any(r.get("moyens") for r in records), "the synthetic territories state means"


def _table(html: str, table_id: str) -> dict[str, list[str]]:
    """A table's rows: its row header → its cells (text)."""

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table" and ("id", table_id) in attrs:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag == "table":
                self.inside = False
            elif self.inside and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    parser = Parser()
    parser.feed(html)
    return {row[0]: row[1:] for row in parser.rows[1:]}


def _number(text: str) -> int:
    return int(text.replace("\u202f", "").replace(" ", ""))


def test_figures_match_counts_from_the_json(built: tuple[Path, Harvest, Any]) -> None:
    folder, _, data = built
    html = _read(folder, "tableau-de-bord/index.html")
    members = [m for t in data.values() for m in t["membres"]]
    activities = [a for m in members for a in m["activites"]]
    types = Counter(m["membre"]["type_libelle"] for m in members)
    assert {k: _number(v[0]) for k, v in _table(html, "donnees-types").items()} == dict(types)
    verdicts = Counter(a["depistage_aipd"]["verdict"] for a in activities)
    shown = {k: _number(v[0]) for k, v in _table(html, "donnees-aipd-depistage").items()}
    assert sum(shown.values()) == len(activities)
    assert shown["AIPD requise"] == verdicts["requis"]
    per_maison = _table(html, "donnees-maisons-membres")
    for territory in data.values():
        name = territory["maison"]["nom"]
        row = per_maison[name]
        assert _number(row[0]) == len(territory["membres"])
        assert _number(row[1]) == sum(len(m["activites"]) for m in territory["membres"])
    # Transfers outside the EU: the activities' own, and (format 2) their processors'.
    countries: dict[str, set[tuple[str, str, str]]] = {}
    for ident, territory in data.items():
        outside = {p["identifiant"]: p["pays_hors_ue"] for p in territory.get("sous_traitants", [])}
        for m in territory["membres"]:
            for a in m["activites"]:
                key = (ident, m["membre"]["identifiant"], a["identifiant"])
                record = a["activite"]
                found = [t["pays"] for t in record.get("transferts") or [] if isinstance(t, dict)]
                for pid in record.get("destinataires", {}).get("sous_traitants", []):
                    found += outside.get(pid, [])
                for country in found:
                    countries.setdefault(country, set()).add(key)
    shown = {k: _number(v[0]) for k, v in _table(html, "donnees-transferts").items()}
    assert shown.get("États-Unis") == len(countries["US"])
    assert sum(shown.values()) == sum(len(v) for v in countries.values())
    # DPIAs declared done.
    text = _text(html)
    done = sum(1 for a in activities if (a["activite"].get("aipd") or {}).get("statut") == "realisee")
    assert f"{done} analyses d'impact déclarées réalisées" in text or f"({done} analyses" in text
    assert "Calculé sur 3 Maisons" in text
    # The means used and what is watched; who watches the public space, by Maison.
    vocabularies = load_vocabularies()
    means = Counter(
        vocabularies["moyens-traitement"].terms[c].label
        for a in activities
        for c in set(a["activite"].get("moyens", []))
    )
    shown = {k: _number(v[0]) for k, v in _table(html, "donnees-moyens").items()}
    assert shown == dict(means) and means
    public = {
        territory["maison"]["nom"]: [
            (m["membre"]["identifiant"], a["identifiant"])
            for m in territory["membres"]
            for a in m["activites"]
            if "espace-public" in a["activite"].get("surveillance", [])
        ]
        for territory in data.values()
    }
    assert any(public.values()), "the synthetic communes film public space"
    rows = _table(html, "donnees-espace-public-maisons")
    assert {k: (_number(v[0]), _number(v[1])) for k, v in rows.items()} == {
        name: (len(found), len({member for member, _ in found})) for name, found in public.items() if found
    }
    assert "(identifiant)" in html or not any(
        a["activite"].get("destinataires", {}).get("sous_traitants")
        for m in data["ancienne"]["membres"]
        for a in m["activites"]
    )


def test_hostile_text_never_becomes_markup(built: tuple[Path, Harvest, Any]) -> None:
    folder, harvest, _ = built
    assert live_markup(folder) == []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            continue  # Pagefind's index: text, escaped by its interface
        text = raw.decode("utf-8", errors="replace")
        assert SCRIPT not in text and "<img src=x" not in text, path
    assert "&lt;script&gt;dotexss()&lt;/script&gt;" in _read(folder, "maisons/index.html")
    view = site.national(NationalConfig(Path("n.yml"), "n", (), Path("m")), harvest)
    documents = site.search_documents(view)
    for document in documents.values():
        assert SCRIPT not in document and "<img src=x" not in document
        assert 'data-pagefind-meta="adresse:javascript' not in document


def test_search_bundle_and_documents(built: tuple[Path, Harvest, Any]) -> None:
    folder, harvest, data = built
    assert (folder / "pagefind" / "pagefind-ui.js").is_file()
    assert (folder / "pagefind" / "pagefind-entry.json").is_file()
    script = (folder / site.SEARCH_SCRIPT).read_text(encoding="utf-8")
    # A search over several bundles gets its filters completed (recherche-filtres.js, first).
    assert script.index("window.doteFiltresComplets = function") < script.index(
        "window.doteFiltresComplets(ui"
    )
    assert not (folder / site.SEARCH_DOCUMENTS).exists()  # staged, never published
    view = site.national(NationalConfig(Path("n.yml"), "n", (), Path("m")), harvest)
    documents = site.search_documents(view)
    assert len(documents) == sum(len(t["membres"]) for t in data.values())
    joined = "\n".join(documents.values())
    for territory in data.values():
        for m in territory["membres"][1:]:
            for a in m["activites"]:
                assert f'id="{a["identifiant"]}"' in joined
                assert (
                    json.dumps(a["activite"]["nom"], ensure_ascii=False)[1:-1].replace("'", "&#x27;")
                    in joined
                )
    # Pagefind's fragments carry each member's real page and its Maison.
    metas = []
    for fragment in (folder / "pagefind" / "fragment").iterdir():
        inner = gzip.decompress(fragment.read_bytes())
        metas.append(json.loads(inner[inner.index(b"{") :])["meta"])
    assert len(metas) == len(documents)
    pages = {m.get("adresse", "") for m in metas}
    grande = data["grande"]["membres"][0]["membre"]["page"]
    assert grande in pages
    assert all(p.startswith(BASE) for p in pages if p)
    assert {m["Maison"] for m in metas} >= {
        data["grande"]["maison"]["nom"],
        data["ancienne"]["maison"]["nom"],
    }
    search_page = _read(folder, "recherche/index.html")
    assert "recherche-nationale.js" in search_page and "pagefind-ui.js" in search_page


def test_a_failed_build_keeps_the_previous_site(
    built: tuple[Path, Harvest, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, harvest, _ = built
    target = tmp_path / "site"
    target.mkdir()
    (target / "ancien.txt").write_text("ancien", encoding="utf-8")
    config = NationalConfig(tmp_path / "n.yml", "Essai", (), tmp_path / "moisson")

    def failing(*args: Any) -> None:
        raise RuntimeError("Pagefind en panne")

    monkeypatch.setattr(site, "index_search", failing)
    with pytest.raises(site.NationalBuildError, match="Pagefind en panne"):
        site.build(config, harvest, target)
    assert (target / "ancien.txt").read_text(encoding="utf-8") == "ancien"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")] == []


def test_a_large_harvest_is_indexed_in_shards(built: tuple[Path, Harvest, Any], tmp_path: Path) -> None:
    _, harvest, _ = built
    view = site.national(NationalConfig(Path("n.yml"), "n", (), Path("m")), harvest)
    documents = site.search_documents(view)
    site.index_search(tmp_path, documents, 3)
    assert site.bundles(3) == ["pagefind/", "pagefind-membres-1/", "pagefind-membres-2/"]
    pages = 0
    for bundle in site.bundles(3):
        entry = json.loads((tmp_path / bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
        pages += sum(language["page_count"] for language in entry["languages"].values())
    assert (tmp_path / "pagefind" / "pagefind-ui.js").is_file()
    empty = sum(1 for n in range(3) if not [p for p in documents if search_shard(p) == n])
    assert pages == len(documents) + empty  # an empty shard holds one empty page


def search_shard(path: str) -> int:
    from dote import search

    return search.shard_of(path, 3)
