"""Speed benchmark: ``dote build`` against a naive MkDocs-Material build of the same content.

One run, on this machine, in this order:

1. ``dote demo`` writes a synthetic territory (``--members`` × ``--activities``);
2. the **naive baseline**: the same registers written as plain Markdown (one page per
   member, processor and model, each activity a Markdown table of its published fields),
   built by Material with its built-in search and a navigation limited to the home page;
3. the **floor**: as many one-line pages, built by Material without any plugin — what
   MkDocs and the theme cost before any content;
4. ``dote build``, clean (no ``.cache/dote/``, no previous site);
5. ``dote build`` warm as a CI job runs it: the purpose of one activity changed, the build
   cache kept (the CI templates keep ``.cache/dote/`` between runs) but no previous site (a
   job starts from a fresh checkout, so no member page can be linked from the site it
   replaces);
6. ``dote build`` again, warm, after changing another activity, with the previous site;
7. ``dote build`` as the first build of the next day (the plugin's ``reference_date`` one day
   later, another activity changed, the previous site kept): what a Maison's CI mostly runs
   when it builds a few merges a day, for what depends on the date (labels' ages, reviews due)
   is kept for the day, or for the days a member's label stays the same (PROFILING.md,
   sixteenth pass). Not part of the budget; reported beside it.

The floor and the two warm builds, a few seconds each, run three times (``--repetitions``) in
turns — floor, warm as CI, warm, floor… — each warm build after changing another activity, and
count by their median: this machine's speed drifts within a run (the floor has taken 2.5 s
and 3.4 s half an hour apart), and a ratio of two single runs minutes apart moved with it.

No timed build follows the deletion of a folder: what a build must not find is moved aside
and deleted at the end (see :func:`_put_aside`).

With ``--echelle N``, a second territory of N members (same activities) is generated first and
built the same way, each of its builds right after the same kind of build of the first one; the
ratios between the two sizes (the budget's 5,000 against 1,000) then compare builds minutes
apart, on a machine whose speed may drift from one hour to the next.

For each build it records the wall time, the CPU time (user and system, of the build and of
every process it started and waited for: its workers, Pagefind), the peak memory of the whole
process tree (the sum of the proportional set sizes of the build and its children, sampled
every 50 ms), the size of
the site, and the bytes a first search downloads (in Chromium when it is installed and
Playwright is importable: the search box is filled and every response body counted;
otherwise the static files a first search needs are summed and the method says so). It
prints a table with the ratios baseline/dote (how many times faster dote is) and
dote/floor, and the baseline's time against the clean build's CPU time spread over every
processor (:data:`IDEAL`: the best ratio the same work could reach on this machine), and
writes the same figures as JSON with ``--json``.

Usage (from the repository, with the project installed)::

    python benchmarks/bench.py                       # 1,000 members × 30 activities
    python benchmarks/bench.py --members 5000 --sans-reference --json bench-5000.json  # dote alone
    python benchmarks/bench.py --sans-reference --echelle 5000   # 1,000 and 5,000, side by side
    python benchmarks/bench.py --members 3 --activities 2 --no-browser --repetitions 1  # smoke test (CI)
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import functools
import http.server
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

CHROMIUM = Path("/usr/bin/chromium")
#: The processors the builds may use (their workers count on them: ``os.cpu_count()``).
PROCESSORS = os.cpu_count() or 1
#: The ratio of the naive build's time to the clean build's CPU time spread over every
#: processor: what the naive / clean ratio would be if the build kept them all busy from start
#: to end, doing the same work. The clean build cannot reach a ratio above it without doing
#: less work.
IDEAL = "naive/dote-propre-cpu-reparti"
#: A word every synthetic purpose contains: what the search is asked for.
QUERY = "demandes"


@dataclass
class Measure:
    """One build: wall time, peak memory of its process tree, site size, first-search bytes."""

    name: str
    seconds: float
    peak_mib: float
    site_mib: float
    pages: int
    first_search_kib: float | None = None
    first_search_method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: CPU time (user + system) of the build and of every process it started and waited for.
    cpu_seconds: float = 0.0


class Run(NamedTuple):
    """One run of a command: its wall time, the peak memory of its tree, its CPU time."""

    seconds: float
    peak_mib: float
    cpu_seconds: float


# --- measuring a command ----------------------------------------------------------------------


def _tree_memory_kib(root_pid: int) -> int:
    """Memory of ``root_pid`` and all its descendants, in KiB (Linux /proc).

    The proportional set size (PSS) of each process: a page shared by several processes
    (forked workers share the build's memory until they write to it) is divided between
    them, so the sum is what the tree really occupies. Resident sizes (RSS) would count
    every shared page once per process.
    """
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stream:
                parent = int(stream.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += _pss_kib(pid)
        todo.extend(children.get(pid, ()))
    return total


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as stream:
            for line in stream:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def work_folder(
    stack: contextlib.ExitStack, work: Path | None, parser: argparse.ArgumentParser, prefix: str
) -> Path:
    """The benchmark's working folder: the one given (it must be empty), else a temporary one
    removed when ``stack`` closes."""
    if work is None:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    elif work.exists() and any(work.iterdir()):
        parser.error(f"le dossier de travail {work} n'est pas vide")
    work.mkdir(parents=True, exist_ok=True)
    return work.resolve()


#: The shortest wait between two memory samples, and how many times a sample's own cost the
#: sampler waits at least: reading the PSS of a 2 GB build and its workers walks their page
#: tables (about 17 ms a sample at 1,000 × 30), so sampling every 50 ms took a quarter of a core
#: of this two-core machine from the build it measured (6.7 s of CPU in a 26 s warm build). With
#: the wait at ten times the cost, the sampler takes under a tenth of a core, and still samples
#: a build's memory several times a second.
SAMPLE_INTERVAL = 0.05
SAMPLE_COST_FACTOR = 10


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command``; its wall time in seconds, the peak memory of its tree in MiB
    (sampled, see :data:`SAMPLE_COST_FACTOR`) and its CPU time in seconds: user and system
    time of the command and of the processes it waited for (its workers, Pagefind), as the
    kernel counts them for this process's children once the command is waited for. Nothing
    else is waited for meanwhile: the sampler only reads ``/proc``."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            started = time.perf_counter()
            peak = max(peak, _tree_memory_kib(process.pid))
            done.wait(max(SAMPLE_INTERVAL, (time.perf_counter() - started) * SAMPLE_COST_FACTOR))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.stderr.write(output)
        raise SystemExit(f"échec de la commande ({process.returncode}) : {' '.join(command)}")
    return Run(elapsed, peak / 1024, _children_cpu() - cpu_before)


def _site_stats(site: Path) -> tuple[float, int]:
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    pages = sum(1 for _ in site.rglob("*.html"))
    return size / 2**20, pages


# --- the naive baseline and the floor ------------------------------------------------------------


def _text(value: Any) -> str:
    """A register value as one line of text: blocks as « key: value », lists joined."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _table(data: dict[str, Any]) -> str:
    """One row per field, as a naive Markdown page of a register would have it."""
    lines = ["| Champ | Valeur |", "| --- | --- |"]
    lines += [f"| {key} | {_text(value).replace('|', '/')} |" for key, value in data.items()]
    return "\n".join(lines) + "\n"


def _read(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(data, dict), path
    return data


def write_naive(territory: Path, target: Path) -> int:
    """The naive site's sources: Markdown tables of the published registers; its page count."""
    docs = target / "docs"
    docs.mkdir(parents=True)
    registers = territory / "registers"
    maison = _read(registers / "maison.yml")
    pages = 1
    (docs / "index.md").write_text(f"# {maison['nom']}\n\n{_table(maison)}", encoding="utf-8")
    for folder in sorted((registers / "members").iterdir()):
        member = _read(folder / "member.yml")
        chosen = member.get("champs_publies") if member.get("publication") == "choix" else None
        parts = [f"# {member['nom']}\n", _table(member)]
        for path in sorted(folder.glob("*.yml")):
            if path.name == "member.yml":
                continue
            activity = _read(path)
            if chosen is not None:
                activity = {k: v for k, v in activity.items() if k in chosen}
            parts.append(f"## {activity.get('nom', path.stem)}\n\n{_table(activity)}")
        (docs / "registres").mkdir(exist_ok=True)
        (docs / "registres" / f"{folder.name}.md").write_text("\n".join(parts), encoding="utf-8")
        pages += 1
    for kind, folder_name in (("sous-traitants", "processors"), ("modeles", "models")):
        folder = registers / folder_name
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            data = _read(path)
            (docs / kind).mkdir(exist_ok=True)
            (docs / kind / f"{path.stem}.md").write_text(
                f"# {data.get('nom', path.stem)}\n\n{_table(data)}", encoding="utf-8"
            )
            pages += 1
    _mkdocs_yml(target, "Référence naïve", plugins=["search"])
    return pages


def write_floor(target: Path, pages: int) -> None:
    """As many one-line pages as the naive site, built by Material without plugins."""
    docs = target / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text("# Accueil\n", encoding="utf-8")
    (docs / "p").mkdir()
    for n in range(1, pages):
        (docs / "p" / f"{n}.md").write_text(f"# Page {n}\n", encoding="utf-8")
    _mkdocs_yml(target, "Plancher", plugins=[])


def _mkdocs_yml(target: Path, name: str, plugins: list[str]) -> None:
    config = {
        "site_name": name,
        "theme": {"name": "material", "language": "fr"},
        "nav": ["index.md"],
        "plugins": plugins,
    }
    (target / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


# --- what a first search downloads --------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serve(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def first_search_bytes(site: Path, *, dote: bool) -> tuple[float | None, str]:
    """KiB downloaded by a first search for QUERY, after the home page; and how it was measured."""
    if CHROMIUM.exists():
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            pass
        else:
            return _browser_search_bytes(site, dote=dote, sync_playwright=sync_playwright), "Chromium"
    return None, "non mesuré (Chromium ou Playwright absent)"


#: What belongs to the search: Pagefind's files (the primary bundle and the member shards it
#: merges), or Material's index, worker and lunr.
_SEARCH_FILES = re.compile(r"/pagefind(-membres-\d+)?/|/search/search_index\.json|/workers/search\.|/lunr/")


def _browser_search_bytes(site: Path, *, dote: bool, sync_playwright: Any) -> float:
    """Bytes of search files downloaded from opening the home page to the first results.

    Material loads its whole index when a page opens, Pagefind its entry files when its
    page opens and the index chunks when a query is typed: counting from the page load
    on is fair to both.
    """
    with _serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        counted: list[int] = []

        def on_response(response: Any) -> None:
            if response.url.startswith(base) and _SEARCH_FILES.search(response.url):
                with contextlib.suppress(Exception):
                    counted.append(len(response.body()))

        page.on("response", on_response)
        # dote's search page (the quick form on every page opens it), or Material's box.
        page.goto(base + ("recherche/" if dote else ""), wait_until="networkidle")
        field_ = page.locator(".pagefind-ui__search-input" if dote else "input.md-search__input").first
        field_.click()
        field_.press_sequentially(QUERY, delay=60)
        page.wait_for_timeout(1500)
        page.wait_for_load_state("networkidle")
        browser.close()
    return sum(counted) / 1024


# --- the run -----------------------------------------------------------------------------------


def _with_site_url(territory: Path) -> None:
    """Give the territory a public address: with every feature on, the watch's Atom and RSS
    feeds and the open-data catalogue (which need absolute links) are built and measured too."""
    config = territory / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    if not re.search(r"(?m)^site_url:", text):
        text = re.sub(r"(?m)^# site_url: .*$", "site_url: https://registres.exemple.fr/", text, count=1)
        if not re.search(r"(?m)^site_url:", text):
            text = "site_url: https://registres.exemple.fr/\n" + text
        config.write_text(text, encoding="utf-8")


def _put_aside(folder: Path, aside: Path) -> None:
    """Move ``folder`` out of the way of the next build, without deleting it.

    On ext4 without a journal (this project's machines), the kernel does not reuse the number
    of a file deleted in the last minute (six while its inode is not written back) and looks
    further for each file it creates: a clean build run just after ``rm -rf .cache site`` was
    4 to 7 s slower at 1,000 × 30 (see PROFILING.md, thirteenth pass). A CI job, the case these
    builds stand for, starts without deleting anything; the folders put aside are deleted after
    the last build.
    """
    if folder.exists():
        aside.mkdir(exist_ok=True)
        folder.rename(aside / f"{folder.name.lstrip('.')}-{len(list(aside.iterdir()))}")


def _set_reference_date(territory: Path, day: dt.date) -> None:
    """Build ``territory`` as on ``day`` (the ``dote`` plugin's ``reference_date``)."""
    config = territory / "mkdocs.yml"
    text, count = re.subn(
        r"(?m)^  - dote\b.*\n(      reference_date: .*\n)?",
        f"  - dote:\n      reference_date: '{day.isoformat()}'\n",
        config.read_text(encoding="utf-8"),
        count=1,
    )
    assert count == 1, config
    config.write_text(text, encoding="utf-8")


def _touch_one_activity(territory: Path, member_index: int = 0) -> Path:
    members = sorted((territory / "registers" / "members").iterdir())
    member = members[member_index % len(members)]
    path = next(p for p in sorted(member.glob("*.yml")) if p.name != "member.yml")
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(r"(?m)^(  principale: .*)$", r"\1 (modifiée)", text, count=1)
    assert count == 1, path
    path.write_text(changed, encoding="utf-8")
    return path


def compile_like_an_install() -> None:
    """Write the bytecode of Maison DOTE's modules, as pip does when it installs a package.

    MkDocs and Material come compiled from their installation; an editable install of this
    package (the README's), or ``PYTHONDONTWRITEBYTECODE`` set, leaves none, and each timed
    ``dote`` run would compile its 27,000 lines again (about 0.3 s on this project's machines).
    """
    spec = importlib.util.find_spec("dote")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def benchmark(
    members: int,
    activities: int,
    work: Path,
    *,
    browser: bool,
    baseline: bool = True,
    scale: int | None = None,
    repetitions: int = 3,
) -> dict[str, Any]:
    """Generate the territory, build the naive baseline and the floor (``baseline``), then
    ``dote build`` clean, warm as CI and warm. With ``scale`` (a number of members), a second
    territory of that size is built the same way, each kind of build right after the same
    kind at ``members``: the ratios between the two sizes come from builds minutes apart, on
    the same machine in the same state, as the budget's « 5,000 against 1,000 » asks.
    The floor and the warm builds run ``repetitions`` times, in turns, and count by their
    median; the clean builds (minutes each, a new territory each) once."""
    python = sys.executable
    compile_like_an_install()
    dote = [python, "-m", "dote.cli"] if shutil.which("dote") is None else [shutil.which("dote") or "dote"]
    sizes = [(members, work / "territoire", "")]
    if scale is not None:
        sizes.append((scale, work / f"territoire-{scale}", f"-{scale}"))
    for count, territory, _ in sizes:
        print(f"Territoire de {count} membres × {activities} activités dans {work}", file=sys.stderr)
        subprocess.run(
            [*dote, "demo", "--members", str(count), "--activities", str(activities), str(territory)],
            check=True,
            capture_output=True,
        )
        _with_site_url(territory)
    territory = sizes[0][1]
    measures: list[Measure] = []

    def record(
        name: str,
        site: Path,
        runs: Sequence[Run],
        *,
        search: bool,
        is_dote: bool,
    ) -> None:
        """One measure from one or more runs of a build: the median time and CPU time, the
        highest peak."""
        seconds = statistics.median(run.seconds for run in runs)
        peak = max(run.peak_mib for run in runs)
        cpu = statistics.median(run.cpu_seconds for run in runs)
        size, pages = _site_stats(site)
        kib, method = first_search_bytes(site, dote=is_dote) if search and browser else (None, "")
        if search and not browser:
            method = "non mesuré (--no-browser)"
        extra = {"durees": [round(run.seconds, 2) for run in runs]} if len(runs) > 1 else {}
        measures.append(
            Measure(
                name,
                round(seconds, 2),
                round(peak, 1),
                round(size, 1),
                pages,
                kib,
                method,
                extra,
                round(cpu, 2),
            )
        )
        each = f" ({', '.join(f'{run.seconds:.1f}' for run in runs)})" if len(runs) > 1 else ""
        print(f"  {name} : {seconds:.1f} s{each}, {cpu:.1f} s de CPU, {peak:.0f} Mio", file=sys.stderr)

    page_count = 0
    floor = work / "plancher"
    if baseline:
        naive = work / "naive"
        page_count = write_naive(territory, naive)
        record(
            "naive",
            naive / "site",
            [run_measured([python, "-m", "mkdocs", "build", "-q"], naive)],
            search=True,
            is_dote=False,
        )
        write_floor(floor, page_count)

    aside = work / "mis-de-cote"  # what a build must not find, deleted after the last one
    for _, built, suffix in sizes:
        _put_aside(built / ".cache", aside)
        run = run_measured([*dote, "build", str(built)], work)
        record(f"dote-propre{suffix}", built / "site", [run], search=True, is_dote=True)

    # The floor and the warm builds, each a few seconds, in turns: the machine's drift within
    # the run (a quarter in half an hour has been seen) weighs on both sides of their ratios.
    runs: dict[str, list[Run]] = {}
    changed = 0
    for _ in range(repetitions):
        if baseline:
            runs.setdefault("plancher", []).append(
                run_measured([python, "-m", "mkdocs", "build", "-q"], floor)
            )
        for _, built, suffix in sizes:
            changed += 1
            _touch_one_activity(built, changed)
            _put_aside(built / "site", aside)
            runs.setdefault(f"dote-chaud-ci{suffix}", []).append(
                run_measured([*dote, "build", str(built)], work)
            )
        for _, built, suffix in sizes:
            changed += 1
            _touch_one_activity(built, changed)
            runs.setdefault(f"dote-chaud{suffix}", []).append(
                run_measured([*dote, "build", str(built)], work)
            )
    # Then the first build of each following day: after the warm builds, for a build of another
    # day changes what the cache holds for the day.
    today = dt.date.today()
    for repetition in range(repetitions):
        for _, built, suffix in sizes:
            changed += 1
            _touch_one_activity(built, changed)
            _set_reference_date(built, today + dt.timedelta(days=repetition + 1))
            runs.setdefault(f"dote-lendemain{suffix}", []).append(
                run_measured([*dote, "build", str(built)], work)
            )
    if baseline:
        record("plancher", floor / "site", runs["plancher"], search=False, is_dote=False)
    for kind in ("dote-chaud-ci", "dote-chaud", "dote-lendemain"):
        for _, built, suffix in sizes:
            record(f"{kind}{suffix}", built / "site", runs[f"{kind}{suffix}"], search=False, is_dote=True)
    shutil.rmtree(aside, ignore_errors=True)
    measures.sort(key=lambda m: {"naive": 0, "plancher": 1}.get(m.name, 2))  # stable: the builds' order

    by_name = {m.name: m for m in measures}
    ratios = {}
    if baseline:
        ratios = {
            "naive/dote-propre": round(by_name["naive"].seconds / by_name["dote-propre"].seconds, 2),
            # The most that spreading the clean build's work over the processors could give:
            # its CPU time divided by their number, against the naive build's wall time.
            IDEAL: round(by_name["naive"].seconds / (by_name["dote-propre"].cpu_seconds / PROCESSORS), 2),
            "dote-propre/plancher": round(by_name["dote-propre"].seconds / by_name["plancher"].seconds, 2),
            "dote-chaud/plancher": round(by_name["dote-chaud"].seconds / by_name["plancher"].seconds, 2),
            "dote-chaud-ci/plancher": round(
                by_name["dote-chaud-ci"].seconds / by_name["plancher"].seconds, 2
            ),
            "dote-lendemain/plancher": round(
                by_name["dote-lendemain"].seconds / by_name["plancher"].seconds, 2
            ),
        }
    if scale is not None:
        for kind in ("dote-propre", "dote-chaud-ci", "dote-chaud", "dote-lendemain"):
            ratios[f"{kind}-{scale}/{kind}"] = round(
                by_name[f"{kind}-{scale}"].seconds / by_name[kind].seconds, 2
            )
    return {
        "membres": members,
        "activites_par_membre": activities,
        "echelle": scale,
        "pages_de_la_reference": page_count,
        "machine": {"processeurs": PROCESSORS, "python": sys.version.split()[0]},
        "mesures": [asdict(m) for m in measures],
        "rapports": ratios,
    }


def table(result: dict[str, Any]) -> str:
    scale = result.get("echelle")
    lines = [
        f"{result['membres']} membres × {result['activites_par_membre']} activités"
        + (
            f" ({result['pages_de_la_reference']} pages dans la référence naïve)"
            if result["pages_de_la_reference"]
            else ""
        )
        + (f" ; échelle : {scale} membres (noms finissant par « -{scale} »)" if scale else ""),
        "",
        f"{'construction':<19} {'durée (s)':>10} {'CPU (s)':>8} {'mémoire (Mio)':>14} {'site (Mio)':>11} "
        f"{'pages':>7} {'1re recherche (Kio)':>20}",
    ]
    for m in result["mesures"]:
        kib = "" if m["first_search_kib"] is None else f"{m['first_search_kib']:.0f}"
        lines.append(
            f"{m['name']:<19} {m['seconds']:>10.2f} {m['cpu_seconds']:>8.1f} {m['peak_mib']:>14.0f} "
            f"{m['site_mib']:>11.1f} {m['pages']:>7} {kib:>20}"
        )
    lines.append("")
    for name, value in result["rapports"].items():
        lines.append(f"{name:<36} {value:>6.2f}")
    if IDEAL in result["rapports"]:
        lines.append(
            f"({IDEAL} : durée naïve / (CPU de dote-propre ÷ {result['machine']['processeurs']} processeurs), "
            "le plus que la construction propre atteindrait en occupant tous les processeurs du début "
            "à la fin sans rien faire de moins)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mesure dote build contre une construction MkDocs naïve.")
    parser.add_argument("--members", type=int, default=1000, help="membres (par défaut : 1000)")
    parser.add_argument("--activities", type=int, default=30, help="activités par membre (par défaut : 30)")
    parser.add_argument("--work", type=Path, help="dossier de travail (par défaut : temporaire, effacé)")
    parser.add_argument("--json", type=Path, help="écrit aussi les mesures dans ce fichier JSON")
    parser.add_argument("--no-browser", action="store_true", help="ne mesure pas la recherche dans Chromium")
    parser.add_argument(
        "--sans-reference",
        action="store_true",
        help="ne construit ni la référence naïve ni le plancher (mesure dote seul, pour comparer deux tailles)",
    )
    parser.add_argument(
        "--echelle",
        type=int,
        metavar="MEMBRES",
        help="construit aussi un territoire de MEMBRES membres, chaque construction juste après la même "
        "à la première taille, et donne les rapports entre les deux tailles (par exemple 5000)",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=3,
        metavar="N",
        help="mesure N fois, en alternance, le plancher et les constructions à chaud, "
        "et retient la médiane (par défaut : 3)",
    )
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error("--repetitions : au moins 1")
    if args.echelle is not None and args.echelle < 1:
        parser.error("--echelle : un nombre de membres, au moins 1")
    with contextlib.ExitStack() as stack:
        work = work_folder(stack, args.work, parser, "dote-bench-")
        result = benchmark(
            args.members,
            args.activities,
            work,
            browser=not args.no_browser,
            baseline=not args.sans_reference,
            scale=args.echelle,
            repetitions=args.repetitions,
        )
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
