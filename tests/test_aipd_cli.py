"""``dote aipd``: each activity's DPIA screening, from the command line, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.conftest import copy_demo

from dote.cli import main


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo with one activity whose facts require a DPIA nobody declared."""
    root = copy_demo(tmp_path_factory.mktemp("aipd") / "territoire")
    path = root / "registers" / "members" / "valmont" / "geolocalisation-vehicules.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "version_schema": 1,
                "nom": "Géolocalisation des véhicules des services techniques",
                "statut": "valide",
                "finalites": {"principale": "Organiser les interventions et protéger les véhicules"},
                "base_legale": {"code": "mission-interet-public"},
                "personnes_concernees": ["agents"],
                "categories_donnees": [
                    {"code": "localisation", "conservation": {"duree": "P2M", "sort_final": "destruction"}}
                ],
                "moyens": ["geolocalisation"],
                "surveillance": ["activite-salaries"],
                "transferts": "aucun",
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return root


def test_json_gives_verdict_statement_origins_and_reasons(
    territory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aipd", str(territory), "--member", "valmont", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["membre"] for m in data] == ["valmont"]
    found = {a["activite"]: a for a in data[0]["activites"]}
    tracked = found["geolocalisation-vehicules"]
    assert tracked["verdict"] == "requis"
    assert tracked["enonce"] == "AIPD requise — non réalisée"
    assert tracked["file"] == "registers/members/valmont/geolocalisation-vehicules.yml"
    assert [(t["code"], t["numero"], t["origine"]) for t in tracked["types_liste_cnil"]] == [
        ("surveillance-constante-salaries", 4, "deduit")
    ]
    assert "« surveillance »" in tracked["types_liste_cnil"][0]["deduit_de"]
    codes = {c["code"]: c["origine"] for c in tracked["criteres_cepd"]}
    assert codes["surveillance-systematique"] == "deduit"
    assert codes["personnes-vulnerables"] == "deduit"
    assert "délibération n° 2018-327" in tracked["raisons"][0]


def test_text_names_each_criterion_and_where_it_comes_from(
    territory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aipd", str(territory), "--member", "valmont"]) == 0
    out = capsys.readouterr().out
    assert "Géolocalisation des véhicules des services techniques — AIPD requise — non réalisée" in out
    assert (
        "type de la liste CNIL n° 4 « Surveillance constante de l'activité des employés » : déduit des faits"
        in out
    )
    assert "critère du CEPD n° 7 « Données concernant des personnes vulnérables »" in out


def test_the_label_json_carries_the_same_screening(
    territory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aipd", str(territory), "--member", "valmont", "--format", "json"]) == 0
    screening = {a["activite"]: a for a in json.loads(capsys.readouterr().out)[0]["activites"]}
    assert main(["label", str(territory), "--member", "valmont", "--format", "json"]) == 0
    label = json.loads(capsys.readouterr().out)[0]
    by_activity = {a["activite"]: a["aipd"] for a in label["activites"]}
    for activity_id, entry in screening.items():
        expected = {k: v for k, v in entry.items() if k not in ("activite", "nom", "file")}
        assert by_activity[activity_id] == expected
    failures = [f for f in label["criteres_non_remplis"] if f["activite"] == "geolocalisation-vehicules"]
    assert any(
        f["critere"] == "aipd-realisee" and "liste de la CNIL, type n° 4" in " ".join(f["details"])
        for f in failures
    )


def test_unknown_member_is_a_usage_error(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aipd", str(territory), "--member", "inconnu"]) == 2
    assert "membre « inconnu » inconnu" in capsys.readouterr().err


def test_an_invalid_territory_is_reported_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_demo(tmp_path / "territoire")
    source = root / "registers" / "members" / "valmont" / "subventions-associations.yml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["moyens"] = ["cameras-magiques"]
    broken = source.with_name("cameras.yml")
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["aipd", str(root)]) == 1
    captured = capsys.readouterr()
    assert "cameras.yml:" in captured.out
    assert "cameras-magiques" in captured.out
    assert "le territoire n'est pas valide" in captured.err
