"""Validation of a territory: files found, read, checked against the schemas, cross-checked.

Nothing here raises on bad input: every mistake becomes a :class:`Problem` and the
checks go on with the other files, so an editor sees every problem in one run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gc
import marshal
import posixpath
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dote import algorithms, workers
from dote.cache import DocumentCache, Entry, document_of, entry_of, problem_entries, problems_of
from dote.confidential import check_public, check_withheld, published_fields
from dote.label import DateWindow, check_policy, held
from dote.layout import LABEL_FILE, MEMBER_FILE, REGISTERS, SourceFiles, Sources, file_names, find_sources
from dote.load import (
    Document,
    DocumentsOnDemand,
    folder_of,
    folder_statuses,
    forget_folders,
    load_bytes,
    read_source_with_status,
    reader_of,
    unchanged_status,
)
from dote.model import ModelRef, add_duration, duration_in_words
from dote.problems import Position, Problem, relative_name
from dote.schema import validate_document
from dote.vocabulary import in_sentence, load_vocabularies, slugify

__all__ = [
    "LABEL_FILE",
    "MEMBER_FILE",
    "REGISTERS",
    "Sources",
    "check_legal_bases",
    "check_members",
    "check_model_bases",
    "check_processor_transfers",
    "check_references",
    "check_shared_references",
    "read_sources",
]


def read_sources(
    root: Path, *, cache: DocumentCache | None = None, save: bool = True
) -> tuple[Sources, list[Problem]]:
    """Read and schema-check every register file of the territory at ``root``.

    :func:`dote.layout.find_sources` says which files there are; each is read once, checked
    against the guard rails (nothing confidential, nothing a member chose not to publish)
    and its schema. ``cache`` keeps parsed and checked files by content between runs;
    on a large territory, the files the cache does not hold are parsed and checked by
    worker processes (:mod:`dote.workers`). ``save=False`` leaves writing the cache to the
    caller (:meth:`DocumentCache.save`), which may keep more with the files (:func:`check_members`).

    The garbage collector does not run meanwhile (what is read holds no reference cycle:
    on a large territory it would walk the growing documents again and again), and what
    is alive at the end is frozen (:func:`gc.freeze`): the documents last as long as the
    build, later collections and the forked workers need not walk them. It goes back to
    the collector at the next read.
    """
    gc.unfreeze()
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_sources(root, cache, save)
    finally:
        if collecting:
            gc.enable()
        gc.freeze()


def _read_sources(root: Path, cache: DocumentCache | None, save: bool) -> tuple[Sources, list[Problem]]:
    forget_folders()
    files, problems = find_sources(root)
    if files is None:
        return Sources(root), problems
    store = cache or DocumentCache(None)
    parsing = _Parsing(store, files.count())
    try:
        return _read_files(root, files, store, parsing, save, problems)
    finally:
        parsing.close()


def _read_files(
    root: Path,
    files: SourceFiles,
    store: DocumentCache,
    parsing: _Parsing,
    save: bool,
    problems: list[Problem],
) -> tuple[Sources, list[Problem]]:
    """The files of ``files`` read, parsed (by ``parsing``) and checked, in order: the member
    files first, for which fields an activity may publish depends on its member's."""

    def read(path: Path, kind: str, chosen: frozenset[str] | None = None) -> _Read:
        name = relative_name(path, root)
        partial = chosen is not None
        if store.folder is not None and (status := unchanged_status(path, within=root)) is not None:
            known = store.recognise(status, path, name, kind, partial, reader_of(path, name, root))
            if known is not None:  # unchanged since the last run: not read again
                return _Read(path, name, kind, chosen, None, known)
        raw, refused, status = read_source_with_status(path, name, within=root)
        problems.extend(refused)
        job = _Read(path, name, kind, chosen, raw)
        if raw is not None:
            job.found = store.lookup(raw, path, name, kind, partial)
            store.seen(status, name, kind, partial)
            if job.found is None:
                parsing.add(job)
        return job

    def finish(job: _Read) -> Document | None:
        assert job.found is not None or job.raw is None
        if job.found is None:
            return None
        doc, found = job.found
        job.problems.extend(found)
        if doc is not None:
            # Guard rails: nothing confidential here, nor what a member chose not to publish.
            job.problems.extend(check_public(doc, job.kind))
            job.problems.extend(check_withheld(doc, job.chosen))
        problems.extend(job.problems)
        return None if doc is None or any(p.is_error for p in found) else doc

    # Member files first: which fields an activity may publish depends on its member's. A
    # member folder whose files all have the status an earlier run kept is taken whole.
    maison_read = read(files.maison, "maison") if files.maison else None
    parsing.complete()
    maison = finish(maison_read) if maison_read is not None else None
    recognised = {
        member_id: found
        for member_id, path in files.members.items()
        if path is not None and (found := _recognise_folder(store, root, path, files.activities[member_id]))
    }
    member_reads = {
        i: read(p, "membre") for i, p in files.members.items() if p is not None and i not in recognised
    }
    parsing.complete()
    members = {}
    for member_id, path in files.members.items():
        member: Document | None = None
        if member_id in recognised:
            member = recognised[member_id].member
            problems.extend(recognised[member_id].problems)
        elif path is not None:
            member = finish(member_reads[member_id])
        if member is not None:
            members[member_id] = member
    chosen = {member_id: published_fields(doc.data) for member_id, doc in members.items()}
    activity_reads = {
        member_id: {
            activity_id: read(path, "activite", chosen.get(member_id))
            for activity_id, path in files.activities[member_id].items()
        }
        for member_id in files.members
        if member_id not in recognised
    }
    model_reads = {i: read(p, "modele") for i, p in files.models.items()}
    archive_reads = {ref: read(p, "modele") for ref, p in files.archives.items()}  # as public as its model
    processor_reads = {i: read(p, "sous-traitant") for i, p in files.processors.items()}
    label_read = read(files.label, "label") if files.label else None
    parsing.complete()

    activities: dict[str, Mapping[str, Document]] = {}
    for member_id in files.members:
        if member_id in recognised:
            activities[member_id] = recognised[member_id].activities
            continue
        jobs = activity_reads[member_id]
        activities[member_id] = {i: doc for i, job in jobs.items() if (doc := finish(job)) is not None}
        member_job = member_reads.get(member_id)
        if member_job is not None and member_id in members:
            _keep_folder(store, members[member_id], [member_job, *jobs.values()])
    models = {i: doc for i, job in model_reads.items() if (doc := finish(job)) is not None}
    archives = {}
    for (model_id, version), job in archive_reads.items():
        doc = finish(job)
        if doc is None:
            continue
        if doc.data.get("version") != version:
            problems.append(
                Problem(
                    doc.position(("version",)),
                    f"l'archive {job.path.stem} doit porter « version: {version} »",
                )
            )
        elif model_id not in models:
            problems.append(
                Problem(Position(doc.name), f"archive d'un modèle « {model_id} » qui n'existe plus")
            )
        else:
            archives[model_id, version] = doc
    processors = {i: doc for i, job in processor_reads.items() if (doc := finish(job)) is not None}
    label = finish(label_read) if label_read is not None else None
    if save:
        store.save()
    return Sources(root, maison, members, activities, models, processors, label, archives), problems


@dataclass
class _Read:
    """One register file to read: its bytes, and once parsed and checked, its document."""

    path: Path
    name: str
    kind: str
    chosen: frozenset[str] | None
    raw: bytes | None
    found: tuple[Document | None, list[Problem]] | None = None
    #: Its problems once finished (the schema's and the guard rails').
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Recognised:
    """A member folder the cache recognised whole: its member's document, its activities'
    (made when first read), the problems of all its files."""

    member: Document
    activities: DocumentsOnDemand
    problems: list[Problem]


def _recognise_folder(
    store: DocumentCache, root: Path, member_path: Path, activity_paths: Mapping[str, Path]
) -> _Recognised | None:
    """The member folder of ``member_path`` as an earlier run read it, if none of its files
    changed since (by their statuses, see :meth:`DocumentCache.recognise_folder`, else by their
    bytes, :meth:`DocumentCache.recognise_folder_content`); else ``None``."""
    if store.folder is None:
        return None
    folder = member_path.parent
    filenames = (member_path.name, *file_names(activity_paths).values())
    found = folder_statuses(folder, filenames, within=root)
    if found is None:
        return None
    prefix = relative_name(folder, root)
    names = tuple(f"{prefix}/{filename}" for filename in filenames)
    kept = store.recognise_folder(prefix, names, found)
    member_bytes: bytes | Callable[[], bytes] = reader_of(member_path, names[0], root)
    if kept is None and store.moved_folder(prefix, names, found):
        # Other statuses (a fresh checkout): the same bytes are enough, its pack stays packed.
        paths = (member_path, *activity_paths.values())
        reads = [
            read_source_with_status(path, name, within=root) for path, name in zip(paths, names, strict=True)
        ]
        if any(raw is None or status is None for raw, _, status in reads):
            return None  # unreadable, or a link: read file by file, as a first read would
        kept = store.recognise_folder_content(
            prefix, names, [(raw, status) for raw, _, status in reads if raw]
        )
        member_bytes = reads[0][0] or b""
    if kept is None:
        return None
    _, _, entry, found_problems = kept
    member, _ = document_of(entry, member_bytes, member_path, names[0])
    if member is None:
        return None
    activity_names = dict(zip(activity_paths, names[1:], strict=True))
    chosen = published_fields(member.data) is not None

    def make() -> dict[str, Document]:
        docs = {}
        for activity_id, path in activity_paths.items():
            name = activity_names[activity_id]
            entry = store.recognised_entry(name)
            if entry is not None:
                doc, _ = document_of(entry, reader_of(path, name, root), path, name)
            else:  # the cache lost it: read and checked again, as a first read would
                raw = read_source_with_status(path, name, within=root)[0]
                doc = _parse_and_check(raw, path, name, "activite", chosen)[0] if raw is not None else None
            if doc is not None:
                docs[activity_id] = doc
        return docs

    return _Recognised(member, DocumentsOnDemand(activity_names, make), problems_of(found_problems))


def _keep_folder(store: DocumentCache, member: Document, jobs: list[_Read]) -> None:
    """Keep a member folder read whole without an error (its member's file first), for
    :func:`_recognise_folder` in the next runs."""
    if any(job.found is None or any(p.is_error for p in job.problems) for job in jobs):
        return
    store.keep_folder(
        posixpath.dirname(jobs[0].name),
        tuple(job.name for job in jobs),
        entry_of(member, []),
        [p for job in jobs for p in job.problems],
    )


def _parse_and_check(
    raw: bytes, path: Path, name: str, kind: str, chosen: bool
) -> tuple[Document | None, list[Problem]]:
    """Parse a register file and check it against its schema (in a worker, or not)."""
    doc, found = load_bytes(raw, path, name)
    if doc is not None:
        extends = isinstance(doc.data, dict) and "modele" in doc.data
        found += validate_document(doc, kind, partial=extends or chosen)
    return doc, found


#: From how many register files parsing them in worker processes is worth forking them.
PARALLEL_FROM = 400
#: How many files a worker is sent at once (with their bytes), and sends back parsed.
PARSE_BATCH = 64


def _parse_batch(batch: list[tuple[bytes, str, str, str, bool]]) -> list[bytes]:
    """In a worker process: each file of ``batch`` parsed and checked, as :func:`entry_of`
    keeps it, marshalled (the parent has the file's bytes, which give its positions)."""
    return [
        marshal.dumps(entry_of(*_parse_and_check(raw, Path(path), name, kind, chosen)))
        for raw, path, name, kind, chosen in batch
    ]


class _Parsing:
    """The files the cache did not hold, parsed and checked.

    On a large territory (``files`` at least :data:`PARALLEL_FROM`, and workers available),
    they go by batches to worker processes as this process reads them, and what the workers
    sent back is taken while the next files are read: reading, parsing and keeping overlap
    on the cores. The workers are forked at the first full batch (a warm build, with few
    files to parse, forks none and parses them here), and stopped by :meth:`close`.
    """

    def __init__(self, store: DocumentCache, files: int) -> None:
        self.store = store
        self.parallel = files >= PARALLEL_FROM and workers.available()
        self.pool: ProcessPoolExecutor | None = None
        self.batch: list[_Read] = []
        self.sent: deque[tuple[list[_Read], Future[list[bytes]]]] = deque()

    def add(self, job: _Read) -> None:
        """Parse ``job`` (read, and not in the cache): now, or when :meth:`complete` is called."""
        self.batch.append(job)
        if self.parallel and len(self.batch) >= PARSE_BATCH:
            self._send()
        self._take(wait=False)

    def complete(self) -> None:
        """Every file added is parsed, checked and kept in the cache."""
        if self.batch and self.pool is not None:
            self._send()
        self._take(wait=True)
        for job in self.batch:  # few files, or no workers: here
            assert job.raw is not None
            chosen = job.chosen is not None
            job.found = _parse_and_check(job.raw, job.path, job.name, job.kind, chosen)
            self.store.store(job.raw, job.name, job.kind, chosen, entry_of(*job.found))
        self.batch = []

    def close(self) -> None:
        """Stop the workers, if any were forked."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _send(self) -> None:
        if self.pool is None:
            self.pool = workers.pool()
        batch, self.batch = self.batch, []
        sent = [(job.raw or b"", str(job.path), job.name, job.kind, job.chosen is not None) for job in batch]
        self.sent.append((batch, self.pool.submit(_parse_batch, sent)))

    def _take(self, *, wait: bool) -> None:
        """Keep what the workers sent back, in the order sent: all of it with ``wait``, else
        the batches already done."""
        while self.sent and (wait or self.sent[0][1].done()):
            batch, future = self.sent.popleft()
            for job, data in zip(batch, future.result(), strict=True):
                assert job.raw is not None
                entry: Entry = marshal.loads(data)
                self.store.store(job.raw, job.name, job.kind, job.chosen is not None, entry)
                job.found = document_of(entry, job.raw, job.path, job.name)


def check_references(sources: Sources, today: dt.date) -> list[Problem]:
    """Cross-file checks: references exist, dates are in order, names are not duplicated."""
    problems = check_shared_references(sources, today)
    members = set(sources.activities)
    slugs: dict[str, str] = {}
    for docs in sources.activities.values():
        problems.extend(check_member_references(docs, sources, members, today, slugs))
    return problems


def check_members(
    read: Sources,
    resolved: Sources,
    today: dt.date,
    kept: DocumentCache | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[Problem]:
    """The checks of each member's activities: :func:`check_member_references` on them as
    ``read``, :func:`member_basis_problems` and :func:`member_transfer_problems` once
    ``resolved`` (the checks of the shared files are :func:`check_shared_references` and
    :func:`check_model_bases`).

    With ``kept`` (the cache the files were read with) and ``keys`` (each member's key: its
    files and the shared files, see :func:`dote.pipeline.member_key`), a member's problems
    are kept with its files, with the days on which they stay the same (dote.label.DateWindow:
    until a date it states is no longer in the future, or an authorisation expires), and read
    back while its key is the same and the date within those days: a warm build, or one of
    another day, checks the members that changed only.
    """
    problems: list[Problem] = []
    members = set(read.activities)
    leaving = processors_leaving(resolved)
    slugs: dict[str, str] = {}
    store = kept if kept is not None and keys is not None else DocumentCache(None)  # keeps nothing
    for member_id, docs in read.activities.items():
        key = keys.get(member_id) if keys is not None and docs else None
        folder = folder_of(docs) if key is not None else ""
        kept_value = held(store.member_value(folder, _CHECKS + key), today) if key is not None else None
        if kept_value is not None:
            problems.extend(problems_of(kept_value[2]))
            continue
        done = resolved.activities.get(member_id, {})
        window = DateWindow(today)
        found = check_member_references(docs, read, members, today, slugs, window)
        found += member_basis_problems(resolved, member_id, done)
        found += member_transfer_problems(done, leaving)
        found += algorithms.member_problems(resolved, member_id, done)  # CRPA art. L311-3-1, L312-1-3
        if key is not None:
            store.keep_member_value(folder, _CHECKS + key, window.kept(problem_entries(found)))
        problems.extend(found)
    return problems


#: What a member's checks are kept under, with its files (followed by its key), with the days
#: on which they hold.
_CHECKS = "verifications-fenetre:"


def check_shared_references(sources: Sources, today: dt.date) -> list[Problem]:
    """The cross-file checks of the files every member shares: members' own files,
    processors, models and the label policy (see :func:`check_references`)."""
    problems: list[Problem] = []
    vocab = load_vocabularies()
    members = set(sources.activities)
    for member_id, doc in sources.members.items():
        parent = doc.data.get("rattachement")
        if parent == member_id:
            problems.append(
                Problem(
                    doc.position(("rattachement",)),
                    "un membre ne peut pas être rattaché à lui-même",
                    "indiquez l'identifiant d'un autre membre, ou retirez « rattachement »",
                )
            )
        elif parent is not None and parent not in members:
            problems.append(_unknown(doc, ("rattachement",), "membre", parent, members - {member_id}))
    for doc in sources.processors.values():
        member = doc.data.get("membre")
        if member is not None and member not in members:
            problems.append(_unknown(doc, ("membre",), "membre", member, members))
        problems.extend(_transfer_warnings(doc, vocab))
    for doc in sources.models.values():
        problems.extend(_model_reference(doc, sources.models))
        problems.extend(_processor_references(doc, sources))
        problems.extend(_retention_problems(doc, vocab))
        problems.extend(_authorisation_problems(doc, DateWindow(today)))
    if sources.label is not None:
        problems.extend(check_policy(sources.label))
    return problems


def check_member_references(
    docs: Mapping[str, Document],
    sources: Sources,
    members: set[str],
    today: dt.date,
    slugs: dict[str, str] | None = None,
    window: DateWindow | None = None,
) -> list[Problem]:
    """The cross-file checks of one member's activities (``docs``, as read): what they name
    exists (processors, models, the members they serve), their dates and durations, their
    names are not duplicated. They depend on the member's files, on the shared files
    (``members`` is the set of member ids) and on ``today`` only. ``slugs``: names already
    made into slugs, shared between calls. ``window`` (made for ``today``) is narrowed to
    the days on which they stay the same."""
    window = window if window is not None else DateWindow(today)
    problems: list[Problem] = []
    vocab = load_vocabularies()
    slugs = {} if slugs is None else slugs  # activity names recur from member to member
    names: dict[str, str] = {}
    for activity_id, doc in docs.items():
        data = doc.data
        problems.extend(_processor_references(doc, sources))
        problems.extend(_model_reference(doc, sources.models))
        problems.extend(_controllers_served(doc, members))
        problems.extend(_date_problems(doc, window))
        problems.extend(_retention_problems(doc, vocab))
        problems.extend(_authorisation_problems(doc, window))
        problems.extend(_transfer_warnings(doc, vocab))
        name = str(data.get("nom", ""))
        key = slugs.get(name)
        if key is None:
            key = slugs[name] = slugify(name)
        if key in names:
            problems.append(
                Problem(
                    doc.position(("nom",)),
                    f"deux activités du membre portent le même nom (voir « {names[key]}.yml »)",
                    "un habitant ne pourrait pas les distinguer",
                    "avertissement",
                )
            )
        names.setdefault(key, activity_id)
    return problems


def check_processor_transfers(sources: Sources) -> list[Problem]:
    """An activity that says « transferts: aucun » while a processor of it works outside the EEA."""
    leaving = processors_leaving(sources)
    problems = []
    for docs in sources.activities.values():
        problems.extend(member_transfer_problems(docs, leaving))
    return problems


def processors_leaving(sources: Sources) -> dict[str, list[str]]:
    """The processors that host or send data outside the EEA, with those countries' names."""
    vocab = load_vocabularies()["pays"]
    leaving: dict[str, list[str]] = {}
    for pid, doc in sources.processors.items():
        places = [h.get("pays") for h in doc.data.get("hebergement") or ()]
        transfers = doc.data.get("transferts")
        places += [t.get("pays") for t in transfers] if isinstance(transfers, list) else []
        outside = [vocab[c].label for c in places if c in vocab and vocab[c].attr("zone") == "pays-tiers"]
        if outside:
            leaving[pid] = sorted(set(outside))
    return leaving


def member_transfer_problems(docs: Mapping[str, Document], leaving: Mapping[str, list[str]]) -> list[Problem]:
    """:func:`check_processor_transfers` for one member's activities (``leaving``: see
    :func:`processors_leaving`)."""
    problems = []
    for doc in docs.values():
        if doc.data.get("transferts") != "aucun":
            continue
        for pid in (doc.data.get("destinataires") or {}).get("sous_traitants") or ():
            if pid in leaving:
                problems.append(
                    Problem(
                        doc.position(("transferts",)),
                        f"« transferts: aucun », mais le sous-traitant « {pid} » traite des données "
                        f"hors de l'Espace économique européen ({', '.join(leaving[pid])})",
                        "décrivez ce transfert et sa garantie dans « transferts »",
                        "avertissement",
                    )
                )
    return problems


def _controllers_served(doc: Document, members: set[str]) -> list[Problem]:
    """Art. 30(2): a processing done as a processor names the controllers it serves."""
    served = doc.data.get("pour_le_compte_de") or []
    problems = [
        _unknown(doc, ("pour_le_compte_de", i), "membre", ref, members)
        for i, ref in enumerate(served)
        if isinstance(ref, str) and ref not in members
    ]
    role = doc.data.get("role", "responsable")
    if role == "sous-traitant" and not served and "modele" not in doc.data:
        problems.append(
            Problem(
                doc.position(("role",)),
                "activité menée comme sous-traitant sans « pour_le_compte_de »",
                "nommez chaque responsable de traitement servi (RGPD, art. 30(2)(a))",
                "avertissement",
            )
        )
    elif served and role != "sous-traitant":
        problems.append(
            Problem(
                doc.key_position(("pour_le_compte_de",)),
                "« pour_le_compte_de » ne vaut que pour une activité menée comme sous-traitant",
                "écrivez « role: sous-traitant », ou retirez ce champ",
                "avertissement",
            )
        )
    return problems


def _processor_references(doc: Document, sources: Sources) -> list[Problem]:
    refs = (doc.data.get("destinataires") or {}).get("sous_traitants") or ()
    return [
        _unknown(doc, ("destinataires", "sous_traitants", i), "sous-traitant", ref, set(sources.processors))
        for i, ref in enumerate(refs)
        if ref not in sources.processors
    ]


def _unknown(doc: Document, path: tuple[Any, ...], what: str, ref: str, known: set[str]) -> Problem:
    close = difflib.get_close_matches(str(ref), sorted(known), n=3, cutoff=0.5)
    folder = {
        "membre": "registers/members/",
        "sous-traitant": "registers/processors/",
        "modèle": "registers/models/",
    }[what]
    hint = (
        ("identifiants proches : " + ", ".join(close)) if close else f"aucun fichier de ce nom dans {folder}"
    )
    return Problem(doc.position(path), f"{what} « {ref} » inconnu", hint)


def _model_reference(doc: Document, models: Mapping[str, Document]) -> list[Problem]:
    text = doc.data.get("modele")
    if text is None:
        return []
    ref = ModelRef.parse(text)
    if ref.id not in models:
        return [_unknown(doc, ("modele",), "modèle", ref.id, set(models))]
    return []


_PAST_DATES = (("creation", "création"), ("mise_a_jour", "mise à jour"), ("revue", "revue"))


def _date_problems(doc: Document, window: DateWindow) -> list[Problem]:
    """Dates stated in the future, or out of order; each comparison with the reference date
    narrows ``window``."""
    future = window.after
    dates = doc.data.get("dates") or {}
    parsed = {
        k: dt.date.fromisoformat(v) for k, v in dates.items() if isinstance(v, str) and not k.startswith("x_")
    }
    problems = []
    for key, label in _PAST_DATES:
        if key in parsed and future(parsed[key]):
            problems.append(
                Problem(
                    doc.position(("dates", key)), f"date de {label} {parsed[key].isoformat()} dans le futur"
                )
            )
    order = (
        ("creation", "mise_a_jour", "la mise à jour précède la création"),
        ("creation", "revue", "la revue précède la création"),
        ("revue", "prochaine_revue", "la prochaine revue précède la dernière revue"),
    )
    for first, second, message in order:
        if first in parsed and second in parsed and parsed[second] < parsed[first]:
            problems.append(
                Problem(
                    doc.position(("dates", second)),
                    f"dates dans le désordre : {message} "
                    f"({parsed[second].isoformat()} < {parsed[first].isoformat()})",
                )
            )
    dpia = doc.data.get("aipd") or {}
    if (
        isinstance(dpia.get("date"), str)
        and dpia.get("statut") == "realisee"
        and future(dt.date.fromisoformat(dpia["date"]))
    ):
        problems.append(Problem(doc.position(("aipd", "date")), "AIPD « réalisée » à une date future"))
    return problems


def _retention_problems(doc: Document, vocab: Any) -> list[Problem]:
    """A retention is one duration (or criteria) or phases, never both; each phase once, in order."""
    problems = []
    order = list(vocab["phases-conservation"].terms)
    for i, category in enumerate(doc.data.get("categories_donnees") or ()):
        retention = category.get("conservation") if isinstance(category, Mapping) else None
        if not isinstance(retention, Mapping) or not isinstance(retention.get("phases"), list):
            continue
        at = ("categories_donnees", i, "conservation")
        for key in (k for k in ("duree", "criteres", "depart") if k in retention):
            problems.append(
                Problem(
                    doc.key_position((*at, key)),
                    f"conservation décrite à la fois par « {key} » et par des phases (« phases »)",
                    "gardez une seule forme : les phases (base active, puis archivage intermédiaire) "
                    "remplacent la durée unique, et chaque phase a son point de départ ; "
                    f"retirez « {key} » ou « phases »",
                )
            )
        seen: list[str] = []
        for j, phase in enumerate(retention["phases"]):
            code = str(phase.get("phase")) if isinstance(phase, Mapping) else ""
            if code not in order:
                continue  # the schema reports an unknown or missing phase
            label = vocab["phases-conservation"][code].label.lower()
            if code in seen:
                problems.append(
                    Problem(
                        doc.position((*at, "phases", j, "phase")),
                        f"la phase « {label} » apparaît deux fois",
                        "décrivez chaque phase une seule fois, avec sa durée totale",
                    )
                )
            elif seen and order.index(code) < order.index(seen[-1]):
                problems.append(
                    Problem(
                        doc.position((*at, "phases", j, "phase")),
                        f"phases dans le désordre : « {label} » après "
                        f"« {vocab['phases-conservation'][seen[-1]].label.lower()} »",
                        "écrivez les phases dans l'ordre où les données les traversent : "
                        "base active, puis archivage intermédiaire",
                        "avertissement",
                    )
                )
            seen.append(code)
    return problems


def _authorisation_problems(doc: Document, window: DateWindow) -> list[Problem]:
    """A prior authorisation dated in the future is an error; one whose validity ended, a warning.
    Each comparison with the reference date narrows ``window``."""
    future = window.after
    problems = []
    for i, item in enumerate(doc.data.get("autorisations") or ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("date"), str):
            continue
        try:
            day = dt.date.fromisoformat(item["date"])
        except ValueError:
            continue  # the schema reports it
        if future(day):
            problems.append(
                Problem(
                    doc.position(("autorisations", i, "date")),
                    f"date d'autorisation {day.isoformat()} dans le futur",
                    "indiquez la date de l'acte qui a autorisé le traitement",
                )
            )
            continue
        validity = str(item.get("duree_validite", ""))
        end = add_duration(day, validity) if validity else None
        if end is not None and not future(end):
            problems.append(
                Problem(
                    doc.position(("autorisations", i, "duree_validite")),
                    f"autorisation expirée le {end.isoformat()} ({item['date']} + {duration_in_words(validity)})",
                    "faites renouveler l'autorisation, puis indiquez la référence et la date du nouvel acte",
                    "avertissement",
                )
            )
    return problems


def _transfer_warnings(doc: Document, vocab: Any) -> list[Problem]:
    transfers = doc.data.get("transferts")
    if not isinstance(transfers, list):
        return []
    problems = []
    for i, transfer in enumerate(transfers):
        country = vocab["pays"].terms.get(transfer.get("pays"))
        if country is not None and country.attr("zone") != "pays-tiers":
            problems.append(
                Problem(
                    doc.position(("transferts", i, "pays")),
                    f"{country.label} est dans l'Espace économique européen : ce n'est pas un transfert hors UE",
                    "retirez-le des transferts (indiquez l'hébergeur dans les destinataires)",
                    "avertissement",
                )
            )
    return problems


# --- legal bases, once activities carry what their model gives ------------------------------------

#: Data subjects that direct marketing reaches as natural persons (CPCE art. L34-5).
_PROSPECTED = frozenset({"prospects", "clients"})


def check_legal_bases(sources: Sources) -> list[Problem]:
    """Rules on the legal bases of resolved activities (and models), inherited fields included.

    * under the police directive (``cadre: directive-police``), no GDPR Art. 6 code;
    * a public-sector member cannot rest a processing on legitimate interests (GDPR
      Art. 6(1), last subparagraph) unless it says the processing is outside its public
      tasks (``base_legale.hors_missions_publiques: true``);
    * direct marketing by e-mail, text message or automated calls to customers or prospects
      needs their consent (CPCE art. L34-5), except customers for similar products.
    """
    problems = check_model_bases(sources)
    for member_id, docs in sources.activities.items():
        problems.extend(member_basis_problems(sources, member_id, docs))
    return problems


def check_model_bases(sources: Sources) -> list[Problem]:
    """:func:`check_legal_bases` for the resolved models."""
    problems: list[Problem] = []
    for doc in sources.models.values():
        problems.extend(_basis_problems(doc, public=False))
    return problems


def member_basis_problems(sources: Sources, member_id: str, docs: Mapping[str, Document]) -> list[Problem]:
    """:func:`check_legal_bases` for one member's resolved activities (``docs``)."""
    vocab = load_vocabularies()
    member = sources.members.get(member_id)
    kind = vocab["types-membres"].terms.get(str(member.data.get("type"))) if member is not None else None
    public = kind is not None and kind.attr("secteur") == "public"
    problems: list[Problem] = []
    for doc in docs.values():
        problems.extend(_basis_problems(doc, public=public))
    return problems


def _bases(data: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """Every ``base_legale`` block of an activity with its path: the main one, then each purpose's."""
    found: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = []
    if isinstance(data.get("base_legale"), Mapping):
        found.append((("base_legale",), data["base_legale"]))
    purposes = data.get("finalites")
    secondary = purposes.get("secondaires") if isinstance(purposes, Mapping) else None
    for i, purpose in enumerate(secondary if isinstance(secondary, list) else ()):
        if isinstance(purpose, Mapping) and isinstance(purpose.get("base_legale"), Mapping):
            found.append((("finalites", "secondaires", i, "base_legale"), purpose["base_legale"]))
    return found


def _basis_problems(doc: Document, *, public: bool) -> list[Problem]:
    data = doc.data
    if not isinstance(data, Mapping):
        return []
    inherited = f"après fusion avec le modèle « {data['modele']} » ; " if "modele" in data else ""
    bases = _bases(data)
    if data.get("cadre") == "directive-police":
        return [
            Problem(
                doc.position((*path, "code")),
                "sous la directive « police-justice », les bases légales du RGPD (art. 6) ne s'appliquent pas",
                inherited + "retirez « code » : la base légale est le texte qui autorise le traitement, "
                "à indiquer dans « reference » (directive (UE) 2016/680 ; loi Informatique et Libertés, art. 87)",
            )
            for path, basis in bases
            if "code" in basis
        ]
    problems = []
    main = data.get("base_legale")
    if public and not (isinstance(main, Mapping) and main.get("hors_missions_publiques")):
        for path, basis in bases:
            if basis.get("code") == "interet-legitime" and not basis.get("hors_missions_publiques"):
                problems.append(
                    Problem(
                        doc.position((*path, "code")),
                        "l'intérêt légitime ne peut pas fonder un traitement mené par une autorité publique "
                        "dans l'exécution de ses missions (RGPD, art. 6(1), dernier alinéa)",
                        inherited
                        + "choisissez la base qui convient (mission-interet-public, obligation-legale, "
                        "contrat, consentement…) ; si ce traitement sort de vos missions de service public "
                        "(gestion du domaine privé, par exemple), écrivez « hors_missions_publiques: true » "
                        "dans la base légale",
                    )
                )
    problems.extend(_prospecting_problems(doc, bases, inherited))
    return problems


def _prospecting_problems(
    doc: Document, bases: list[tuple[tuple[Any, ...], Mapping[str, Any]]], inherited: str
) -> list[Problem]:
    """CPCE art. L34-5: electronic direct marketing to natural persons needs their prior consent."""
    prospecting = doc.data.get("prospection")
    if not isinstance(prospecting, Mapping) or not isinstance(prospecting.get("canaux"), list):
        return []
    channels = load_vocabularies()["canaux-prospection"].terms
    electronic = [
        (i, code)
        for i, code in enumerate(prospecting["canaux"])
        if code in channels and channels[code].attr("electronique")
    ]
    if prospecting.get("professionnels") is True:
        # Professionals at their work address, about their function: the CNIL does not require
        # their prior consent by e-mail (position of 17 February 2005); text messages and
        # automated calls keep the rule.
        electronic = [(i, code) for i, code in electronic if code != "courriel"]
    subjects = doc.data.get("personnes_concernees")
    reached = _PROSPECTED & set(subjects) if isinstance(subjects, list) else set()
    if not electronic or not reached or any(b.get("code") == "consentement" for _, b in bases):
        return []
    exception = prospecting.get("clients_produits_analogues") is True
    if exception and set(subjects) == {"clients"}:
        return []
    index = electronic[0][0]
    named = ", ".join(in_sentence(channels[c].label) for _, c in electronic)
    if exception:
        message = (
            f"prospection par {named} sans consentement : l'exception des produits ou services analogues "
            "ne vaut que pour des clients, or les personnes concernées ne sont pas que des clients"
        )
        hint = "retirez les prospects des personnes concernées, ou fondez sur le consentement une finalité de prospection"
    else:
        message = (
            f"prospection par {named} de personnes physiques sans leur consentement préalable "
            "(code des postes et des communications électroniques, art. L34-5)"
        )
        hint = (
            "donnez à la finalité de prospection la base « consentement » (finalites.secondaires : "
            "libelle et base_legale), ou, pour des clients seulement et des produits ou services analogues, "
            "écrivez « clients_produits_analogues: true » (art. L34-5, quatrième alinéa) ; par courriel à "
            "des professionnels seulement, sur leur adresse professionnelle et en rapport avec leur "
            "fonction, écrivez « professionnels: true » (position de la CNIL du 17 février 2005)"
        )
    return [Problem(doc.position(("prospection", "canaux", index)), message, inherited + hint)]
