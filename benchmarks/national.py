"""National benchmark: K synthetic Maisons served on 127.0.0.1, harvested and aggregated.

One run, on this machine, in this order (see NATIONAL.md for the figures and the choice):

1. ``dote demo`` writes ``--maisons`` territories of ``--members`` × ``--activities`` (one seed
   each), each given the address ``http://127.0.0.1:PORT/<id>/``, and ``dote build`` builds them
   two at a time into one folder served by a thread of this process: **each Maison's own CI**,
   reported apart (the national job never pays it);
2. the **national job**, in a child process whose peak memory (PSS of its tree) is sampled:
   the harvest (:func:`dote.national.harvest.run`), the national site
   (:func:`dote.national.site.build`, its Pagefind run timed apart), then a second, conditional
   harvest (every Maison answers « not modified »);
3. in Chromium (Playwright), local only:

   a. the **national index**: the national site's ``/recherche/`` page, a word typed key by
      key; the bytes of every Pagefind file from opening the page to the results, and those
      after the page's load (the query's own cost), and the time from the first key to the
      first result;
   b. **mergeIndex**: a measurement page (served by this benchmark, part of no site) that opens
      Pagefind from the first Maison and merges every other bundle of every Maison (each
      one's primary ``pagefind/`` and its member shards ``pagefind-membres-N/``), the same
      word typed the same way;
   c. the **national explorer**: a combination of filters (each facet's first value, a
      Maison, then « clear »), five rounds, the time each update takes as the page measures
      it (``<body data-filtre-ms>``).

It prints a table and writes the figures as JSON with ``--json``.

Usage (from the repository, with the project installed)::

    python benchmarks/national.py                          # 20 Maisons × 200 members × 30 activities
    python benchmarks/national.py --maisons 20 --members 50 --json national.json
    python benchmarks/national.py --maisons 3 --members 5 --activities 3 --no-browser   # smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (HERE, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench import run_measured, work_folder  # noqa: E402

import national_fixtures as fixtures  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
#: What the search is asked for: a word of every synthetic member's name (« Commune Exemple 12 »),
#: so that both indexes find every member of every Maison (and their other pages that have it).
QUERY = "exemple"
#: Milliseconds between two keys typed into a search box.
KEY_DELAY_MS = 60
#: The measurement page of mergeIndex, in the served folder (part of no site).
MERGE_PAGE = "_mesure-fusion/"
#: Rounds of the explorer's filter steps.
ROUNDS = 5


# --- the national job, in a child process --------------------------------------------------------


def national_job(config_path: Path, site_dir: Path, out: Path) -> None:
    """Harvest, build the national site, harvest again; timings written as JSON to ``out``.

    Runs in a child process (``--etape-nationale``) so that the parent samples its memory.
    Pagefind's share of the build is timed apart (:func:`_patch_pagefind`).
    """
    from dote.national import config as national_config
    from dote.national import harvest as national_harvest
    from dote.national import site as national_site

    pagefind_seconds = [0.0]

    def timed(function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                pagefind_seconds[0] += time.perf_counter() - started

        return wrapper

    _patch_pagefind(national_site, timed)
    config = national_config.load(config_path)
    started = time.perf_counter()
    harvest = national_harvest.run(config)
    harvested = time.perf_counter()
    national_site.build(config, harvest, site_dir)
    built = time.perf_counter()
    again = national_harvest.run(config)
    rerun = time.perf_counter() - built
    result = {
        "moisson_s": round(harvested - started, 2),
        "construction_s": round(built - harvested, 2),
        "pagefind_s": round(pagefind_seconds[0], 2),
        "moisson_conditionnelle_s": round(rerun, 2),
        "statuts": {m.source.id: m.status for m in harvest.maisons},
        "statuts_seconde_moisson": {m.source.id: m.status for m in again.maisons},
    }
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def _patch_pagefind(site_module: Any, timed: Any) -> None:
    """Time Pagefind in the national build (wall time, shards run side by side counted once).

    The site module's ``index_search`` when it has one, else :func:`dote.search.index` under
    whatever name the site module imported it.
    """
    from dote import search

    if callable(getattr(site_module, "index_search", None)):
        site_module.index_search = timed(site_module.index_search)
        return
    original = search.index
    search.index = timed(original)  # type: ignore[assignment]
    for name, value in list(vars(site_module).items()):
        if value is original:
            setattr(site_module, name, search.index)


def run_national_job(config: Path, site_dir: Path, work: Path) -> dict[str, Any]:
    """The national job in a child process: its timings, wall time and peak memory (MiB)."""
    out = work / "etape-nationale.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--etape-nationale",
        str(config),
        str(site_dir),
        str(out),
    ]
    run = run_measured(command, work, env=fixtures.environment_without_proxy())
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["total_s"] = round(run.seconds, 2)
    result["memoire_max_mio"] = round(run.peak_mib, 1)
    return result


# --- sizes ---------------------------------------------------------------------------------------


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def explorer_data(site: Path, page: str) -> Path | None:
    """The explorer's data file: the JSON file beside its page."""
    found = sorted((site / page).glob("*.json"))
    return found[0] if found else None


def bundles(site: Path) -> list[str]:
    """A Maison's Pagefind bundles, relative to its site: the primary, then its member shards."""
    shards = sorted(
        (p.name for p in site.glob("pagefind-membres-*") if p.is_dir()),
        key=lambda name: int(name.rsplit("-", 1)[1]),
    )
    return ["pagefind/", *(f"{name}/" for name in shards)]


def write_merge_page(root: Path, maisons: Sequence[fixtures.Maison]) -> str:
    """The mergeIndex measurement page: Pagefind UI from the first Maison, every bundle merged."""
    first, *_ = maisons
    merged = []
    for maison in maisons:
        assert maison.site is not None
        prefix = "/" + maison.site.relative_to(root).as_posix() + "/"
        for bundle in bundles(maison.site):
            if maison is first and bundle == "pagefind/":
                continue
            merged.append({"bundlePath": prefix + bundle, "baseUrl": prefix})
    assert first.site is not None
    prefix = "/" + first.site.relative_to(root).as_posix() + "/"
    options = {
        "element": "#recherche",
        "bundlePath": prefix + "pagefind/",
        "baseUrl": prefix,
        "mergeIndex": merged,
        "showSubResults": True,
        "showImages": False,
        "resetStyles": False,
    }
    page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Mesure : mergeIndex de {len(maisons)} Maisons</title>
<link rel="stylesheet" href="{prefix}pagefind/pagefind-ui.css">
<script src="{prefix}pagefind/pagefind-ui.js"></script></head>
<body><main><h1>Recherche fusionnée ({len(merged) + 1} index)</h1><div id="recherche"></div></main>
<script>new PagefindUI({json.dumps(options)});</script></body></html>
"""
    folder = root / MERGE_PAGE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(page, encoding="utf-8")
    return MERGE_PAGE


# --- in Chromium ---------------------------------------------------------------------------------


def _is_pagefind(url: str) -> bool:
    return "/pagefind/" in url or "/pagefind-membres-" in url


def _file_kind(url: str) -> str:
    """What a Pagefind file is, for the bytes' breakdown: its folder, or its kind of file."""
    path = url.split("?", 1)[0]
    for folder in ("/index/", "/fragment/", "/filter/"):
        if folder in path:
            return folder.strip("/")
    name = path.rsplit("/", 1)[-1]
    if name.startswith("wasm."):
        return "wasm"
    if name.endswith(".pf_meta"):
        return "meta"
    return name


def search_cost(playwright: Any, url: str, origin: str) -> dict[str, Any]:
    """Open the search page at ``url``, type QUERY key by key: bytes, requests and time to results."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        outside: set[str] = set()

        def only_local(route: Any) -> None:
            if not route.request.url.startswith(origin):
                outside.add(route.request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", only_local)
        page = context.new_page()
        loaded = [False]
        counted: list[tuple[bool, int, str]] = []  # (after load, bytes, url)

        def on_response(response: Any) -> None:
            if _is_pagefind(response.url):
                with contextlib.suppress(Exception):
                    counted.append((loaded[0], len(response.body()), response.url))

        page.on("response", on_response)
        page.goto(url, wait_until="networkidle")
        loaded[0] = True
        box = page.locator(".pagefind-ui__search-input").first
        box.click()
        started = time.perf_counter()
        box.press_sequentially(QUERY, delay=KEY_DELAY_MS)
        typed = time.perf_counter()
        page.locator(".pagefind-ui__result").first.wait_for(timeout=120_000)
        shown = time.perf_counter()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        results = page.locator(".pagefind-ui__result").count()
        message = page.locator(".pagefind-ui__message").first.text_content() or ""
        context.close()
    finally:
        browser.close()
    after = [size for late, size, _ in counted if late]
    kinds: dict[str, float] = {}
    for late, size, address in counted:
        if late:
            kind = _file_kind(address)
            kinds[kind] = round(kinds.get(kind, 0.0) + size / 1024, 1)
    return {
        "octets_pagefind_kio": round(sum(size for _, size, _ in counted) / 1024, 1),
        "octets_apres_chargement_kio": round(sum(after) / 1024, 1),
        "requetes_apres_chargement": len(after),
        "premier_resultat_s": round(shown - started, 2),
        "apres_derniere_touche_s": round(shown - typed, 2),
        "resultats_affiches": results,
        "message": " ".join(message.split()),
        "hors_origine": sorted(outside),
        "par_sorte_kio": dict(sorted(kinds.items())),
    }


def explorer_timing(playwright: Any, url: str) -> dict[str, Any]:
    """Filter steps on the national explorer, ROUNDS rounds: each step's times (ms) as the page measures."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="networkidle")
        page.locator(".dote-explorateur__activite").first.wait_for(timeout=120_000)
        status = page.locator("[role=status], .dote-explorateur__etat").first.text_content() or ""
        facets = page.locator("fieldset.dote-facette")
        steps: list[tuple[str, Any]] = []
        for n in range(facets.count()):
            facet = facets.nth(n)
            legend = (facet.locator("legend").first.text_content() or "").strip()
            if facet.locator("select").count():
                select = facet.locator("select").first
                steps.append((f"+ {legend}", lambda s=select: s.select_option(index=1)))
            elif facet.get_by_role("checkbox").count():
                box = facet.get_by_role("checkbox").first
                steps.append((f"+ {legend}", lambda b=box: b.check()))
        clear = page.get_by_role("button", name="Effacer tous les filtres")
        steps.append(("effacer", lambda: clear.click()))
        timings: dict[str, list[float]] = {}
        for _ in range(ROUNDS):
            for what, act in steps:
                page.evaluate("document.body.removeAttribute('data-filtre-ms')")
                act()
                page.wait_for_function("document.body.hasAttribute('data-filtre-ms')", timeout=60_000)
                timings.setdefault(what, []).append(float(page.evaluate("document.body.dataset.filtreMs")))
    finally:
        browser.close()
    return {
        "etat_initial": " ".join(status.split()),
        "etapes_ms": {
            what: {"min": min(ms), "mediane": statistics.median(ms), "max": max(ms)}
            for what, ms in timings.items()
        },
        "pire_mediane_ms": max(statistics.median(ms) for ms in timings.values()) if timings else None,
    }


# --- the run -------------------------------------------------------------------------------------


def specs(maisons: int, members: int, activities: int) -> list[fixtures.Spec]:
    width = len(str(maisons))
    return [
        fixtures.Spec(f"maison-{n:0{width}d}", members, activities, seed=n, name=f"Maison DOTE n° {n}")
        for n in range(1, maisons + 1)
    ]


def benchmark(maisons: int, members: int, activities: int, work: Path, *, browser: bool) -> dict[str, Any]:
    print(f"{maisons} Maisons de {members} membres × {activities} activités dans {work}", file=sys.stderr)
    result: dict[str, Any] = {
        "maisons": maisons,
        "membres_par_maison": members,
        "activites_par_membre": activities,
        "machine": {"processeurs": os.cpu_count(), "python": sys.version.split()[0]},
    }
    with fixtures.serve_folder(work / "servi") as base:
        root = work / "servi"
        started = time.perf_counter()
        built = fixtures.build_maisons(specs(maisons, members, activities), work / "territoires", root, base)
        wall = time.perf_counter() - started
        per_maison = [m.build_seconds for m in built]
        result["territoires"] = {
            "duree_totale_s": round(wall, 1),
            "par_maison_s": {
                "min": round(min(per_maison), 1),
                "mediane": round(statistics.median(per_maison), 1),
                "max": round(max(per_maison), 1),
            },
            "site_mio_par_maison": round(
                statistics.median(folder_bytes(m.site) for m in built if m.site) / 2**20, 1
            ),
            "index_par_maison_kio": round(
                statistics.median(folder_bytes(m.site, "pagefind*/**/*") for m in built if m.site) / 1024, 1
            ),
            "bundles_par_maison": len(bundles(built[0].site)) if built[0].site else 0,
        }
        print(
            f"  territoires : {wall:.0f} s ({statistics.median(per_maison):.1f} s par Maison)",
            file=sys.stderr,
        )

        config = fixtures.write_config(work / "national.yml", built, timeout=60)
        national_site = work / "site-national"
        job = run_national_job(config, national_site, work)
        result["nationale"] = job
        harvest_dir = work / "moisson"
        result["nationale"]["moisson_mio"] = round(folder_bytes(harvest_dir) / 2**20, 1)
        result["nationale"]["site_mio"] = round(folder_bytes(national_site) / 2**20, 1)
        result["nationale"]["pages"] = sum(1 for _ in national_site.rglob("*.html"))
        result["nationale"]["index_kio"] = round(folder_bytes(national_site, "pagefind*/**/*") / 1024, 1)
        explorer = fixtures.find_explorer(national_site)
        data = explorer_data(national_site, explorer) if explorer is not None else None
        result["nationale"]["explorateur"] = explorer
        result["nationale"]["explorateur_donnees_kio"] = (
            round(data.stat().st_size / 1024, 1) if data else None
        )
        print(
            f"  nationale : moisson {job['moisson_s']} s, construction {job['construction_s']} s "
            f"(Pagefind {job['pagefind_s']} s), {job['memoire_max_mio']} Mio",
            file=sys.stderr,
        )

        if browser and CHROMIUM.exists():
            from playwright.sync_api import sync_playwright

            with fixtures.serve_folder(national_site) as national_base, sync_playwright() as playwright:
                result["recherche_nationale"] = search_cost(
                    playwright, national_base + "recherche/", national_base
                )
                merge = write_merge_page(root, built)
                result["recherche_fusionnee"] = search_cost(playwright, base + merge, base)
                result["recherche_fusionnee"]["index_fusionnes"] = sum(
                    len(bundles(m.site)) for m in built if m.site
                )
                if explorer is not None:
                    result["explorateur"] = explorer_timing(playwright, national_base + explorer)
        else:
            result["navigateur"] = "non mesuré (--no-browser, ou Chromium absent)"
    result["construction_comparee"] = {
        "index_national_s": result["nationale"]["pagefind_s"],
        "fusion_dans_le_navigateur_s": 0.0,
        "index_des_maisons_deja_construits": "chaque Maison construit son index dans sa propre CI",
    }
    return result


def table(result: dict[str, Any]) -> str:
    n = result["nationale"]
    t = result["territoires"]
    lines = [
        f"{result['maisons']} Maisons × {result['membres_par_maison']} membres × "
        f"{result['activites_par_membre']} activités",
        "",
        f"territoires (CI de chaque Maison) : {t['duree_totale_s']} s au total, "
        f"{t['par_maison_s']['mediane']} s par Maison (médiane), {t['site_mio_par_maison']} Mio par site, "
        f"{t['bundles_par_maison']} index Pagefind par site",
        f"moisson                           : {n['moisson_s']} s ({n['moisson_mio']} Mio gardés) ; "
        f"seconde moisson (conditionnelle) {n['moisson_conditionnelle_s']} s",
        f"construction nationale            : {n['construction_s']} s dont Pagefind {n['pagefind_s']} s ; "
        f"mémoire max {n['memoire_max_mio']} Mio",
        f"site national                     : {n['site_mio']} Mio, {n['pages']} pages, index {n['index_kio']} Kio, "
        f"données de l'explorateur {n['explorateur_donnees_kio']} Kio",
    ]
    if "recherche_nationale" in result:
        lines += [
            "",
            f"{'1re recherche « ' + QUERY + ' »':<32} {'Kio (tout)':>11} {'Kio (requête)':>14} "
            f"{'requêtes':>9} {'1er résultat (s)':>17}",
        ]
        for name, key in (("index national", "recherche_nationale"), ("mergeIndex", "recherche_fusionnee")):
            s = result[key]
            lines.append(
                f"{name:<32} {s['octets_pagefind_kio']:>11.0f} {s['octets_apres_chargement_kio']:>14.0f} "
                f"{s['requetes_apres_chargement']:>9} {s['premier_resultat_s']:>17.2f}"
            )
    if "explorateur" in result:
        lines += ["", "explorateur national (ms, médiane de " + str(ROUNDS) + " tours) :"]
        for what, ms in result["explorateur"]["etapes_ms"].items():
            lines.append(f"  {what:<40} {ms['mediane']:>7.1f} (min {ms['min']:.1f}, max {ms['max']:.1f})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--etape-nationale"]:
        national_job(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(
        description="Mesure la vue nationale sur des Maisons synthétiques servies localement."
    )
    parser.add_argument("--maisons", type=int, default=20, help="Maisons (par défaut : 20)")
    parser.add_argument("--members", type=int, default=200, help="membres par Maison (par défaut : 200)")
    parser.add_argument("--activities", type=int, default=30, help="activités par membre (par défaut : 30)")
    parser.add_argument("--work", type=Path, help="dossier de travail (par défaut : temporaire, effacé)")
    parser.add_argument("--json", type=Path, help="écrit aussi les mesures dans ce fichier JSON")
    parser.add_argument("--no-browser", action="store_true", help="ne mesure rien dans Chromium")
    args = parser.parse_args(argv)
    if args.maisons < 2:
        parser.error("il faut au moins deux Maisons (mergeIndex fusionne les autres dans la première)")
    with contextlib.ExitStack() as stack:
        work = work_folder(stack, args.work, parser, "dote-national-")
        result = benchmark(args.maisons, args.members, args.activities, work, browser=not args.no_browser)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
