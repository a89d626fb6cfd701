"""DPIA screening: the CNIL lists and the EDPB criteria applied to realistic activities."""

from __future__ import annotations

from typing import Any

import pytest

from dote.dpia import DpiaPolicy, as_data, rules_markdown, screen, statement
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
    assert "(déduit des faits" in " ".join(result.reasons)


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
    # Nothing declared: biometric (Art. 9) data of pupils is type n° 11 of the CNIL list,
    # and also meets two EDPB criteria.
    assert result.verdict == "requis"
    assert [t.code for t in result.cnil_types] == ["biometrie-personnes-vulnerables"]
    assert "type n° 11" in result.reasons[0]
    assert codes(result) == ["donnees-sensibles", "personnes-vulnerables"]
    assert all(not f.declared for f in result.findings)
    assert "2 critères du CEPD remplis" in result.reasons[-1]


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
    assert result.label == "AIPD à évaluer"
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
    assert "déclaré, et déduit des faits" in result.reasons[0]


# --- facts, set-asides, policy and the public statement -----------------------------------------


def test_a_derived_criterion_is_removed_only_with_a_published_justification() -> None:
    tracked = activity(
        nom="Géolocalisation des véhicules de service",
        personnes_concernees=["agents"],
        moyens=["geolocalisation"],
        aipd={
            "criteres_ecartes": [
                {
                    "code": "surveillance-systematique",
                    "justification": "Relevé seulement à la demande, en cas de vol.",
                }
            ]
        },
    )
    result = screen(tracked, member(40, "commune"))
    assert codes(result) == ["personnes-vulnerables"]
    assert result.verdict == "recommande"
    assert [f.criterion.code for f in result.set_aside] == ["surveillance-systematique"]
    assert result.set_aside[0].set_aside == "Relevé seulement à la demande, en cas de vol."
    assert any("écarté par le registre, avec une justification écrite" in r for r in result.reasons)
    # Without the justification block, the facts decide.
    assert screen(activity(personnes_concernees=["agents"], moyens=["geolocalisation"]), member(40)).required


def test_a_declaration_is_never_removed_by_a_set_aside() -> None:
    declared = activity(
        aipd={
            "criteres": ["usage-innovant"],
            "criteres_ecartes": [{"code": "usage-innovant", "justification": "Contradictoire."}],
        }
    )
    result = screen(declared)
    assert codes(result) == ["usage-innovant"]
    assert any("l'écart est sans effet" in r for r in result.reasons)


def test_staff_are_vulnerable_towards_their_employer_only() -> None:
    own = activity(personnes_concernees=["agents"])
    # As a processor, the member serves the employer: the DPIA is the employer's (Art. 35(1)).
    for_the_employer = activity(personnes_concernees=["agents"], role="sous-traitant")
    # A client's staff processed on the member's own account are not its subordinates.
    clients_staff = activity(personnes_concernees=["personnel-clients"])
    assert codes(screen(own)) == ["personnes-vulnerables"]
    assert codes(screen(for_the_employer)) == ["personnes-vulnerables"]
    assert codes(screen(clients_staff)) == []


def test_a_processor_cannot_use_an_exemption_that_depends_on_the_controller() -> None:
    payroll = activity(
        role="sous-traitant",
        finalites={"principale": "Paie du client", "types": ["gestion-personnel"]},
        personnes_concernees=["agents"],
    )
    result = screen(payroll, member(15))
    assert result.verdict == "recommande"
    assert any("c'est à ce responsable de l'établir" in r for r in result.reasons)


def test_the_regulations_own_cases_beat_an_exemption() -> None:
    canteen = activity(
        finalites={"principale": "Restauration scolaire", "types": ["affaires-scolaires-petite-enfance"]},
        personnes_concernees=["enfants"],
        categories_donnees=[{"code": "sante", "conservation": _retention("P1Y")}],
        volume=16_000,
    )
    result = screen(canteen, member(2400, "commune"))
    assert result.verdict == "requis"
    assert any("art. 35(3)(b) du RGPD" in r and "ne s'applique pas" in r for r in result.reasons)
    small = activity(
        finalites={"principale": "Restauration scolaire", "types": ["affaires-scolaires-petite-enfance"]},
        personnes_concernees=["enfants"],
        categories_donnees=[{"code": "sante", "conservation": _retention("P1Y")}],
        volume=300,
    )
    assert screen(small, member(40, "commune")).verdict == "exempte"


def test_the_policy_can_require_a_dpia_from_one_criterion() -> None:
    library = activity(personnes_concernees=["enfants"])
    strict = DpiaPolicy.from_data({"un_critere": "requise"})
    assert screen(library).verdict == "recommande"
    result = screen(library, None, None, strict)
    assert result.verdict == "requis"
    assert "politique de la Maison" in result.reasons[-1]


def test_large_scale_follows_the_policys_thresholds() -> None:
    roll = activity(volume={"personnes": 9_999, "enregistrements_par_an": 20})
    assert codes(screen(roll)) == []
    assert codes(screen(activity(volume=10_000))) == ["grande-echelle"]
    assert codes(screen(activity(volume={"enregistrements_par_an": 100_000}))) == ["grande-echelle"]
    share = DpiaPolicy.from_data({"grande_echelle": {"part_population": 50}})
    assert codes(screen(activity(volume={"part_population": 60}), None, None, share)) == ["grande-echelle"]
    assert codes(screen(activity(volume={"part_population": 40}), None, None, share)) == []
    result = screen(activity(volume=12_000))
    assert "12\u202f000 personnes (seuil de la Maison : 10\u202f000)" in result.reasons[0]


def test_an_exemption_is_derived_from_the_purposes_and_prevails() -> None:
    payroll = activity(
        finalites={"principale": "Paie", "types": ["gestion-personnel"]},
        personnes_concernees=["agents"],
        categories_donnees=[{"code": "nir", "conservation": _retention()}],
    )
    result = screen(payroll, member(12, "commune"))
    assert result.verdict == "exempte" and result.exemption_derived
    assert result.exemption is not None and result.exemption.code == "rh-moins-250"
    assert "délibération n° 2019-118, type n° 1" in result.reasons[0]
    assert not any("critère" in r and "rempli" in r for r in result.reasons)
    # A purpose outside the exemption: it no longer covers the processing.
    mixed = activity(
        finalites={"principale": "Paie", "types": ["gestion-personnel", "accompagnement-social"]},
        personnes_concernees=["agents"],
    )
    assert screen(mixed, member(12, "commune")).verdict == "requis"


def test_an_exemption_for_a_kind_of_member_only() -> None:
    roll = activity(finalites={"principale": "Listes électorales", "types": ["fichier-electoral"]})
    assert screen(roll, member(30, "commune")).verdict == "exempte"
    result = screen(roll, member(30, "entreprise"))
    assert result.verdict == "non-requis"
    assert any("ne vaut pas pour un membre de type « Entreprise" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("aipd", "expected"),
    [
        ({"statut": "realisee", "date": "2024-03-12"}, "AIPD requise — réalisée le 12 mars 2024"),
        ({"statut": "en-cours"}, "AIPD requise — en cours"),
        ({"statut": "prevue", "date": "2027-01-15"}, "AIPD requise — prévue le 15 janvier 2027"),
        ({"statut": "non-requise"}, "AIPD requise — non réalisée"),
        (None, "AIPD requise — non réalisée"),
    ],
)
def test_one_public_statement_reconciles_screening_and_status(
    aipd: dict[str, Any] | None, expected: str
) -> None:
    fields: dict[str, Any] = {"personnes_concernees": ["enfants"], "volume": 20_000}
    if aipd:
        fields["aipd"] = aipd
    required = activity(**fields)
    assert statement(screen(required), required) == expected


def test_statements_of_the_other_verdicts() -> None:
    rooms = activity()
    assert statement(screen(rooms), rooms) == "AIPD non requise"
    done = activity(aipd={"statut": "realisee", "date": "2023-01-05"})
    assert statement(screen(done), done) == "AIPD non requise — réalisée le 5 janvier 2023"
    one = activity(personnes_concernees=["enfants"])
    assert statement(screen(one), one) == "AIPD à évaluer — non réalisée"
    judged = activity(personnes_concernees=["enfants"], aipd={"statut": "non-requise"})
    assert statement(screen(judged), judged) == "AIPD à évaluer — jugée non nécessaire par le membre"
    roll = activity(finalites={"principale": "Listes", "types": ["fichier-electoral"]})
    assert statement(screen(roll, member(30, "commune")), roll) == (
        "AIPD dispensée (délibération n° 2019-118, type n° 3)"
    )


def test_as_data_gives_each_criterion_its_origin() -> None:
    video = activity(
        personnes_concernees=["personnes-filmees"],
        moyens=["videoprotection"],
        volume=15_000,
        aipd={"criteres": ["grande-echelle"], "statut": "realisee", "date": "2024-01-20"},
    )
    data = as_data(screen(video), video)
    assert data["verdict"] == "requis"
    assert data["enonce"] == "AIPD requise — réalisée le 20 janvier 2024"
    origins = {c["code"]: (c["origine"], c["numero"]) for c in data["criteres_cepd"]}
    assert origins == {"surveillance-systematique": ("deduit", 3), "grande-echelle": ("declare-et-deduit", 5)}
    assert "« moyens » : Caméras" in data["criteres_cepd"][0]["deduit_de"]
    assert data["dispense"] is None


def test_a_processor_is_told_the_dpia_is_the_controllers() -> None:
    hosting = activity(role="sous-traitant", personnes_concernees=["agents"], volume=50_000)
    result = screen(hosting, member(15))
    assert result.verdict == "requis"
    assert statement(result, hosting) == "AIPD requise — à la charge du responsable du traitement"
    assert any("art. 28(3)(f)" in r for r in result.reasons)


def test_the_editors_rules_are_markdown_with_no_escaped_text() -> None:
    """The guide's screening rules (``{{ regles_aipd() }}``): register-free text stays as written,
    not HTML-escaped by joining it to escaped values."""
    policy_line = next(line for line in rules_markdown().splitlines() if "Politique de ce territoire" in line)
    assert "rend l'AIPD" in policy_line and "&#39;" not in policy_line
    assert policy_line.endswith("par an.")
