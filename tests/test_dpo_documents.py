"""The DPO's confidential documents open in LibreOffice, as a town hall would open them:
the audit report (``dote audit -o``) and the breach notification draft (``dote violations
--brouillon``), both in DOCX and ODT, written from the demo overlay."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dote.cli import main

DEMO_OVERLAY = Path(__file__).parent / "fixtures" / "overlay-demo"
DATE = "2026-11-16"


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    target = tmp_path / "prive"
    shutil.copytree(DEMO_OVERLAY, target)
    return target


def test_audit_report_and_breach_draft_open_in_libreoffice(
    demo_root: Path, overlay: Path, tmp_path: Path, soffice: str
) -> None:
    from libreoffice import convert

    files = []
    for fmt in ("docx", "odt"):
        audit = tmp_path / f"audit-{fmt}.{fmt}"
        base = [str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--date", DATE]
        assert main(["audit", *base, "-o", str(audit)]) == 0
        draft = tmp_path / f"violation-{fmt}.{fmt}"
        assert main(["violations", *base, "--brouillon", "2026-09-cle-usb", "-o", str(draft)]) == 0
        files += [audit, draft]
    out = convert(soffice, tmp_path, "txt:Text (encoded):UTF8", files)
    for fmt in ("docx", "odt"):
        audit_text = (out / f"audit-{fmt}.txt").read_text(encoding="utf-8-sig")
        assert "Rapport d'audit RGPD" in audit_text and "Valmont" in audit_text
        draft_text = (out / f"violation-{fmt}.txt").read_text(encoding="utf-8-sig")
        assert "Notification d'une violation de données à la CNIL — projet (2026-09-cle-usb)" in draft_text


def test_the_demo_publishes_only_the_opted_in_yearly_counts(built_demo: Path) -> None:
    """Valmont chose to publish its requests' yearly counts: they are on its public page, and
    nothing of the confidential registers is (no request, no breach, no audit)."""
    page = (built_demo / "registres" / "valmont" / "index.html").read_text(encoding="utf-8")
    assert "Les demandes d'exercice des droits reçues par Commune de Valmont-sur-Exemple" in page
    for confidential in (
        "2026-004",
        "2026-09-cle-usb",
        "Audit de maturité",
        "Plan d'actions",
        "Rapport annuel",
    ):
        assert confidential not in page, confidential
    others = (built_demo / "registres" / "saint-exemple" / "index.html").read_text(encoding="utf-8")
    assert "statistiques-demandes" not in others  # no opt-in, no table
