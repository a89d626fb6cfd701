"""The national benchmark (benchmarks/national.py) runs end to end on three tiny Maisons: a smoke test.

No timing is asserted (timings belong to NATIONAL.md): this checks that the Maisons are built
and served, that the national job harvests every one of them and builds the national site in
a child process whose memory is sampled, and that the report and its JSON carry every figure.
In Chromium (when installed; required in CI) both ways of searching are measured: the national
index finds the query, and the mergeIndex page merges every Maison's bundle and finds it in each.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _national_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("national_benchmark", ROOT / "benchmarks" / "national.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("national_benchmark", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_national_benchmark_runs_on_three_tiny_maisons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = CHROMIUM.exists()
    if not browser and os.environ.get("CI"):
        pytest.fail(f"Chromium absent ({CHROMIUM}) : requis en intégration continue")
    bench = _national_benchmark()
    report = tmp_path / "mesures.json"
    work = tmp_path / "travail"
    args = [
        "--maisons",
        "3",
        "--members",
        "5",
        "--activities",
        "3",
        "--work",
        str(work),
        "--json",
        str(report),
    ]
    assert bench.main(args + ([] if browser else ["--no-browser"])) == 0
    result = json.loads(report.read_text(encoding="utf-8"))
    assert (result["maisons"], result["membres_par_maison"], result["activites_par_membre"]) == (3, 5, 3)

    territories = result["territoires"]
    assert territories["duree_totale_s"] > 0 and territories["par_maison_s"]["min"] > 0
    assert territories["bundles_par_maison"] == 1  # 5 members: one Pagefind bundle each
    maisons = sorted(p.name for p in (work / "servi").iterdir() if p.name.startswith("maison-"))
    assert maisons == ["maison-1", "maison-2", "maison-3"]

    national = result["nationale"]
    assert national["statuts"] == dict.fromkeys(maisons, "a-jour")
    assert national["statuts_seconde_moisson"] == dict.fromkeys(maisons, "inchange")  # conditional requests
    assert national["moisson_s"] > 0 and national["construction_s"] > 0 and national["memoire_max_mio"] > 0
    assert national["pagefind_s"] > 0, "the national build's Pagefind run was not seen"
    assert national["moisson_mio"] > 0 and national["site_mio"] > 0 and national["pages"] > 3
    for maison in maisons:  # the harvest kept as reviewable files
        assert (work / "moisson" / maison / "territoire.json").is_file()
    assert national["explorateur"] is not None and national["explorateur_donnees_kio"] > 0
    assert (work / "site-national" / "recherche" / "index.html").is_file()

    if browser:
        merged, alone = result["recherche_fusionnee"], result["recherche_nationale"]
        assert merged["index_fusionnes"] == 3
        for search in (merged, alone):
            assert search["resultats_affiches"] > 0 and search["octets_apres_chargement_kio"] > 0
            assert search["hors_origine"] == []
        # Each Maison's 5 member pages match: merged, every Maison's are found.
        found = re.match(r"(\d+) résultats", merged["message"])
        assert found is not None and int(found.group(1)) >= 15, merged["message"]
        steps = result["explorateur"]["etapes_ms"]
        assert "effacer" in steps and any("Maison" in step for step in steps), steps
        assert all(ms["min"] >= 0 for ms in steps.values())
    else:
        assert "recherche_nationale" not in result

    printed = capsys.readouterr().out
    assert "moisson" in printed and "construction nationale" in printed
    if browser:
        assert "mergeIndex" in printed and "index national" in printed
