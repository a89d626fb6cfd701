"""The DPO's registers: rights requests (GDPR art. 12(3)) and breaches (art. 33), in the overlay."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from conftest import copy_demo
from dote import pipeline
from dote.cli import main
from dote.deadlines import add_months, easter, hours_deadline, is_working_day, month_deadline, public_holidays

DEMO_OVERLAY = Path(__file__).parent / "fixtures" / "overlay-demo"
#: The demo overlay's reference day: a late request, one due soon, one in progress.
DAY = "2026-11-16"
HOSTILE = "<w:p>&amp;</w:p><script>alert(1)</script>{{ x }} & ]]>"


# --- deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "months", "expected"),
    [
        ("2024-01-31", 1, "2024-02-29"),  # leap year
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-02-29", 1, "2024-03-29"),
        ("2024-12-31", 1, "2025-01-31"),  # across the year
        ("2025-03-31", 1, "2025-04-30"),
        ("2024-11-30", 3, "2025-02-28"),  # extended: three months in all
        ("2023-11-30", 3, "2024-02-29"),
        ("2025-01-15", 1, "2025-02-15"),
    ],
)
def test_month_arithmetic(received: str, months: int, expected: str) -> None:
    assert add_months(dt.date.fromisoformat(received), months) == dt.date.fromisoformat(expected)


def test_a_deadline_on_a_weekend_or_holiday_moves_to_the_next_working_day() -> None:
    # 1182/71 art. 3(4): Saturday 28 February 2026 → Monday 2 March.
    assert month_deadline(dt.date(2026, 1, 31)) == (dt.date(2026, 2, 28), dt.date(2026, 3, 2))
    # Friday 1 May 2026 (holiday), then the weekend → Monday 4 May.
    assert month_deadline(dt.date(2026, 4, 1)) == (dt.date(2026, 5, 1), dt.date(2026, 5, 4))
    # A working day stays.
    assert month_deadline(dt.date(2026, 3, 10)) == (dt.date(2026, 4, 10), dt.date(2026, 4, 10))
    # Christmas on a Friday 2026 → Monday 28 December.
    assert month_deadline(dt.date(2026, 11, 25))[1] == dt.date(2026, 12, 28)


def test_french_public_holidays() -> None:
    assert [easter(y) for y in (2024, 2025, 2026)] == [
        dt.date(2024, 3, 31),
        dt.date(2025, 4, 20),
        dt.date(2026, 4, 5),
    ]
    holidays = public_holidays(2026)
    assert len(holidays) == 11
    assert {
        dt.date(2026, 4, 6),
        dt.date(2026, 5, 14),
        dt.date(2026, 5, 25),
    } <= holidays  # Easter Mon., Ascension, Whit Mon.
    assert not is_working_day(dt.date(2026, 7, 14)) and is_working_day(dt.date(2026, 7, 15))


def test_seventy_two_hours_across_months_weekends_and_clock_changes() -> None:
    paris = "+01:00", "+02:00"
    # Spring forward (29 March 2026): 72 elapsed hours end at 10:10 summer time, not 09:10.
    end = hours_deadline(dt.datetime(2026, 3, 28, 9, 10))
    assert end.isoformat() == f"2026-03-31T10:10:00{paris[1]}"
    # Fall back (25 October 2026): an hour earlier on the clock.
    assert hours_deadline(dt.datetime(2026, 10, 24, 12, 0)).isoformat() == f"2026-10-27T11:00:00{paris[0]}"
    # Across a month's end; a weekend does not extend hours (1182/71 art. 3(4) is for days).
    assert hours_deadline(dt.datetime(2026, 1, 30, 18, 0)).isoformat() == f"2026-02-02T18:00:00{paris[0]}"
    assert hours_deadline(dt.datetime(2026, 11, 13, 18, 0)).isoformat() == f"2026-11-16T18:00:00{paris[0]}"


# --- the demo overlay ----------------------------------------------------------------------------


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    """The demo overlay, copied out of the public repository (where it is refused)."""
    target = tmp_path / "prive"
    shutil.copytree(DEMO_OVERLAY, target)
    return target


def test_demo_registers_are_valid(demo_root: Path, overlay: Path) -> None:
    result = pipeline.run(demo_root, overlay=overlay, today=dt.date.fromisoformat(DAY))
    assert result.errors == ()
    registers = result.dpo_registers
    assert {m: (len(r.requests), len(r.breaches)) for m, r in registers.items()} == {
        "valmont": (6, 2),
        "boulangerie-exemple": (2, 0),
    }
    # A public run never reads them.
    assert pipeline.run(demo_root).dpo_registers == {}


def test_requests_command(demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["demandes", str(demo_root), "--overlay", str(overlay), "--date", DAY, "--format", "json"]) == 1
    )
    data = json.loads(capsys.readouterr().out)["membres"]
    statuses = {r["id"]: (r["statut"], r["echeance"], r["echeance_legale"]) for r in data["valmont"]}
    assert statuses["2026-007"] == ("en-retard", "2026-10-28", "2026-10-28")
    assert statuses["2026-009"][0] == "echeance-proche"
    assert statuses["2026-010"][0] == "en-cours"
    # Extended (told within the first month): three months, Saturday → Monday.
    assert statuses["2026-004"] == ("repondue", "2026-11-14", "2026-11-16")
    # Answered on the Monday after a Saturday deadline: in time (1182/71 art. 3(4)).
    assert statuses["2025-012"] == ("repondue", "2026-01-31", "2026-02-02")
    assert data["boulangerie-exemple"][1]["statut"] == "echeance-proche"
    # Before the late one was due: nothing is late.
    assert main(["demandes", str(demo_root), "--overlay", str(overlay), "--date", DAY]) == 1
    text = capsys.readouterr().out
    assert "Commune de Valmont-sur-Exemple (valmont)" in text and "Saint-Exemple" not in text  # no register
    # A member with nothing late.
    args = ["demandes", str(demo_root), "--overlay", str(overlay), "--member", "boulangerie-exemple"]
    assert main([*args, "--date", DAY]) == 0
    assert "ÉCHÉANCE PROCHE" in capsys.readouterr().out
    assert (
        main(["demandes", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--date", DAY])
        == 1
    )
    text = capsys.readouterr().out
    assert "EN RETARD" in text and "demandes.yml:37:5 2026-007" in text and "Boulangerie" not in text


def test_requests_command_needs_the_overlay(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demandes", str(demo_root), "--overlay", str(demo_root / "nulle-part")]) == 2
    assert "dépôt confidentiel" in capsys.readouterr().err
    assert (
        main(["demandes", str(demo_root), "--overlay", str(DEMO_OVERLAY)]) == 2
    )  # inside the public repository
    assert main(["demandes", str(demo_root), "--overlay", str(DEMO_OVERLAY), "--date", "31/12"]) == 2


def test_statistics_are_counts_only(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["demandes", str(demo_root), "--overlay", str(overlay), "--statistiques", "--member", "valmont"])
        == 0
    )
    block = capsys.readouterr().out
    data = yaml.safe_load(block)
    assert data["statistiques_demandes"] == [
        {"annee": 2025, "recues": 1, "repondues": 1, "repondues_dans_les_delais": 1},
        {"annee": 2026, "recues": 5, "repondues": 2, "repondues_dans_les_delais": 2},
    ]
    assert "2026-007" not in block and "vidéoprotection" not in block


def test_published_statistics_only_when_opted_in(tmp_path: Path, overlay: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    member = root / "registers" / "members" / "valmont" / "member.yml"
    # The demo publishes Valmont's counts: start from a member that does not.
    text = member.read_text(encoding="utf-8")
    member.write_text(text.split("# Les totaux des demandes")[0], encoding="utf-8")
    figures = (
        "statistiques_demandes:\n  - {annee: 2025, recues: 1, repondues: 1, repondues_dans_les_delais: 1}\n"
    )
    member.write_text(member.read_text(encoding="utf-8") + figures, encoding="utf-8")
    result = pipeline.run(root)
    assert result.ok and result.territory is not None
    assert result.territory.member("valmont").request_statistics == ()  # not opted in
    member.write_text(
        member.read_text(encoding="utf-8") + "publier_statistiques_demandes: true\n", encoding="utf-8"
    )
    result = pipeline.run(root)
    assert result.territory is not None
    assert result.territory.member("valmont").request_statistics == ((2025, 1, 1, 1),)
    # With the overlay, figures that differ from the register are flagged (2026 is missing: fine).
    member.write_text(
        member.read_text(encoding="utf-8").replace("recues: 1,", "recues: 3,"), encoding="utf-8"
    )
    problems = pipeline.run(root, overlay=overlay, today=dt.date.fromisoformat(DAY)).problems
    assert any("statistiques des demandes de 2025" in p.message and not p.is_error for p in problems)


def test_breaches_command(demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["violations", str(demo_root), "--overlay", str(overlay), "--format", "json", "--date", DAY])
        == 0
    )
    data = json.loads(capsys.readouterr().out)["membres"]
    assert data["boulangerie-exemple"] == []
    first, second = data["valmont"]
    assert first["statut"] == "notifiee" and first["echeance_notification"] == "2026-03-31T10:10:00+02:00"
    assert second["statut"] == "non-notifiee" and second["motif_absence"]
    assert main(["violations", str(demo_root), "--overlay", str(overlay), "--member", "valmont"]) == 0
    assert "notifiée dans les 72 heures" in capsys.readouterr().out


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _breach(**extra: Any) -> dict[str, Any]:
    return {
        "id": "b1",
        "faits": "Faits",
        "survenue_le": "2026-05-04",
        "connue_le": "2026-05-04T10:00",
        "consequences": "Conséquences",
        "mesures": ["Mesure"],
        "risque": "risque",
        **extra,
    }


def test_an_unnotified_breach_past_72_hours_fails(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    breach = _breach(survenue_le="2026-11-13", connue_le="2026-11-14T10:00")
    _write(
        overlay / "registers" / "members" / "les-granges" / "violations.yml",
        {"version_schema": 1, "violations": [breach]},
    )
    assert (
        main(
            [
                "violations",
                str(demo_root),
                "--overlay",
                str(overlay),
                "--member",
                "les-granges",
                "--date",
                DAY,
            ]
        )
        == 0
    )
    assert "à notifier" in capsys.readouterr().out
    assert (
        main(
            [
                "violations",
                str(demo_root),
                "--overlay",
                str(overlay),
                "--member",
                "les-granges",
                "--date",
                "2026-11-18",
            ]
        )
        == 1
    )
    assert "notification en retard" in capsys.readouterr().out


# --- validation ----------------------------------------------------------------------------------


def _request(**extra: Any) -> dict[str, Any]:
    return {"id": "d1", "recue_le": "2026-03-10", "droit": "acces", "canal": "courriel", **extra}


CASES = [
    (
        "demandes",
        _request(repondue_le="2026-03-01", issue="satisfaite"),
        "antérieure à la réception",
        "repondue_le",
    ),
    (
        "demandes",
        _request(verification_identite={"statut": "faite", "le": "2026-03-01"}),
        "avant la réception",
        "le",
    ),
    ("demandes", _request(repondue_le="2026-03-20"), "sans son issue", "repondue_le"),
    ("demandes", _request(issue="refusee", repondue_le="2026-03-20"), "sans son motif", "issue"),
    ("demandes", _request(droit="acces-total"), "droit", "droit"),
    ("demandes", _request(recue_le="2026-02-30"), "AAAA-MM-JJ", "recue_le"),
    (
        "demandes",
        _request(prolongation={"motif": "Complexe", "personne_informee_le": "2026-04-20"}),
        "après le premier mois",
        "personne_informee_le",
    ),
    ("violations", _breach(connue_le="2026-05-03T10:00"), "antérieure à la violation", "connue_le"),
    (
        "violations",
        _breach(notification_cnil={"faite_le": "2026-05-04T09:00"}),
        "antérieure à la prise",
        "faite_le",
    ),
    (
        "violations",
        _breach(notification_cnil={"faite_le": "2026-05-08T09:00"}),
        "sans le motif du retard",
        "faite_le",
    ),
    ("violations", _breach(risque="aucun"), "sans le motif de l'absence", "risque"),
    ("violations", _breach(notification_cnil={"motif_absence": "Non"}), "mais non notifiée", "motif_absence"),
    (
        "violations",
        _breach(risque="risque-eleve", notification_cnil={"faite_le": "2026-05-05T09:00"}),
        "risque élevé",
        "risque",
    ),
    ("violations", _breach(connue_le="2026-05-04 10:00"), "AAAA-MM-JJTHH:MM", "connue_le"),
]


@pytest.mark.parametrize(("kind", "entry", "message", "key"), CASES)
def test_register_errors_are_located(
    demo_root: Path,
    overlay: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    entry: dict[str, Any],
    message: str,
    key: str,
) -> None:
    path = overlay / "registers" / "members" / "les-granges" / f"{kind}.yml"
    _write(path, {"version_schema": 1, kind: [entry]})
    code = main(["validate", str(demo_root), "--overlay", str(overlay)])
    out = capsys.readouterr().out
    found = [row for row in out.splitlines() if f"les-granges/{kind}.yml" in row and message in row]
    assert found, out
    # Located at the line of the key concerned (yaml.safe_dump writes each key once per entry).
    rows = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, row in enumerate(rows, start=1) if row.lstrip(" -").startswith(f"{key}:"))
    assert found[0].startswith(f"[confidentiel] registers/members/les-granges/{kind}.yml:{line}:"), found
    assert code == (0 if all(": avertissement:" in row for row in found) else 1)


def test_unknown_member_and_public_copy_are_refused(tmp_path: Path, overlay: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    _write(
        overlay / "registers" / "members" / "inconnu" / "demandes.yml", {"version_schema": 1, "demandes": []}
    )
    problems = pipeline.run(root, overlay=overlay).errors
    assert any("« inconnu » inconnu du dépôt public" in p.message for p in problems)
    shutil.copy(
        DEMO_OVERLAY / "registers" / "members" / "valmont" / "violations.yml",
        root / "registers" / "members" / "valmont",
    )
    errors = pipeline.run(root).errors
    assert [p.position.file for p in errors if "confidentiel" in p.message] == [
        "registers/members/valmont/violations.yml"
    ]


# --- the notification draft ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["docx", "odt"])
def test_notification_draft(demo_root: Path, overlay: Path, tmp_path: Path, fmt: str) -> None:
    path = overlay / "registers" / "members" / "valmont" / "violations.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["violations"][0]["faits"] += HOSTILE
    _write(path, data)
    out = tmp_path / f"projet.{fmt}"
    args = ["violations", str(demo_root), "--overlay", str(overlay), "--member", "valmont"]
    assert main([*args, "--brouillon", "2026-03-courriel-parents", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("word/document.xml" if fmt == "docx" else "content.xml")
    text = "".join(etree.fromstring(xml).itertext())  # well-formed: the hostile text stayed text
    assert "212 familles" in text and HOSTILE in text
    assert "31 mars 2026 à 10 h 10" in text and "NOTIF" not in text.split("Chronologie")[0]
    assert "Commune de Valmont-sur-Exemple" in text
    assert b"<script>" not in xml


def test_notification_draft_refusals(
    demo_root: Path, overlay: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["violations", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--brouillon"]
    assert main([*args, "2026-03-courriel-parents", "-o", str(demo_root / "projet.docx")]) == 2
    assert "dépôt public" in capsys.readouterr().err
    assert main([*args, "2026-03-courriel-parents", "-o", str(tmp_path / "projet.pdf")]) == 2
    assert main([*args, "inconnue", "-o", str(tmp_path / "projet.docx")]) == 2
    assert "inconnue pour ce membre" in capsys.readouterr().err
    assert not (demo_root / "projet.docx").exists()
