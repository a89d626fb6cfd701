"""DPIA screening: the CNIL lists and the EDPB criteria applied to realistic activities."""

from __future__ import annotations

from typing import Any

import pytest

from dote.dpia import screen
from dote.model import Activity, Converter, Member
from dote.problems import Position
from dote.vocabulary import load_vocabularies

CONVERT = Converter(load_vocabularies())


def _retention(duration: str = "P5Y") -> dict[str, Any]:
    return {"duree": duration, "sort_final": "destruction"}


def activity(**fields: Any) -> Activity:
    data: dict[str, Any] = {
        "version_schema": 1,
        "nom": "Activité",
        "statut": "valide",
        "finalites": {"principale": "Finalité"},
        "personnes_concernees": ["usagers"],
        "categories_donnees": [{"code": "etat-civil-identite", "conservation": _retention()}],
        "transferts": "aucun",
    }
    data.update(fields)
    return CONVERT.activity("activite", "membre", data, Position("registers/members/membre/activite.yml"))


def member(staff: int | None, kind: str = "entreprise") -> Member:
    data: dict[str, Any] = {"nom": "Membre", "type": kind, "exercice_des_droits": {"courriel": "a@b.fr"}}
    if staff is not None:
        data["effectif"] = staff
    return CONVERT.member("membre", data, Position("registers/members/membre/member.yml"), None, ())


def codes(result: Any) -> list[str]:
    return [t.code for t in result.criteria]


def test_ccas_social_support_requires_a_dpia_through_the_cnil_list() -> None:
    ccas = activity(
        nom="Accompagnement social des usagers du CCAS",
        personnes_concernees=["beneficiaires-aide-sociale"],
        categories_donnees=[
            {"code": "vie-personnelle", "conservation": _retention()},
            {"code": "economique-financiere", "conservation": _retention()},
        ],
        aipd={"liste_cnil": ["accompagnement-social"]},
    )
    result = screen(ccas, member(12, "ccas"))
    assert result.verdict == "requis"
    assert "délibération n° 2018-327" in result.reasons[0]
    assert "Accompagnement social ou médico-social" in result.reasons[0]
    # The vulnerable data subjects are derived, and said to be derived.
    assert codes(result) == ["personnes-vulnerables"]
    assert "non déclaré, déduit des données" in " ".join(result.reasons)


def test_biometric_canteen_access_for_pupils_is_required() -> None:
    canteen = activity(
        nom="Accès à la cantine par reconnaissance du contour de la main",
        personnes_concernees=["eleves"],
        categories_donnees=[
            {"code": "etat-civil-identite", "conservation": _retention("P1Y")},
            {"code": "biometrique", "conservation": _retention("P1Y")},
        ],
    )
    result = screen(canteen, member(45, "commune"))
    # Nothing declared: biometric (Art. 9) data and pupils give two EDPB criteria.
    assert result.verdict == "requis"
    assert codes(result) == ["donnees-sensibles", "personnes-vulnerables"]
    assert all(not f.declared for f in result.findings)
    assert "Deux critères du CEPD ou plus" in result.reasons[-1]


def test_biometric_canteen_access_declared_on_the_cnil_list() -> None:
    canteen = activity(
        personnes_concernees=["eleves"],
        categories_donnees=[{"code": "biometrique", "conservation": _retention("P1Y")}],
        aipd={"liste_cnil": ["biometrie-personnes-vulnerables"]},
    )
    assert screen(canteen).verdict == "requis"


def test_video_protection_of_public_space_is_required() -> None:
    video = activity(
        nom="Vidéoprotection de la voie publique",
        personnes_concernees=["habitants"],
        categories_donnees=[
            {"code": "etat-civil-identite", "precisions": "Images", "conservation": _retention("P30D")}
        ],
        aipd={"criteres": ["surveillance-systematique", "grande-echelle"]},
    )
    result = screen(video, member(120, "commune"))
    assert result.verdict == "requis"
    assert codes(result) == ["surveillance-systematique", "grande-echelle"]
    assert all(f.declared and not f.derived_from for f in result.findings)


def _payroll(**extra: Any) -> Activity:
    return activity(
        nom="Paie",
        personnes_concernees=["agents"],
        categories_donnees=[
            {"code": "etat-civil-identite", "conservation": _retention()},
            {"code": "economique-financiere", "conservation": _retention()},
            {"code": "nir", "conservation": _retention()},
        ],
        aipd={"exemption": "rh-moins-250"},
        **extra,
    )


def test_payroll_of_a_small_employer_is_exempt() -> None:
    result = screen(_payroll(), member(12))
    assert result.verdict == "exempte"
    assert result.exemption is not None and result.exemption.code == "rh-moins-250"
    assert "délibération n° 2019-118" in result.reasons[0]


def test_payroll_of_a_300_staff_employer_is_not_exempt() -> None:
    result = screen(_payroll(), member(300))
    assert result.verdict != "exempte"
    # Staff (vulnerable) and the NIR: two criteria once the exemption falls.
    assert result.verdict == "requis"
    assert any("l'effectif du membre (300) dépasse 249" in r for r in result.reasons)


def test_payroll_exemption_needs_the_staff_count() -> None:
    result = screen(_payroll(), member(None))
    assert result.verdict == "requis"
    assert any("effectif du membre n'est pas renseigné" in r for r in result.reasons)


def test_hr_exemption_falls_with_profiling() -> None:
    result = screen(_payroll(profilage=True), member(12))
    assert result.verdict == "requis"
    assert "evaluation-notation" in codes(result)
    assert any("profilage" in r for r in result.reasons)


def test_access_control_exemption_falls_with_biometrics() -> None:
    badge = activity(
        personnes_concernees=["agents"],
        categories_donnees=[{"code": "biometrique", "conservation": _retention("P3M")}],
        aipd={"exemption": "controle-acces-horaires"},
    )
    result = screen(badge, member(30))
    assert result.verdict == "requis"
    assert any("Données biométriques" in r for r in result.reasons)


def test_supplier_management_is_exempt() -> None:
    suppliers = activity(
        nom="Gestion des fournisseurs",
        personnes_concernees=["fournisseurs"],
        categories_donnees=[
            {"code": "etat-civil-identite", "conservation": _retention()},
            {"code": "economique-financiere", "conservation": _retention("P10Y")},
        ],
        aipd={"exemption": "gestion-fournisseurs"},
    )
    assert screen(suppliers, member(8)).verdict == "exempte"


def test_a_cnil_type_beats_an_exemption() -> None:
    both = activity(aipd={"exemption": "gestion-fournisseurs", "liste_cnil": ["alertes-professionnelles"]})
    assert screen(both, member(8)).verdict == "requis"


def test_a_single_criterion_recommends_a_dpia() -> None:
    library = activity(nom="Prêt de la médiathèque", personnes_concernees=["enfants", "parents"])
    result = screen(library, member(20, "commune"))
    assert result.verdict == "recommande"
    assert result.label == "AIPD recommandée"
    assert "Un seul critère du CEPD" in result.reasons[-1]
    assert "Enfants mineurs" in result.reasons[0]


def test_no_criterion_means_not_required() -> None:
    rooms = activity(nom="Location des salles municipales")
    result = screen(rooms, member(20, "commune"))
    assert result.verdict == "non-requis"
    assert result.findings == ()


@pytest.mark.parametrize(
    ("fields", "criterion"),
    [
        ({"categories_donnees": [{"code": "infractions-condamnations"}]}, "donnees-sensibles"),
        ({"categories_donnees": [{"code": "nir"}]}, "donnees-sensibles"),
        ({"personnes_concernees": ["personnes-agees"]}, "personnes-vulnerables"),
        ({"decision_automatisee": True}, "decision-automatisee"),
        ({"profilage": True}, "evaluation-notation"),
    ],
)
def test_criteria_are_derived_from_the_data(fields: dict[str, Any], criterion: str) -> None:
    result = screen(activity(**fields))
    assert codes(result) == [criterion]
    assert result.findings[0].derived_from
    assert not result.findings[0].declared


def test_declared_and_derived_criterion_is_counted_once() -> None:
    result = screen(activity(personnes_concernees=["patients"], aipd={"criteres": ["personnes-vulnerables"]}))
    assert codes(result) == ["personnes-vulnerables"]
    assert result.verdict == "recommande"
    assert "déclaré, et déduit des données" in result.reasons[0]
