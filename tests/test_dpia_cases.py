"""The DPIA screening on a data-driven case set: one file per case in ``fixtures/aipd/``.

Each case states its expected verdict and reasons in its header (comment lines
``# verdict:``, ``# liste_cnil:``, ``# dispense:``, ``# criteres:``, ``# raisons:``) and its
activity twice: ``declare`` (the DPO declares the criteria, CNIL types or exemption, and
states no fact fields) and ``faits`` (the facts only, no declaration). Both must give the
header's verdict, CNIL types, exemption and criteria. Together the cases cover every EDPB
criterion, every type of délibération n° 2018-327 and every exemption of n° 2019-118.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from dote.dpia import DpiaPolicy, Screening, screen
from dote.model import Activity, Converter, Member
from dote.problems import Position
from dote.vocabulary import load_vocabularies

CASES = Path(__file__).parent / "fixtures" / "aipd"
VOCABULARIES = load_vocabularies()
CONVERT = Converter(VOCABULARIES)

#: Fields that state facts: the ``declare`` variant must not use them.
FACT_FIELDS = {
    "moyens",
    "surveillance",
    "croisement_donnees",
    "exclusion",
    "usage_innovant",
    "profilage",
    "decision_automatisee",
    "volume",
}
HEADER_KEYS = ("verdict", "liste_cnil", "dispense", "criteres", "raisons")


def _header(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].partition(":")
        if key.strip() in HEADER_KEYS:
            found[key.strip()] = value.strip()
    missing = [k for k in HEADER_KEYS if k not in found]
    assert not missing, f"{path.name}: header lines missing: {missing}"
    return found


def _codes(text: str) -> list[str]:
    text = text.strip()
    return [] if text in ("", "-", "aucun", "aucune") else [c.strip() for c in text.split(",")]


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _activity(case: str, data: Mapping[str, Any]) -> Activity:
    full: dict[str, Any] = {
        "version_schema": 1,
        "statut": "valide",
        "transferts": "aucun",
        **data,
    }
    return CONVERT.activity(case, "membre", full, Position(f"tests/fixtures/aipd/{case}.yml"))


def _member(data: Mapping[str, Any]) -> Member:
    full = {"nom": "Membre", "exercice_des_droits": {"courriel": "dpo@exemple.fr"}, **data}
    return CONVERT.member("membre", full, Position("registers/members/membre/member.yml"), None, ())


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) <= {"membre", "activite", "declare", "faits", "politique"}, path.name
    return data


def _variants(path: Path) -> dict[str, tuple[Screening, Activity]]:
    data = _load(path)
    member = _member(data.get("membre") or {})
    policy = DpiaPolicy.from_data(data.get("politique"))
    declared, facts = data.get("declare") or {}, data.get("faits") or {}
    assert not FACT_FIELDS & set(declared), f"{path.name}: « declare » states facts"
    assert "types" not in (declared.get("finalites") or {}), (
        f"{path.name}: « declare » states finalites.types"
    )
    assert "aipd" not in facts or not {"criteres", "liste_cnil", "exemption"} & set(facts["aipd"]), (
        f"{path.name}: « faits » declares criteria"
    )
    found = {}
    for name, extra in (("declare", declared), ("faits", facts)):
        activity = _activity(path.stem, _merge(data["activite"], extra))
        found[name] = (screen(activity, member, VOCABULARIES, policy), activity)
    return found


PATHS = sorted(CASES.glob("*.yml"))


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_case(path: Path) -> None:
    expected = _header(path)
    for variant, (result, _activity) in _variants(path).items():
        where = f"{path.name} ({variant})"
        assert result.verdict == expected["verdict"], f"{where}: {result.reasons}"
        assert [t.code for t in result.cnil_types] == _codes(expected["liste_cnil"]), where
        exemption = result.exemption.code if result.exemption else ""
        assert _codes(exemption) == _codes(expected["dispense"]), where
        if result.verdict != "exempte":
            assert sorted(t.code for t in result.criteria) == sorted(_codes(expected["criteres"])), (
                f"{where}: {result.reasons}"
            )
        text = " ".join(result.reasons)
        for part in expected["raisons"].split("|"):
            if part.strip():
                assert part.strip() in text, f"{where}: « {part.strip()} » not in {text}"


def test_the_cases_cover_every_criterion_type_and_exemption() -> None:
    criteria: set[str] = set()
    cnil: set[str] = set()
    exemptions: set[str] = set()
    for path in PATHS:
        expected = _header(path)
        criteria.update(_codes(expected["criteres"]))
        cnil.update(_codes(expected["liste_cnil"]))
        exemptions.update(_codes(expected["dispense"]))
    assert set(VOCABULARIES["criteres-aipd"].terms) <= criteria
    assert set(VOCABULARIES["liste-cnil-aipd"].terms) <= cnil
    assert set(VOCABULARIES["exemptions-aipd"].terms) <= exemptions


def test_the_case_set_is_large_enough_to_mean_something() -> None:
    assert len(PATHS) >= 40
