"""The benchmark (benchmarks/bench.py) runs end to end on a tiny territory: a smoke test.

No timing is asserted (timings belong to the benchmark's own report): this checks that the
four builds happen on the same content, that the warm build sees the changed activity, and
that the report and its JSON carry every figure.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_runs_on_a_tiny_territory(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bench = _bench()
    report = tmp_path / "mesures.json"
    work = tmp_path / "travail"
    assert (
        bench.main(
            [
                "--members",
                "3",
                "--activities",
                "2",
                "--no-browser",
                "--work",
                str(work),
                "--json",
                str(report),
                "--repetitions",
                "2",
            ]
        )
        == 0
    )
    result = json.loads(report.read_text(encoding="utf-8"))
    names = [m["name"] for m in result["mesures"]]
    assert names == ["naive", "plancher", "dote-propre", "dote-chaud-ci", "dote-chaud", "dote-lendemain"]
    assert all(m["seconds"] > 0 and m["peak_mib"] > 0 and m["pages"] > 0 for m in result["mesures"])
    # CPU time: the build's and its children's (a clean build of even 3 members runs Pagefind
    # and pandoc), never zero, and each build's own, not the runs' sum so far: no more than its
    # processors could give it in its wall time.
    by_name = {m["name"]: m for m in result["mesures"]}
    processors = result["machine"]["processeurs"]
    assert all(m["cpu_seconds"] > 0.1 for m in result["mesures"]), result["mesures"]
    assert all(m["cpu_seconds"] <= m["seconds"] * processors * 1.1 + 0.05 for m in result["mesures"])
    # The floor and the warm builds ran twice, in turns, and the next-day build twice; each
    # counts by its median.
    for m in result["mesures"]:
        runs = m["extra"].get("durees", [])
        assert len(runs) == (0 if m["name"] in ("naive", "dote-propre") else 2), m
        assert not runs or abs(m["seconds"] - sum(runs) / 2) < 0.011  # each run rounded to 0.01
    assert set(result["rapports"]) == {
        "naive/dote-propre",
        "naive/dote-propre-cpu-reparti",
        "dote-propre/plancher",
        "dote-chaud/plancher",
        "dote-chaud-ci/plancher",
        "dote-lendemain/plancher",
    }
    # The clean build's CPU spread over the processors: the naive time against it.
    expected = by_name["naive"]["seconds"] / (by_name["dote-propre"]["cpu_seconds"] / processors)
    assert abs(result["rapports"]["naive/dote-propre-cpu-reparti"] - expected) < 0.02 * expected + 0.01
    # The same content: one naive page per member, processor and model, and the floor as many.
    assert by_name["naive"]["pages"] == by_name["plancher"]["pages"] == result["pages_de_la_reference"] + 1
    assert (work / "naive" / "site" / "search" / "search_index.json").is_file()
    # The warm builds saw the changed activities (one each, six in all, of the three members in
    # turn): the CI-like ones in a site folder made anew, the others with the site they replaced;
    # the last build was that of the second day after the run's.
    changed = list((work / "territoire" / "site" / "registres").glob("*/index.html"))
    assert sum(page.read_text(encoding="utf-8").count("(modifiée)") for page in changed) >= 6
    assert sum("(modifiée)" in page.read_text(encoding="utf-8") for page in changed) == 3
    last_days = [(dt.date.today() + dt.timedelta(days=d)).isoformat() for d in (2, 1)]  # midnight
    members = [text for page in changed if "(modifiée)" in (text := page.read_text(encoding="utf-8"))]
    assert any(all(f'au <time datetime="{day}">' in text for text in members) for day in last_days)
    # What the builds must not find was put aside, not deleted before them, and is gone now.
    assert not (work / "mis-de-cote").exists()
    printed = capsys.readouterr().out
    assert "naive/dote-propre" in printed and "dote-chaud" in printed and "CPU (s)" in printed


def test_the_benchmark_builds_a_second_size_side_by_side(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """``--echelle``: a second territory, each of its builds right after the same kind of build
    of the first one, and the ratios between the two sizes."""
    bench = _bench()
    report = tmp_path / "mesures.json"
    work = tmp_path / "travail"
    arguments = [
        "--members",
        "2",
        "--activities",
        "2",
        "--no-browser",
        "--sans-reference",
        "--repetitions",
        "1",
    ]
    assert bench.main([*arguments, "--echelle", "4", "--work", str(work), "--json", str(report)]) == 0
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["echelle"] == 4
    assert [m["name"] for m in result["mesures"]] == [
        "dote-propre",
        "dote-propre-4",
        "dote-chaud-ci",
        "dote-chaud-ci-4",
        "dote-chaud",
        "dote-chaud-4",
        "dote-lendemain",
        "dote-lendemain-4",
    ]
    by_name = {m["name"]: m for m in result["mesures"]}
    assert by_name["dote-propre-4"]["pages"] > by_name["dote-propre"]["pages"]
    assert set(result["rapports"]) == {
        "dote-propre-4/dote-propre",
        "dote-chaud-ci-4/dote-chaud-ci",
        "dote-chaud-4/dote-chaud",
        "dote-lendemain-4/dote-lendemain",
    }
    for name, value in result["rapports"].items():
        big, small = name.split("/")
        assert value == round(by_name[big]["seconds"] / by_name[small]["seconds"], 2)
    members = sorted((work / "territoire-4" / "registers" / "members").iterdir())
    assert len([m for m in members if (m / "member.yml").is_file()]) == 4
    changed = list((work / "territoire-4" / "site" / "registres").glob("*/index.html"))
    assert sum("(modifiée)" in page.read_text(encoding="utf-8") for page in changed) == 2
    assert not (work / "mis-de-cote").exists()
    assert "échelle : 4 membres" in capsys.readouterr().out


def test_a_first_search_counts_every_pagefind_bundle_it_downloads() -> None:
    """The member shards a search page merges are downloaded by a first query too."""
    searched = _bench()._SEARCH_FILES.search
    base = "http://127.0.0.1:8000/"
    for url in (
        "pagefind/pagefind-entry.json",
        "pagefind-membres-0/index/en_1.pf_index",
        "pagefind-membres-12/x",
    ):
        assert searched(base + url), url
    for url in ("search/search_index.json", "assets/javascripts/workers/search.f8cc74c7.min.js"):
        assert searched(base + url), url
    assert not searched(base + "registres/pagefind-membres/index.html")
