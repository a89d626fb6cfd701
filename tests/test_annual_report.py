"""The DPO's annual report of a member (dote.annual_report): figures, documents, refusals, page."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from lxml import etree

from dote.annual_report import overdue_at
from dote.audit import Action
from dote.cli import main
from dote.problems import Position

DEMO_OVERLAY = Path(__file__).parent / "fixtures" / "overlay-demo"
DATE = "2026-11-16"


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    """The whole demo overlay, copied out of the public repository (where it is refused)."""
    target = tmp_path / "prive"
    shutil.copytree(DEMO_OVERLAY, target)
    return target


def _json(demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    base = ["rapport", str(demo_root), "--overlay", str(overlay), "--date", DATE, "--format", "json"]
    assert main([*base, *args]) == 0
    data: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
    return data


# --- each figure, against the demo overlay ------------------------------------------------------


def test_valmont_2026_figures(demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(demo_root, overlay, capsys, "--member", "valmont")
    assert (data["annee"], data["date"], data["fin"]) == (2026, DATE, DATE)
    assert data["activites_creees"] == []  # every activity of Valmont was created before 2026
    updated = {a["activite"]: a["date"] for a in data["activites_mises_a_jour"]}
    assert updated == {
        "etat-civil": "2026-01-27",
        "listes-electorales": "2026-01-27",
        "paie": "2026-02-23",
        "inscriptions-scolaires": "2026-03-16",
        "portail-famille": "2026-03-16",
        "deliberations-arretes": "2026-06-22",
        "subventions-associations": "2026-07-06",
        "police-municipale": "2026-09-14",
        "videoprotection": "2026-09-14",
        "recrutement": "2026-10-12",
    }  # not the médiathèque (2025-05-20) nor the relation with users (2025-11-03)
    dpias = {a["activite"]: a["enonce"] for a in data["aipd_requises"]}
    assert dpias["videoprotection"] == "AIPD requise — réalisée le 20 janvier 2024"
    assert dpias["etat-civil"] == "AIPD requise — non réalisée"
    assert "mediatheque" not in dpias
    label = data["label"]
    assert (label["niveau"], label["criteres_non_evalues"], label["evolution"]) == ("Engagé", [], None)
    assert label["evalue_le"] == dt.date.today().isoformat()  # validation and label: as of today
    assert data["audit"] == {"date": "2026-03-12", "score": 63}
    assert [a["action"] for a in data["actions_faites"]] == ["procedure-violations", "registre-violations"]
    # Overdue on 16 November: backups (due 30 June), the library's notice (30 September); not the
    # police accounts (31 December), not the abandoned laptops (31 October), not the contract (2027).
    assert [a["action"] for a in data["actions_en_retard"]] == [
        "sauvegardes-hors-site",
        "mention-mediatheque",
    ]
    assert data["demandes"] == {
        "registre": True,
        "recues": 5,  # 2025-012, received on 31 December 2025, counts for 2025
        "repondues": 2,
        "repondues_dans_les_delais": 2,  # 2026-004 in time thanks to its extension
        "sans_reponse": 3,
        "sans_reponse_en_retard": 1,  # 2026-007, due 28 October
    }
    assert data["violations"] == {
        "registre": True,
        "consignees": 2,
        "notifiees": 1,
        "notifiees_apres_72_heures": 0,
        "non_notifiees": 1,
        "communiquees_aux_personnes": 0,
    }


def test_a_past_year_is_judged_at_its_end(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(demo_root, overlay, capsys, "--member", "valmont", "--annee", "2025")
    assert data["fin"] == "2025-12-31"
    assert [a["activite"] for a in data["activites_mises_a_jour"]] == ["mediatheque", "relation-usagers"]
    # The request of 31 December 2025 counts for 2025; answered on 2 February 2026 (the deadline of
    # Saturday 31 January moved to Monday 2 February): in time, as of the reference date.
    assert data["demandes"]["recues"] == 1 and data["demandes"]["repondues_dans_les_delais"] == 1
    assert data["actions_en_retard"] == [] and data["actions_faites"] == []  # the plan starts in 2026
    data = _json(demo_root, overlay, capsys, "--member", "valmont", "--annee", "2020")
    assert [a["activite"] for a in data["activites_creees"]] == [
        "police-municipale",
        "videoprotection",
        "mediatheque",
    ]


def test_the_reference_date_leaves_out_what_came_after(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["rapport", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--format", "json"]
    assert main([*base, "--date", "2026-05-11"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["actions_faites"] == []  # done on 12 May
    assert data["demandes"]["recues"] == 1 and data["violations"]["consignees"] == 1
    assert "recrutement" not in {a["activite"] for a in data["activites_mises_a_jour"]}


def test_a_year_with_nothing_says_aucun(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["rapport", str(demo_root), "--overlay", str(overlay), "--date", DATE, "--annee", "2024"]
    assert main([*base, "--member", "valmont"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "Aucune activité créée en 2024.",
        "Aucune activité mise à jour en 2024.",
        "Aucune action faite en 2024.",
        "Aucune action en retard au 31 décembre 2024.",
        "Aucune demande reçue en 2024.",
        "Aucune violation consignée en 2024.",
        "Évolution sur l'année : non calculée",
    ):
        assert expected in text, expected
    # A member with no DPO register, no audit and no plan: each part says so.
    assert main([*base, "--member", "les-granges"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "Aucun audit enregistré.",
        "Aucun plan d'actions.",
        "Aucun registre des demandes pour ce membre.",
        "Aucun registre des violations pour ce membre.",
    ):
        assert expected in text, expected


HERE = Position("x.yml", 1, 1)


def _action(
    status: str, due: dt.date, done: dt.date | None = None, created: dt.date = dt.date(2025, 1, 1)
) -> Action:
    return Action("a", "Faire", (), "", "Moi", due, status, "haute", None, created, done, "", HERE)


@pytest.mark.parametrize(
    ("action", "day", "late"),
    [
        (_action("a-faire", dt.date(2025, 12, 31)), dt.date(2025, 12, 31), False),  # the due day is not late
        (_action("a-faire", dt.date(2025, 12, 30)), dt.date(2025, 12, 31), True),
        (_action("en-cours", dt.date(2024, 2, 28), created=dt.date(2024, 1, 1)), dt.date(2024, 2, 29), True),
        (
            _action("faite", dt.date(2025, 6, 30), dt.date(2026, 1, 5)),
            dt.date(2025, 12, 31),
            True,
        ),  # done after
        (_action("faite", dt.date(2025, 6, 30), dt.date(2025, 7, 1)), dt.date(2025, 12, 31), False),
        (_action("abandonnee", dt.date(2025, 6, 30)), dt.date(2025, 12, 31), False),
        (_action("a-faire", dt.date(2025, 6, 30), created=dt.date(2026, 1, 2)), dt.date(2025, 12, 31), False),
    ],
)
def test_overdue_at_a_day(action: Action, day: dt.date, late: bool) -> None:
    assert overdue_at(action, day) is late


# --- usage errors and the refusal inside the repository ----------------------------------------------


def test_usage_errors(demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rapport", str(demo_root), "--member", "valmont"]) == 2
    assert "dépôt confidentiel" in capsys.readouterr().err
    base = ["rapport", str(demo_root), "--overlay", str(overlay), "--date", DATE]
    assert main([*base, "--member", "inconnu"]) == 2
    assert "membre « inconnu » inconnu" in capsys.readouterr().err
    assert main([*base, "--member", "valmont", "--annee", "2027"]) == 2
    assert "l'année 2027 n'a pas commencé" in capsys.readouterr().err
    assert main([*base, "--member", "valmont", "--annee", "26"]) == 2
    assert (
        main(
            [
                "rapport",
                str(demo_root),
                "--overlay",
                str(overlay),
                "--member",
                "valmont",
                "--date",
                "2026-02-30",
            ]
        )
        == 2
    )
    assert "date « 2026-02-30 » invalide" in capsys.readouterr().err
    assert main([*base, "--member", "valmont", "-o", str(overlay.parent / "rapport.pdf")]) == 2
    assert ".docx ou en .odt" in capsys.readouterr().err


def test_report_is_refused_inside_the_public_repository(
    territory_copy: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target in (
        territory_copy / "registers" / "rapport.docx",
        territory_copy / "docs" / "rapport.odt",
        territory_copy / "rapport.docx",  # not ignored by git
    ):
        args = [
            "rapport",
            str(territory_copy),
            "--overlay",
            str(overlay),
            "--member",
            "valmont",
            "-o",
            str(target),
        ]
        assert main([*args, "--date", DATE]) == 2
        assert "confidentiel" in capsys.readouterr().err
        assert not target.exists()


# --- the documents --------------------------------------------------------------------------------


def _document_text(path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("word/document.xml" if path.suffix == ".docx" else "content.xml")
    return "".join(etree.fromstring(xml).itertext()), xml  # parsed: well-formed XML


@pytest.mark.parametrize("fmt", ["docx", "odt"])
def test_document_contents(demo_root: Path, overlay: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"rapport.{fmt}"
    args = ["rapport", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--date", DATE]
    assert main([*args, "-o", str(target)]) == 0
    text, _ = _document_text(target)
    for expected in (
        "Rapport annuel du délégué à la protection des données — 2026",
        "Commune de Valmont-sur-Exemple",
        "Document interne et confidentiel",
        "RGPD, art. 38(3)",
        "Recrutement des agents (le 12 octobre 2026)",
        "Vidéoprotection de la voie publique : AIPD requise — réalisée le 20 janvier 2024",
        "Niveau au ",
        "Engagé.",
        "score global 63 %",
        "Ouvrir le registre des violations de données (faite le 12 mai 2026)",
        "Mettre en place une sauvegarde externalisée chiffrée",
        "Demandes reçues en 2026 : 5",
        "Notifiées à la CNIL : 1, dont 0 après 72 heures",
        "RGPD, art. 34(1)",
    ):
        assert expected in text, expected


def test_hostile_text_stays_text(territory_copy: Path, overlay: Path, tmp_path: Path) -> None:
    from tests.hostile import PAYLOAD, live_markup

    plan = overlay / "registers" / "members" / "valmont" / "actions.yml"
    data = yaml.safe_load(plan.read_text(encoding="utf-8"))
    for action in data["actions"]:
        action["quoi"] += PAYLOAD
        action["responsable"] += PAYLOAD
    plan.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    activity = territory_copy / "registers" / "members" / "valmont" / "recrutement.yml"
    text = activity.read_text(encoding="utf-8")
    activity.write_text(
        text.replace("\nnom: ", "\nnom: 'x" + PAYLOAD.replace("'", "''") + "' #", 1), encoding="utf-8"
    )
    for fmt in ("docx", "odt"):
        target = tmp_path / f"rapport.{fmt}"
        args = [
            "rapport",
            str(territory_copy),
            "--overlay",
            str(overlay),
            "--member",
            "valmont",
            "--date",
            DATE,
        ]
        assert main([*args, "-o", str(target)]) == 0
        content, xml = _document_text(target)
        assert PAYLOAD.strip() in content and b"<script>" not in xml
    site = tmp_path / "interne"
    build = ["build", str(territory_copy), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]
    assert main(build) == 0
    page = (site / "registres" / "valmont" / "index.html").read_text(encoding="utf-8")
    assert 'id="rapport-annuel"' in page and "dotexss" in page
    assert live_markup(site) == []


def test_documents_open_in_libreoffice(demo_root: Path, overlay: Path, tmp_path: Path, soffice: str) -> None:
    from libreoffice import convert

    files = []
    for fmt in ("docx", "odt"):
        target = tmp_path / f"rapport-{fmt}.{fmt}"
        args = ["rapport", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--date", DATE]
        assert main([*args, "-o", str(target)]) == 0
        files.append(target)
    out = convert(soffice, tmp_path, "txt:Text (encoded):UTF8", files)
    for fmt in ("docx", "odt"):
        text = (out / f"rapport-{fmt}.txt").read_text(encoding="utf-8-sig")
        assert "Rapport annuel du délégué à la protection des données — 2026" in text
        assert "Demandes reçues en 2026 : 5" in text


# --- the internal member page ----------------------------------------------------------------------


def test_internal_member_page_shows_the_current_year(tmp_path: Path) -> None:
    from tests.conftest import copy_demo

    root = copy_demo(tmp_path / "territoire")
    overlay = tmp_path / "prive"
    shutil.copytree(DEMO_OVERLAY, overlay)
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    assert "reference_date" not in text
    text = re.sub(r"^  - dote\b.*$", f"  - dote:\n      reference_date: '{DATE}'", text, count=1, flags=re.M)
    config.write_text(text, encoding="utf-8")
    site = tmp_path / "interne"
    assert main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]) == 0
    html = (site / "registres" / "valmont" / "index.html").read_text(encoding="utf-8")
    assert '<h2 id="rapport-annuel">Rapport annuel du DPO 2026</h2>' in html
    assert (
        "Demandes reçues en 2026 : 5" in html
        and "Sans réponse au 16 novembre 2026 : 3, dont 1 en retard" in html
    )
    granges = (site / "registres" / "les-granges" / "index.html").read_text(encoding="utf-8")
    assert "Aucun registre des demandes pour ce membre." in granges
    public = tmp_path / "public"
    assert main(["build", str(root), "--site-dir", str(public)]) == 0
    assert "Rapport annuel du DPO" not in (public / "registres" / "valmont" / "index.html").read_text(
        encoding="utf-8"
    )
