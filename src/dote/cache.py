"""The build cache (``.cache/dote/`` of a territory): what is expensive, kept by content.

Safe to delete at any time, never published, git-ignored by ``dote init``. Every entry is
keyed by the **content** it was computed from and by the **engine**: a fingerprint of
the package's own code, schemas, vocabularies and templates, and of the Python version
(so another version of Maison DOTE, or a changed vocabulary, never reads an old entry).
A damaged or unreadable cache is ignored and rewritten: it can make a build faster,
never different.

Five stores:

- :class:`DocumentCache` — register files once parsed and checked against their schema
  (the document's data and its problems; the positions of its values are found again
  from the file's bytes if a later check asks for them), packed by folder (one file per
  member), written only when a folder's entries changed, deleted with the folder; the
  files' statuses, by which an unchanged file of a working copy is recognised without
  being read again, and a member folder whose files are all unchanged without its pack
  being unpacked; small values kept per member folder (its checks, its resolution);
- :class:`PageCache` — HTML fragments of generated pages, by a hash of everything the
  page is rendered from;
- :class:`MemberResults` — what is computed for each member from its records (its label, its
  explorer values, its dashboard figures and records to review: :class:`MemberValues`, its part
  of the page of reviews: :class:`MemberFragments`), one file per member holding the key it was
  computed for;
- :class:`FileStore` — files published as they are (the open-data files, the label's
  badges), by a hash of their bytes, linked into the site;
- :func:`template_cache` — Jinja templates compiled to Python code (the package's, the
  territory's overrides, Material's), by the template's name, file and source, one folder
  per environment's compile options.

Writes go to a temporary file renamed into place, so an interrupted build leaves either
the old entry or the new one. Entries are compressed (LZ4 frames, see :func:`compress`): a
cache that CI keeps between runs is uploaded and downloaded whole; the file store's are the
site's own bytes, the compiled templates Jinja's own format.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import lz4.frame

from dote import __version__
from dote.files import NEW_FILE_MODE, write_atomic_bytes
from dote.load import Document, fast_parser, lazy_document
from dote.problems import Position, Problem


def compress(data: bytes) -> bytes:
    """``data`` as the cache keeps it: an LZ4 frame with a checksum of its content (a damaged
    entry is noticed). On a member page of 250 KB, a sixth of the time of zlib's fastest level
    to compress and under half of it to decompress, for 3 % more bytes (HTML repeats itself)."""
    result: bytes = lz4.frame.compress(data, content_checksum=True)
    return result


def decompress(data: bytes) -> bytes:
    """What :func:`compress` kept; ``ValueError`` if it is damaged or not such an entry."""
    try:
        result: bytes = lz4.frame.decompress(data)
    except RuntimeError as err:  # lz4's way of saying the frame is damaged
        raise ValueError(str(err)) from err
    return result


CACHE_DIR = Path(".cache") / "dote"
#: Set to 0 (or "non") to build without reading or writing the cache.
CACHE_ENV = "DOTE_CACHE"
#: The layout of the entries (see :data:`Entry`): part of the engine's fingerprint.
FORMAT = 3


@cache
def engine_fingerprint() -> str:
    """A hash of what a cached result depends on besides its content: the engine itself."""
    digest = hashlib.sha256(
        f"{__version__}\0{sys.version}\0{marshal.version}\0{FORMAT}\0{fast_parser()}".encode()
    )
    package = resources.files("dote")

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name not in ("__pycache__", "skeleton"):
                    walk(child, name + "/")
            elif child.name.endswith((".py", ".json", ".yml", ".html", ".svg", ".js", ".css")):
                digest.update(name.encode() + b"\0" + child.read_bytes() + b"\0")

    walk(package, "")
    return digest.hexdigest()[:24]


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").lower() not in ("0", "non", "no", "false")


#: The name of an engine's folder (see :func:`engine_fingerprint`). Other folders of the
#: cache (``documents/``: pandoc's outputs, which do not depend on the engine) are kept.
_ENGINE_FOLDER = re.compile(r"[0-9a-f]{24}")


def _forget_other_engines(folder: Path) -> None:
    for other in folder.parent.iterdir() if folder.parent.is_dir() else ():
        if (
            other.is_dir()
            and other.name != folder.name
            and not other.is_symlink()
            and _ENGINE_FOLDER.fullmatch(other.name)
        ):
            shutil.rmtree(other, ignore_errors=True)


def _hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


#: A pack's file name (see :func:`_pack_name`).
_PACK = re.compile(r"[0-9a-f]{32}")


@lru_cache(maxsize=1 << 14)
def _pack_name(folder: str) -> str:
    return _hash(folder.encode())[:32]


#: A cached read: whether there is a document, its data, where its value starts, its problems.
#: No other positions: they are found from the file's bytes if asked for
#: (:func:`dote.load.lazy_document`).
Entry = tuple[bool, Any, tuple[int, int] | None, tuple[tuple[Any, ...], ...]]


#: A file's status as :meth:`DocumentCache.recognise` compares it: device, inode, size,
#: modification and change times (ns), kind and mode, then the content key it was read with.
Status = tuple[int, int, int, int, int, str, str]

#: How long ago a file must have last changed for its status to be kept: well over the
#: coarsest clock of a file system in use (FAT's two seconds).
SETTLED_NS = 3_000_000_000

#: Whether a file's status says when its bytes changed: not on Windows, where the "change
#: time" is the creation time and a tool may set the modification time back.
STATUS_TRUSTED = sys.platform != "win32"

#: The folder of the statuses, among the packs (whose names are 32 hexadecimal digits); it
#: also holds the member folders read whole and the small values kept per folder, in parts
#: (see :func:`_status_part`).
_STATUSES = "etats"
#: In how many parts the statuses are kept, by folder: a warm build that read one member's
#: folder again writes a sixteenth of them (13 MB in all at 1,000 members × 30 activities).
_STATUS_PARTS = 16


@lru_cache(maxsize=1 << 14)
def _status_part(folder: str) -> str:
    """The part of the statuses that holds those of the files of ``folder``."""
    return f"{zlib.crc32(folder.encode()) % _STATUS_PARTS:02d}"


#: A member folder as a run read it whole (see :meth:`DocumentCache.recognise_folder`): its
#: files' names (the member's first), their statuses (device, inode, size, modification and
#: change times), the member's document and the problems of all its files.
FolderEntry = tuple[tuple[str, ...], tuple[tuple[int, ...], ...], Entry, tuple[tuple[Any, ...], ...]]


def _stat_key(found: os.stat_result) -> tuple[int, int, int, int, int]:
    """What of a file's status says it is unchanged: device, inode, size, modification and change times."""
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _kind_of(status: Status) -> tuple[str, bool]:
    """The kind and mode a kept status was read with (see :func:`_status`)."""
    kind, _, partial = status[5].partition("/")
    return kind, bool(partial)


def _status(found: os.stat_result, kind: str, partial: bool) -> tuple[int, int, int, int, int, str]:
    return (*_stat_key(found), kind + ("/partiel" if partial else ""))


class DocumentCache:
    """Register files parsed and schema-checked, by content (see the module's docstring)."""

    def __init__(self, root: Path | None) -> None:
        self.folder = None if root is None or not enabled() else root / CACHE_DIR / engine_fingerprint()
        self._packs: dict[str, dict[str, Any]] = {}  # files' entries, and members' values
        self._used: dict[str, set[str]] = {}
        self._changed: set[str] = set()
        #: Each file looked up or stored, by its name: its content key (a hash of its bytes,
        #: its name, kind and mode). Empty without a cache folder.
        self.keys: dict[str, str] = {}
        #: The files' statuses as the last run saw them (see :meth:`recognise`), and this run's.
        self._statuses: dict[str, Status] | None = None
        self._seen: dict[str, Status] = {}
        #: Member folders as the last run read them whole (see :meth:`recognise_folder`), and
        #: this run's; small values kept by folder (:meth:`member_value`), the last run's and this one's.
        self._folders: dict[str, FolderEntry] = {}
        self._folders_seen: dict[str, FolderEntry] = {}
        self._notes: dict[str, dict[str, Any]] = {}
        self._notes_seen: dict[str, dict[str, Any]] = {}
        #: The three, by part of the statuses' folder, as read (see :func:`_status_part`).
        self._parts: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}

    def lookup(
        self, raw: bytes, path: Path, name: str, kind: str, partial: bool
    ) -> tuple[Document | None, list[Problem]] | None:
        """The cached read of ``raw``, or ``None``."""
        if self.folder is None:
            return None
        pack_name, key = self._where(raw, name, kind, partial)
        self.keys[name] = key
        self._used.setdefault(pack_name, set()).add(key)
        entry = self._pack(pack_name).get(key)
        return document_of(entry, raw, path, name) if entry is not None else None

    def recognise(
        self,
        found: os.stat_result,
        path: Path,
        name: str,
        kind: str,
        partial: bool,
        reader: Callable[[], bytes],
    ) -> tuple[Document | None, list[Problem]] | None:
        """The cached read of the file at ``path`` recognised by its status ``found`` alone
        (device, inode, size, modification and change times: what git's index compares), as
        read in an earlier run with the same kind and mode, or ``None``: the file is to be
        read. ``reader`` gives its bytes if its positions are needed after all.

        Only statuses that had settled when they were kept are trusted (see :meth:`seen`):
        a file written again within the same tick of the file system's clock cannot look
        unchanged. A checkout elsewhere, a copy or a fresh clone (new inodes and change
        times) is read as before.
        """
        if self.folder is None or not STATUS_TRUSTED:
            return None
        kept = self._file_statuses().get(name)
        if kept is None or kept[:6] != _status(found, kind, partial):
            return None
        key = kept[6]
        pack_name = _pack_name(posixpath.dirname(name))
        entry = self._pack(pack_name).get(key)
        if entry is None:
            return None
        self.keys[name] = key
        self._used.setdefault(pack_name, set()).add(key)
        self._seen[name] = kept
        return document_of(entry, reader, path, name)

    def seen(self, found: os.stat_result | None, name: str, kind: str, partial: bool) -> None:
        """Keep the status ``found`` of the file ``name`` taken before its bytes were read
        (after :meth:`lookup` or :meth:`store`), for :meth:`recognise` in the next runs; not
        when it changed less than :data:`SETTLED_NS` ago (its next change could leave the
        same times) or without one (a link, not read)."""
        key = self.keys.get(name)
        if found is None or key is None or not STATUS_TRUSTED:
            return
        if max(found.st_mtime_ns, found.st_ctime_ns) > time.time_ns() - SETTLED_NS:
            return
        self._seen[name] = (*_status(found, kind, partial), key)

    def _forget_gone_folders(self) -> None:
        assert self.folder is not None
        with contextlib.suppress(OSError), os.scandir(self.folder / "documents") as found:
            for entry in found:
                if _PACK.fullmatch(entry.name) and entry.name not in self._used:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _file_statuses(self) -> dict[str, Status]:
        """The files' statuses the last run kept (read once, with its folders and values)."""
        if self._statuses is None:
            assert self.folder is not None
            self._statuses, self._folders, self._notes = {}, {}, {}
            with contextlib.suppress(OSError), os.scandir(self.folder / "documents" / _STATUSES) as found:
                for entry in found:
                    if not entry.name.isdigit():
                        continue  # a write that was interrupted
                    try:
                        loaded = marshal.loads(decompress(Path(entry.path).read_bytes()))
                    except (OSError, EOFError, ValueError, TypeError):
                        continue  # a damaged part: its folders are read again
                    if (
                        isinstance(loaded, tuple)
                        and len(loaded) == 3
                        and all(isinstance(p, dict) for p in loaded)
                    ):
                        self._parts[entry.name] = loaded
                        self._statuses.update(loaded[0])
                        self._folders.update(loaded[1])
                        self._notes.update(loaded[2])
        return self._statuses

    def recognise_folder(
        self, folder: str, names: tuple[str, ...], found: Iterable[os.stat_result]
    ) -> FolderEntry | None:
        """A member folder whose files (``names``, the member's file first, then its activities
        in order; ``found``, their statuses) all have the status an earlier run read them with,
        as that run kept it (:meth:`keep_folder`), or ``None``. The caller then has the folder's
        documents without reading anything, and unpacks its files' entries only if their data
        is read (:meth:`recognised_entry`): a warm build does no work per unchanged file
        beyond its status."""
        if self.folder is None or not STATUS_TRUSTED:
            return None
        self._file_statuses()  # reads the folders too
        kept = self._folders.get(folder)
        if kept is None or kept[0] != names:
            return None
        if kept[1] != tuple(_stat_key(f) for f in found):
            return None
        statuses = self._kept_statuses(names)
        if statuses is None:
            return None
        self._take(folder, names, statuses)
        self._seen.update(zip(names, statuses, strict=True))
        self._folders_seen[folder] = kept
        return kept

    def _kept_statuses(self, names: tuple[str, ...]) -> list[Status] | None:
        """The statuses kept for each of the files ``names``, or ``None`` if one has none."""
        statuses = self._file_statuses()
        found = [statuses.get(name) for name in names]
        return None if any(status is None for status in found) else found  # type: ignore[return-value]

    def _take(self, folder: str, names: tuple[str, ...], statuses: list[Status]) -> None:
        """The files of a recognised folder have the content keys their kept statuses name."""
        pack = self._used.setdefault(_pack_name(folder), set())
        for name, status in zip(names, statuses, strict=True):
            self.keys[name] = status[6]
            pack.add(status[6])

    def moved_folder(self, folder: str, names: tuple[str, ...], found: Iterable[os.stat_result]) -> bool:
        """Whether an earlier run kept the member folder ``folder`` with the files ``names``, none
        of which has the status it had (a fresh checkout, a copy): worth recognising by content
        (:meth:`recognise_folder_content`). A folder with some files unchanged was edited in
        place: its files are read one by one, the unchanged ones recognised by their statuses."""
        if self.folder is None or not STATUS_TRUSTED:
            return False
        self._file_statuses()
        kept = self._folders.get(folder)
        if kept is None or kept[0] != names:
            return False
        return not any(_stat_key(f) == k for f, k in zip(found, kept[1], strict=False))

    def recognise_folder_content(
        self, folder: str, names: tuple[str, ...], reads: Sequence[tuple[bytes, os.stat_result | None]]
    ) -> FolderEntry | None:
        """:meth:`recognise_folder` by content: a member folder whose files (``reads``: each
        one's bytes and the status taken before reading them) have the bytes an earlier run read
        them with, though not its statuses (a fresh checkout, a copy: new inodes and change
        times). Its new statuses are kept, so that the next run recognises it by them."""
        if self.folder is None:
            return None
        self._file_statuses()  # reads the folders too
        kept = self._folders.get(folder)
        if kept is None or kept[0] != names or len(reads) != len(names):
            return None
        earlier = self._kept_statuses(names)
        if earlier is None:
            return None
        for name, status, (raw, _) in zip(names, earlier, reads, strict=True):
            if self._where(raw, name, *_kind_of(status))[1] != status[6]:
                return None
        self._take(folder, names, earlier)
        for name, status, (_, found) in zip(names, earlier, reads, strict=True):
            self.seen(found, name, *_kind_of(status))
        if all(name in self._seen for name in names):  # settled: recognised by them next time
            self._folders_seen[folder] = (
                names,
                tuple(self._seen[name][:5] for name in names),
                kept[2],
                kept[3],
            )
        return kept

    def keep_folder(
        self, folder: str, names: tuple[str, ...], member: Entry, problems: Iterable[Problem]
    ) -> None:
        """Keep a member folder read whole (every file read or recognised, with a settled
        status, see :meth:`seen`), for :meth:`recognise_folder` in the next runs: the files'
        names and statuses, the member's own document (``member``, the first file) and the
        problems of all its files (the guard rails' included)."""
        if self.folder is None or not STATUS_TRUSTED:
            return
        statuses = [self._seen.get(name) for name in names]
        if any(s is None or s[6] != self.keys.get(name) for s, name in zip(statuses, names, strict=True)):
            return
        self._folders_seen[folder] = (
            names,
            tuple(s[:5] for s in statuses if s is not None),
            member,
            problem_entries(problems),
        )

    def recognised_entry(self, name: str) -> Entry | None:
        """The kept read of a file of a folder :meth:`recognise_folder` (or
        :meth:`recognise_folder_content`) recognised (unpacked
        from its folder's pack), or ``None`` if the cache lost it (it was damaged): the
        file is then to be read again."""
        key = self.keys.get(name)
        if self.folder is None or key is None:
            return None
        entry: Entry | None = self._pack(_pack_name(posixpath.dirname(name))).get(key)
        return entry

    def store(self, raw: bytes, name: str, kind: str, partial: bool, entry: Entry) -> None:
        """Keep the read of ``raw`` (see :func:`entry_of`) for the next runs."""
        if self.folder is None:
            return
        pack_name, key = self._where(raw, name, kind, partial)
        self.keys[name] = key
        self._used.setdefault(pack_name, set()).add(key)
        self._pack(pack_name)[key] = entry
        self._changed.add(pack_name)

    @staticmethod
    def _where(raw: bytes, name: str, kind: str, partial: bool) -> tuple[str, str]:
        # Packed by folder, named relative to the territory (a checkout elsewhere reuses it).
        pack_name = _pack_name(posixpath.dirname(name))
        return pack_name, _hash(raw, name.encode(), kind.encode(), b"1" if partial else b"0")

    def _pack(self, pack_name: str) -> dict[str, Any]:
        pack = self._packs.get(pack_name)
        if pack is None:
            assert self.folder is not None
            try:
                loaded = marshal.loads(decompress((self.folder / "documents" / pack_name).read_bytes()))
                pack = loaded if isinstance(loaded, dict) else {}
            except (OSError, EOFError, ValueError, TypeError):
                pack = {}
            self._packs[pack_name] = pack
        return pack

    def member_value(self, folder: str, key: str) -> Any:
        """A value kept for the files of ``folder`` (relative to the territory, as their
        names are) under ``key``, or ``None``. Kept with the statuses, not in the folder's
        pack: reading it unpacks nothing."""
        if self.folder is None:
            return None
        self._file_statuses()
        value = self._notes.get(folder, {}).get(key)
        if value is not None:
            self._notes_seen.setdefault(folder, {})[key] = value
        return value

    def keep_member_value(self, folder: str, key: str, value: Any) -> None:
        """Keep ``value`` (marshal-able, small) for the files of ``folder``, for :meth:`member_value`."""
        if self.folder is None:
            return
        self._notes_seen.setdefault(folder, {})[key] = value

    def save(self, *, whole: bool = False) -> None:
        """Write the packs that changed, keeping only the entries this run used.

        The entries of other engines (an earlier version of Maison DOTE) are removed. With
        ``whole`` (this run looked at every file of the territory), so are the packs of the
        folders it did not find, such as a removed member's.
        """
        if self.folder is None:
            return
        if whole:
            self._forget_gone_folders()
        if self._changed:
            _forget_other_engines(self.folder)
        for pack_name in self._changed:
            used = self._used.get(pack_name, set())
            pack = {k: v for k, v in self._packs[pack_name].items() if k in used}
            try:
                write_atomic_bytes(
                    self.folder / "documents" / pack_name, compress(marshal.dumps(pack)), sync=False
                )
            except OSError:
                return  # a read-only or full disk: the build goes on without its cache
        self._changed.clear()
        # A folder's values this run neither read nor kept stay as they were (another kind of
        # run, an internal one, does not use them), unless the folder is gone.
        notes = {
            folder: values
            for folder, values in self._notes.items()
            if folder not in self._notes_seen and (not whole or _pack_name(folder) in self._used)
        }
        notes.update((folder, dict(values)) for folder, values in self._notes_seen.items())
        # Written after the packs (a status never names an entry that is not there), by parts
        # of folders: a warm build writes the part of each folder it read again, not all.
        parts: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
        for name, status in self._seen.items():
            parts.setdefault(_status_part(posixpath.dirname(name)), ({}, {}, {}))[0][name] = status
        for index, found in ((1, self._folders_seen), (2, notes)):
            for folder, value in found.items():
                parts.setdefault(_status_part(folder), ({}, {}, {}))[index][folder] = value
        for part in set(parts) | set(self._parts):
            content = parts.get(part, ({}, {}, {}))
            if content == self._parts.get(part):
                continue
            with contextlib.suppress(OSError):
                write_atomic_bytes(
                    self.folder / "documents" / _STATUSES / part,
                    compress(marshal.dumps(content)),
                    sync=False,
                )
        self._parts = parts
        self._statuses = dict(self._seen)
        self._folders = dict(self._folders_seen)
        self._notes = notes


def problem_entries(problems: Iterable[Problem]) -> tuple[tuple[Any, ...], ...]:
    """Problems as plain values (marshal-able), as the cache keeps them."""
    return tuple(
        (p.position.file, p.position.line, p.position.column, p.message, p.hint, p.severity) for p in problems
    )


def problems_of(entries: Iterable[tuple[Any, ...]]) -> list[Problem]:
    """The problems :func:`problem_entries` kept, back."""
    return [Problem(Position(*where), message, hint, severity) for *where, message, hint, severity in entries]


def entry_of(doc: Document | None, problems: list[Problem]) -> Entry:
    """What is kept of a read (marshal-able: the cache, and what worker processes send back)."""
    found = problem_entries(problems)
    if doc is None:
        return (False, None, None, found)
    return (True, doc.data, doc.values.get((), (1, 1)), found)


def document_of(
    entry: Entry, raw: bytes | Callable[[], bytes], path: Path, name: str
) -> tuple[Document | None, list[Problem]]:
    """The read kept by :func:`entry_of`, back; ``raw``, the file's bytes (or what reads them),
    gives its positions."""
    exists, data, root, found = entry
    problems = problems_of(found)
    if not exists:
        return None, problems
    return lazy_document(path, name, data, raw, root), problems


class PageCache:
    """HTML fragments of generated pages, by a hash of what each is rendered from."""

    def __init__(self, root: Path | None) -> None:
        self.folder = (
            None if root is None or not enabled() else root / CACHE_DIR / engine_fingerprint() / "pages"
        )
        self._used: set[str] = set()

    def get(self, key: str) -> str | None:
        data = self.get_data(key)
        try:
            return data.decode("utf-8") if data is not None else None
        except UnicodeDecodeError:
            return None

    def get_data(self, key: str) -> bytes | None:
        """The bytes :meth:`put_data` kept (``None`` if absent or damaged)."""
        data = self.get_bytes(key)
        try:
            return decompress(data) if data is not None else None
        except ValueError:
            return None

    def has(self, key: str) -> bool:
        """Whether there is an entry for ``key`` (it may still be damaged)."""
        if self.folder is None:
            return False
        self._used.add(key)
        return (self.folder / key[:2] / key).is_file()

    def get_bytes(self, key: str) -> bytes | None:
        """The entry's bytes as :meth:`put_bytes` kept them (not checked)."""
        if self.folder is None:
            return None
        self._used.add(key)
        try:
            return (self.folder / key[:2] / key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, html: str) -> None:
        self.put_data(key, html.encode("utf-8"))

    def put_data(self, key: str, data: bytes) -> None:
        """Keep ``data`` compressed (see :meth:`get_data`)."""
        self.put_bytes(key, compress(data))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Keep bytes as they are (a page already compressed by its maker: the plugin's _pack)."""
        if self.folder is None:
            return
        self._used.add(key)
        with contextlib.suppress(OSError):
            write_atomic_bytes(self.folder / key[:2] / key, data, sync=False)

    def prune(self) -> None:
        """Remove the pages this build did not use (an older version of a changed page)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.glob("*/*"):
            if path.name not in self._used:
                path.unlink(missing_ok=True)


class MemberResults:
    """Values computed for each member (marshal-able), one file per member with its key.

    A member's entry is read back only under the same key; a build writes the entries of
    the members it computed, and :meth:`prune` removes those of members no longer there.
    """

    def __init__(self, root: Path | None, kind: str) -> None:
        self.folder = (
            None if root is None or not enabled() else root / CACHE_DIR / engine_fingerprint() / kind
        )

    def get(self, member_id: str, key: str) -> Any:
        """The value kept for ``member_id`` under ``key``, or ``None``."""
        if self.folder is None:
            return None
        try:
            kept = marshal.loads(decompress((self.folder / member_id).read_bytes()))
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == key:
            return kept[1]
        return None

    def put(self, member_id: str, key: str, value: Any) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(OSError, ValueError):  # ValueError: not marshal-able
            write_atomic_bytes(self.folder / member_id, compress(marshal.dumps((key, value))), sync=False)

    def prune(self, members: set[str]) -> None:
        """Remove the entries of members not in ``members``."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name not in members:
                path.unlink(missing_ok=True)


class MemberValues:
    """Values computed for each member, kept between builds in a :class:`MemberResults` store
    under the member's key (``keys``: what the value is made of, see
    :func:`dote.pipeline.member_key`) and ``part`` (what else it depends on)."""

    def __init__(self, root: Path | None, kind: str, keys: Mapping[str, str]) -> None:
        self._results = MemberResults(root, kind)
        self._keys = keys

    def get(self, member_id: str, part: str = "") -> Any:
        """The value kept for ``member_id`` and ``part``, or ``None``."""
        key = self._keys.get(member_id)
        return self._results.get(member_id, content_key(key, part)) if key is not None else None

    def put(self, member_id: str, value: Any, part: str = "") -> None:
        key = self._keys.get(member_id)
        if key is not None:
            self._results.put(member_id, content_key(key, part), value)

    def prune(self) -> None:
        """Remove the values of members no longer there."""
        self._results.prune(set(self._keys))


class MemberFragments:
    """Each member's part of a page about every member (its HTML), kept between builds in a
    :class:`MemberValues` store, under the member's key and the page's address."""

    def __init__(self, root: Path | None, kind: str, keys: Mapping[str, str]) -> None:
        self._values = MemberValues(root, kind, keys)

    def get(self, member_id: str, url: str) -> str | None:
        found = self._values.get(member_id, url)
        return found if isinstance(found, str) else None

    def put(self, member_id: str, url: str, html: str) -> None:
        self._values.put(member_id, html, url)

    def prune(self) -> None:
        """Remove the parts of members no longer there."""
        self._values.prune()


class FileStore:
    """Files of the site kept by their content (the open-data files; the badges, in a store of
    their own): a build writes each file here as soon as it is made, instead of holding it
    until MkDocs writes the site, and the site's file is a hard link to it. An unchanged file
    is not written again.

    Unlike the other stores, its entries are what is published byte for byte: an entry
    is only reused when its name (a hash of the bytes) and its size match.
    """

    def __init__(self, root: Path | None, kind: str) -> None:
        self.folder = (
            None if root is None or not enabled() else root / CACHE_DIR / engine_fingerprint() / kind
        )
        self._used: set[str] = set()

    def put(self, data: bytes) -> Path | None:
        """The entry holding ``data`` (written if needed), or ``None`` without a cache."""
        if self.folder is None:
            return None
        name = _store_name(hashlib.sha256(data).hexdigest())
        path = self.folder / name
        self._used.add(name)
        try:
            if os.stat(path).st_size == len(data):
                return path
        except OSError:
            pass
        try:
            write_atomic_bytes(path, data, sync=False)
        except OSError:
            return None
        return path

    def used(self) -> set[str]:
        """The entries this build used so far (what :meth:`prune` keeps)."""
        return set(self._used)

    def adopt(self, used: set[str]) -> None:
        """Count as used the entries that another process of this build used (a forked one)."""
        self._used |= used

    def writer(self) -> StoreWriter | None:
        """A new entry written piece by piece (``None`` without a cache)."""
        if self.folder is None:
            return None
        try:
            return StoreWriter(self)
        except OSError:
            return None

    def prune(self) -> None:
        """Remove the entries this build did not use (and temporary files left by a crash)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name not in self._used:
                path.unlink(missing_ok=True)


def _store_name(hexdigest: str) -> str:
    """A file-store entry's name: the SHA-256 of its bytes, shortened (SHA-256 rather than
    BLAKE2: OpenSSL's is nearly three times faster here, and a build hashes hundreds of
    megabytes of open-data files)."""
    return hexdigest[:40]


class StoreWriter:
    """An entry of a :class:`FileStore` written piece by piece (a territory's data file of
    hundreds of megabytes is never held whole in memory): into a temporary file of the
    store, hashed as it goes, then named by its hash."""

    def __init__(self, store: FileStore) -> None:
        assert store.folder is not None
        self.store = store
        store.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".ecriture-", dir=store.folder)
        self.temporary = Path(temporary)
        self.out = os.fdopen(handle, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)

    def discard(self) -> None:
        """Give up the entry (an error while it was written): its temporary file is removed."""
        with contextlib.suppress(OSError):
            self.out.close()
        self.temporary.unlink(missing_ok=True)

    def close(self) -> tuple[Path, int]:
        """The entry's path and size (an entry of the same bytes already there is kept)."""
        assert self.store.folder is not None
        self.out.close()
        name = _store_name(self.hash.hexdigest())
        path = self.store.folder / name
        self.store._used.add(name)
        try:
            if os.stat(path).st_size == self.size:
                self.temporary.unlink()
                return path, self.size
        except OSError:
            pass
        os.chmod(self.temporary, NEW_FILE_MODE)
        os.replace(self.temporary, path)
        return path, self.size


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache of compiled templates, which ignores a damaged or unwritable entry
    (the template is then compiled, as without a cache)."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # any damage (a pickle or marshal error): compile again
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def template_cache(root: Path | None, env: jinja2.Environment, name: str) -> jinja2.BytecodeCache | None:
    """A cache of ``env``'s compiled templates in the territory's build cache (``None``
    without one). Jinja keys an entry by the template's name, file and source (and the Python
    version); what else shapes the compiled code (the environment's syntax, extensions and the
    names of its filters and tests, which the compiler checks) names the folder, so two
    environments never share an entry. An environment choosing autoescaping by template name
    gets no cache (its choice is code, not a value that could name the folder)."""
    if root is None or not enabled() or not isinstance(env.autoescape, bool):
        return None
    try:
        jinja_version = metadata.version("jinja2")
    except metadata.PackageNotFoundError:
        jinja_version = ""
    options = "\0".join(
        [
            jinja_version,
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            str(env.line_statement_prefix),
            str(env.line_comment_prefix),
            env.newline_sequence,
            repr((env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline, env.optimized)),
            repr(env.autoescape),
            *sorted(env.extensions),
            "\1".join(sorted(env.filters)),
            "\1".join(sorted(env.tests)),
        ]
    )
    folder = root / CACHE_DIR / engine_fingerprint() / "gabarits" / f"{name}-{_hash(options.encode())[:16]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(folder))


def content_key(*parts: str | bytes) -> str:
    """A cache key for the given parts (texts or bytes), in order."""
    return _hash(*(p.encode("utf-8") if isinstance(p, str) else p for p in parts))
