"""Three gaps of the format DPOs met (issue 14, point 7): retention in phases, deceased persons,
prior authorisations. Each one from the register to every output: model, validation, member
page, notices, open data, the authority's register (CNIL model) and the diff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from markupsafe import Markup

from dote import cnil_model, diff, export, notices, opendata, pipeline
from dote.fragments import Fragments
from dote.label import evaluate
from dote.load import load_bytes
from dote.model import Activity, Territory, add_duration, add_durations
from dote.scaffold import init_territory
from dote.schema import validate_document

TODAY = dt.date(2026, 11, 28)
ROOT = Path(__file__).resolve().parent.parent

PHASED = {
    "code": "etat-civil-identite",
    "precisions": "Nom et adresse",
    "conservation": {
        "sort_final": "destruction",
        "reference": "Délibération de la commune",
        "phases": [
            {"phase": "base-active", "duree": "P1Y", "depart": "clôture du dossier"},
            {
                "phase": "archivage-intermediaire",
                "duree": "P4Y6M",
                "precisions": "Accès réservé au service <b>financier</b>",
            },
        ],
    },
}


def _yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _activity(root: Path, activity_id: str, **fields: Any) -> None:
    data = {
        "version_schema": 1,
        "nom": activity_id.replace("-", " ").capitalize(),
        "statut": "valide",
        "finalites": {"principale": "Gérer le service"},
        "base_legale": {"code": "mission-interet-public"},
        "personnes_concernees": ["usagers"],
        "categories_donnees": [PHASED],
        "destinataires": {"internes": ["Service concerné"]},
        "transferts": "aucun",
        "mention_information": "generee",
        **fields,
    }
    _yaml(root / "registers" / "members" / "exemple" / f"{activity_id}.yml", data)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_territory(tmp_path / "t")


def _run(root: Path) -> pipeline.Result:
    result = pipeline.run(root, today=TODAY)
    assert result.errors == (), [p.text() for p in result.errors]
    assert result.territory is not None
    return result


def _found(territory: Territory, activity_id: str) -> Activity:
    return next(a for a in territory.activities if a.id == activity_id)


# --- durations --------------------------------------------------------------------------------


def test_durations_add_up_unit_by_unit() -> None:
    assert add_durations(["P1Y", "P4Y6M"]) == "P5Y6M"
    assert add_durations(["P6M", "P6M", "P2W", "P3D"]) == "P1Y2W3D"  # twelve months make a year
    assert add_durations([]) == "P0D"


def test_a_duration_is_added_to_a_date() -> None:
    assert add_duration(dt.date(2024, 3, 12), "P5Y") == dt.date(2029, 3, 12)
    assert add_duration(dt.date(2024, 1, 31), "P1M") == dt.date(2024, 2, 29)  # the month's last day
    assert add_duration(dt.date(2024, 1, 1), "P1W2D") == dt.date(2024, 1, 10)
    assert add_duration(dt.date(2024, 1, 1), "dix ans") is None


# --- retention in phases ------------------------------------------------------------------------


def test_phases_in_the_model_and_in_words(root: Path) -> None:
    _activity(root, "dossiers")
    a = _found(_run(root).territory, "dossiers")  # type: ignore[arg-type]
    c = a.categories[0]
    r = c.retention
    assert (
        r is not None
        and r.duration == ""
        and [p.phase.code for p in r.phases]
        == [
            "base-active",
            "archivage-intermediaire",
        ]
    )
    assert c.retention_defined and r.is_defined
    assert r.total_duration == "P5Y6M" and r.total_duration_text == "5 ans et 6 mois"
    assert r.summary == (
        "1 an en base active, à compter de : clôture du dossier, "
        "puis 4 ans et 6 mois en archivage intermédiaire, puis destruction"
    )


def test_a_phase_with_criteria_has_no_total() -> None:
    doc = dict(PHASED, conservation={"phases": [{"phase": "base-active", "criteres": "pendant le contrat"}]})
    from dote.model import Converter
    from dote.vocabulary import load_vocabularies

    c = Converter(load_vocabularies())._category(doc)
    assert c.retention is not None
    assert c.retention.total_duration == "" and c.retention.summary == "en base active : pendant le contrat"
    assert c.retention_defined


def test_the_label_counts_a_phased_retention_as_defined(root: Path) -> None:
    _activity(root, "dossiers")
    result = _run(root)
    assert result.territory is not None and result.label is not None
    evaluation = evaluate(result.territory, result.label.policy, TODAY)
    failures = evaluation.activity("exemple", "dossiers").failures
    assert "conservation-definie" not in {f.criterion.id for f in failures}


def test_a_phased_retention_replaces_the_model_duration_and_the_reverse(root: Path) -> None:
    model = {
        "version_schema": 1,
        "nom": "Dossiers",
        "version": 1,
        "finalites": {"principale": "Gérer les dossiers"},
        "categories_donnees": [
            {
                "code": "etat-civil-identite",
                "conservation": {"duree": "P10Y", "depart": "fin de l'exercice", "sort_final": "destruction"},
            },
            PHASED | {"code": "economique-financiere"},
        ],
        "journal": [{"version": 1, "resume": "Première version."}],
    }
    _yaml(root / "registers" / "models" / "dossiers.yml", model)
    _yaml(
        root / "registers" / "members" / "exemple" / "dossiers.yml",
        {
            "version_schema": 1,
            "nom": "Dossiers",
            "statut": "valide",
            "modele": "dossiers",
            "categories_donnees": [
                {
                    "code": "etat-civil-identite",
                    "conservation": {"phases": [{"phase": "base-active", "duree": "P2Y"}]},
                },
                {
                    "code": "economique-financiere",
                    "conservation": {
                        "phases": [{"phase": "archivage-intermediaire", "duree": "P10Y"}],
                    },
                },
            ],
            "personnes_concernees": ["usagers"],
            "transferts": "aucun",
        },
    )
    a = _found(_run(root).territory, "dossiers")  # type: ignore[arg-type]
    identity, finance = (c.retention for c in a.categories)
    assert identity is not None and finance is not None
    # The member's phases replace the model's single duration and its start; the fate stays.
    assert (identity.duration, identity.start, identity.final_fate and identity.final_fate.code) == (
        "",
        "",
        "destruction",
    )
    assert [(p.phase.code, p.duration) for p in identity.phases] == [("base-active", "P2Y")]
    # Phases merge by phase: the model's base active stays, its intermediate archiving is replaced.
    assert [(p.phase.code, p.duration) for p in finance.phases] == [
        ("base-active", "P1Y"),
        ("archivage-intermediaire", "P10Y"),
    ]
    # And a single duration written over a phased model replaces its phases.
    path = root / "registers" / "members" / "exemple" / "dossiers.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["categories_donnees"] = [{"code": "economique-financiere", "conservation": {"duree": "P3Y"}}]
    _yaml(path, data)
    a = _found(_run(root).territory, "dossiers")  # type: ignore[arg-type]
    finance = a.categories[1].retention
    assert finance is not None and finance.duration == "P3Y" and finance.phases == ()


def test_phases_and_a_single_duration_are_refused_with_their_place(root: Path) -> None:
    both = dict(PHASED, conservation=dict(PHASED["conservation"], duree="P5Y", depart="clôture"))  # type: ignore[arg-type]
    _activity(root, "dossiers", categories_donnees=[both])
    result = pipeline.run(root, today=TODAY)
    found = sorted(p.message for p in result.errors)
    assert found == [
        "conservation décrite à la fois par « depart » et par des phases (« phases »)",
        "conservation décrite à la fois par « duree » et par des phases (« phases »)",
    ]
    assert all(
        p.position.file == "registers/members/exemple/dossiers.yml" and p.position.line for p in result.errors
    )


def test_the_member_page_shows_the_phases_escaped(root: Path) -> None:
    _activity(root, "dossiers")
    a = _found(_run(root).territory, "dossiers")  # type: ignore[arg-type]
    r = a.categories[0].retention
    assert r is not None
    html = Fragments(glossary=False).retention_phases(r)
    assert isinstance(html, Markup)
    assert "1 an en base active, à compter de : clôture du dossier, puis 4 ans et 6 mois" in html
    assert "(5 ans et 6 mois au total)" in html
    assert "Archivage intermédiaire : Accès réservé au service &lt;b&gt;financier&lt;/b&gt;" in html
    assert "<b>" not in html


def test_notices_open_data_export_and_diff_speak_of_phases(root: Path) -> None:
    _activity(root, "dossiers")
    result = _run(root)
    t = result.territory
    assert t is not None
    member = t.member("exemple")
    a = _found(t, "dossiers")
    c = a.categories[0]
    text = notices._retention(c)
    assert text.startswith(
        "1 an en base active, à compter de : clôture du dossier, puis 4 ans et 6 mois en archivage "
        "intermédiaire (soit 5 ans et 6 mois au total), puis destruction"
    )
    blocks = [b.text for b in notices.notice(t, member, a)]
    assert notices.INTERMEDIATE_NOTE in blocks
    data = opendata.activity_data(a)
    assert data["categories_donnees"][0]["conservation"]["phases"][1] == {
        "phase": "archivage-intermediaire",
        "duree": "P4Y6M",
        "precisions": "Accès réservé au service <b>financier</b>",
    }
    doc, problems = load_bytes(yaml.safe_dump(data, allow_unicode=True).encode(), Path("x.yml"), "x.yml")
    assert doc is not None and validate_document(doc, "activite") == [], problems  # the format, round trip
    row = export.activity_row(t, member, a)
    assert (
        "1 an en base active" in row["Durées de conservation"]
        and "sort final : Destruction" in row["Durées de conservation"]
    )
    fields = diff.activity_fields(a, t)
    label = c.kind.label
    assert fields[f"Phases de conservation ({label})"] == (
        "1 an en base active, à compter de : clôture du dossier",
        "4 ans et 6 mois en archivage intermédiaire. Accès réservé au service <b>financier</b>",
    )


# --- deceased persons -------------------------------------------------------------------------------


def test_deceased_persons_are_a_subject_the_gdpr_does_not_cover(root: Path) -> None:
    _activity(root, "cimetiere", personnes_concernees=["habitants", "defunts"])
    _activity(root, "ossuaire", personnes_concernees=["defunts"])
    _activity(root, "dossiers")
    t = _run(root).territory
    assert t is not None
    member = t.member("exemple")
    both, dead, living = (_found(t, i) for i in ("cimetiere", "ossuaire", "dossiers"))
    assert both.deceased_subjects and [s.code for s in both.living_subjects] == ["habitants"]
    texts = {a.id: [b.text for b in notices.notice(t, member, a)] for a in (both, dead, living)}
    assert notices.DECEASED_NOTE in texts["cimetiere"] and notices.DIRECTIVES_NOTE in texts["cimetiere"]
    assert notices.DECEASED_NOTE in texts["ossuaire"] and notices.DIRECTIVES_NOTE not in texts["ossuaire"]
    assert notices.DECEASED_NOTE not in texts["dossiers"] and notices.DIRECTIVES_NOTE in texts["dossiers"]
    assert "considérant 27" in notices.DECEASED_NOTE and "art. 84 et 85" in notices.DECEASED_NOTE


def test_the_demo_cemetery_and_civil_status_concern_deceased_persons() -> None:
    result = pipeline.run(ROOT, today=TODAY)
    assert result.territory is not None
    for model in ("cimetiere", "etat-civil"):
        assert result.territory.models[model].content.deceased_subjects, model
    assert _found(result.territory, "videoprotection").authorisations


# --- prior authorisations -------------------------------------------------------------------------------


AUTHORISATION = {
    "nature": "prefectorale",
    "reference": "Arrêté préfectoral n° 2024-0312 <script>",
    "date": "2024-03-12",
    "duree_validite": "P5Y",
    "precisions": "Après avis de la commission départementale",
}


def test_an_authorisation_everywhere(root: Path) -> None:
    _activity(root, "videoprotection", autorisations=[AUTHORISATION])
    t = _run(root).territory
    assert t is not None
    member = t.member("exemple")
    a = _found(t, "videoprotection")
    (x,) = a.authorisations
    assert (x.nature.code, x.date, x.expires) == ("prefectorale", dt.date(2024, 3, 12), dt.date(2029, 3, 12))
    assert not x.expired(TODAY) and x.expired(dt.date(2029, 3, 12))
    html = Fragments(glossary=False).authorisations(a)
    assert "Autorisation préfectorale : Arrêté préfectoral n° 2024-0312 &lt;script&gt;" in html
    assert "code de la sécurité intérieure, art. L252-1".lower() in html.lower()
    assert 'jusqu\'au <time datetime="2029-03-12">12 mars 2029</time>' in html
    assert "<script>" not in html
    assert opendata.activity_data(a)["autorisations"] == [AUTHORISATION]
    row = opendata.activity_row(a, member, "", _screening(t, a), [], "")
    assert row["Autorisations préalables"].startswith("Autorisation préfectorale : Arrêté préfectoral")
    assert "jusqu'au 2029-03-12" in row["Autorisations préalables"]
    record = dict(cnil_model.record(t, member, a))
    assert "valable jusqu'au 2029-03-12" in record["Autorisations préalables"]
    assert any(
        b.text.startswith("Ce traitement a été autorisé au préalable") for b in notices.notice(t, member, a)
    )
    assert diff.activity_fields(a, t)["Autorisations préalables"][0].startswith(
        "Autorisation préfectorale : Arrêté préfectoral n° 2024-0312"
    )


def test_an_expired_authorisation_is_a_warning_and_a_future_one_an_error(root: Path) -> None:
    expired = dict(AUTHORISATION, date="2021-03-01")
    future = dict(AUTHORISATION, date="2027-01-01", reference="Arrêté n° 2")
    _activity(root, "videoprotection", autorisations=[expired, future])
    result = pipeline.run(root, today=TODAY)
    by_severity = {(p.severity, p.message) for p in result.problems if "autorisation" in p.message}
    assert by_severity == {
        ("avertissement", "autorisation expirée le 2026-03-01 (2021-03-01 + 5 ans)"),
        ("erreur", "date d'autorisation 2027-01-01 dans le futur"),
    }


def _screening(t: Territory, a: Activity) -> Any:
    from dote.render import label_context

    return label_context(t, None, "", "")["screening"](a)
