"""Site search: the Pagefind index of the built site, in shards indexed side by side and cached.

Pagefind's command line indexes one page after another on one core, about 40 ms for a
member page of 30 activities: 40 s for a territory of 1,000 members. So a large site is
indexed in **shards**, by as many Pagefind processes as the build has workers:

- the *primary* bundle (``pagefind/``) indexes every page but the member pages, and holds
  Pagefind's script, WebAssembly and interface;
- each member shard (``pagefind-membres-N/``) indexes the pages of the members whose
  identifier falls in it (a stable hash: adding a member moves no other);
- the search page merges the shards into the primary (Pagefind's ``mergeIndex``): one
  query, one ranked list, the same filters. Each merged shard costs a first query its
  small entry and filter files and the index chunks of the words typed.

A shard whose pages are byte for byte those of an earlier build is copied from the cache
(``.cache/dote/``) instead of being indexed again. A small site stays one bundle.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dote.cache import content_key

#: Where the primary bundle is written, relative to the site.
PRIMARY = "pagefind"
#: The folder of member shard N, relative to the site.
SHARD = "pagefind-membres-{}"
#: From how many member pages a site is indexed in shards.
SHARDS_FROM = 200
#: The generated member pages, relative to the site.
MEMBER_PAGES = "registres"


def shard_count(members: int, workers: int) -> int:
    """How many member shards a site of ``members`` member pages gets (0: one bundle)."""
    return max(workers, 2) if members >= SHARDS_FROM and workers >= 2 else 0


def shard_of(member_id: str, shards: int) -> int:
    return zlib.crc32(member_id.encode("utf-8")) % shards


def merged_bundles(shards: int) -> list[str]:
    """The shards' folders, relative to the site, for the search page's ``mergeIndex``."""
    return [SHARD.format(n) + "/" for n in range(shards)]


@dataclass(frozen=True)
class Job:
    """One Pagefind run: the pages it indexes (a glob relative to the site) and its output."""

    output: str
    glob: str
    pages: tuple[Path, ...]


def jobs(site: Path, member_ids: Sequence[str], shards: int) -> list[Job]:
    """The Pagefind runs that index ``site``: one, or the primary and one per member shard."""
    if shards == 0:
        return [Job(PRIMARY, "**/*.{html}", tuple(sorted(site.rglob("*.html"))))]
    groups: list[list[str]] = [[] for _ in range(shards)]
    for member_id in member_ids:
        groups[shard_of(member_id, shards)].append(member_id)
    member_pages = {site / MEMBER_PAGES / member_id / "index.html" for member_id in member_ids}
    others = sorted(p for p in site.rglob("*.html") if p not in member_pages)
    # The primary: every page but the member pages, named one by one (no negation in globs).
    primary = "{" + ",".join(sorted(_glob_escape(p.relative_to(site).as_posix()) for p in others)) + "}"
    result = [Job(PRIMARY, primary, tuple(others))]
    for n, group in enumerate(groups):
        if not group:
            continue
        names = ",".join(_glob_escape(member_id) for member_id in sorted(group))
        pages = tuple(sorted(site / MEMBER_PAGES / member_id / "index.html" for member_id in group))
        result.append(Job(SHARD.format(n), f"{MEMBER_PAGES}/{{{names}}}/index.html", pages))
    return result


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]{},\\" else c for c in text)


def index(
    site: Path,
    member_ids: Sequence[str],
    shards: int,
    options: Sequence[str],
    cache_folder: Path | None,
) -> tuple[int, int]:
    """Index ``site``: each job from the cache when its pages are unchanged, or by Pagefind.

    Returns how many bundles were indexed and how many were taken from the cache. Raises
    :class:`RuntimeError` with Pagefind's last lines when a run fails.
    """
    todo = jobs(site, member_ids, shards)
    version = _pagefind_version()
    reused: list[str] = []

    def run(job: Job) -> str:
        key = content_key(version, job.output, job.glob, *options, *_page_digests(site, job.pages))
        cached = cache_folder / key if cache_folder is not None else None
        target = site / job.output
        if cached is not None and cached.is_dir():
            shutil.copytree(cached, target)
            reused.append(job.output)
            return key
        command = [sys.executable, "-m", "pagefind", "--site", str(site), "--output-path", str(target)]
        command += ["--glob", job.glob, *options, "--silent"]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError("\n".join(detail))
        if cached is not None:
            _store(target, cached)
        return key

    with ThreadPoolExecutor(max(1, min(len(todo), max(shards, 1)))) as pool:
        keys = [future.result() for future in [pool.submit(run, job) for job in todo]]
    if cache_folder is not None and cache_folder.is_dir():  # bundles of pages since changed
        for stale in cache_folder.iterdir():
            if stale.name not in keys:
                shutil.rmtree(stale, ignore_errors=True)
    return len(todo) - len(reused), len(reused)


def _page_digests(site: Path, pages: Sequence[Path]) -> list[str]:
    return [
        f"{page.relative_to(site).as_posix()}:{hashlib.sha256(page.read_bytes()).hexdigest()}"
        for page in pages
    ]


def _store(bundle: Path, cached: Path) -> None:
    """Copy a shard's bundle into the cache (a temporary folder renamed: never half a bundle)."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cached.parent))
    except OSError:
        return  # a read-only disk: the next build indexes the shard again
    try:
        shutil.copytree(bundle, staging / "bundle")
        (staging / "bundle").rename(cached)
    except OSError:
        pass  # a full disk, or another build stored it first
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pagefind_version() -> str:
    try:
        from importlib.metadata import version

        return version("pagefind")
    except Exception:  # pragma: no cover - pagefind is a dependency
        return "?"
