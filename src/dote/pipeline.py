"""The pipeline: load → validate → resolve → evaluate, over plain data.

One function, :func:`run`, used alike by the command line, the MkDocs plugin, the page
macros and the tests. It never raises on bad input: a territory with errors comes back
with its problems and no :class:`~dote.model.Territory`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import marshal
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dote import dpo_registers, workers
from dote.audit import AuditData
from dote.audit import load as load_audit
from dote.cache import DocumentCache, MemberResults
from dote.confidential import merge_overlay, published_fields, published_view
from dote.dpia import DpiaPolicy
from dote.dpo_registers import MemberRegisters
from dote.label import (
    DateWindow,
    Evaluation,
    MemberResult,
    Policy,
    ResultReader,
    evaluate,
    evaluate_member,
    held,
    member_data,
    months_later,
    parse_policy,
)
from dote.load import Document, document_names
from dote.model import (
    Activity,
    Converter,
    Drift,
    Member,
    Territory,
    lazy_member,
    made_on_demand,
    member_outline,
    restore_outline,
)
from dote.problems import Problem, sort_problems
from dote.resolve import resolve_sources
from dote.training import Training, last_attended, load_training
from dote.validate import (
    Sources,
    check_members,
    check_model_bases,
    check_shared_references,
    read_sources,
)
from dote.vocabulary import load_vocabularies
from dote.watch import Watch, check_watch_references, load_watch


@dataclass(frozen=True)
class Result:
    """What a run gives: the territory when it is valid, and every problem found."""

    root: Path
    territory: Territory | None
    problems: tuple[Problem, ...]
    label: Evaluation | None = None  # the label of every member, when label.yml exists
    #: Content fingerprints (see :func:`fingerprints`): what a cached page is keyed by.
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    #: The legal and technical watch (``watch/``): its sources and items, published or not.
    watch: Watch = field(default_factory=Watch)
    #: The training modules (``docs/formation/``) and sessions (``registers/formations.yml``).
    training: Training = field(default_factory=Training)
    #: The audit questionnaire; with the overlay only, members' audits and action plans (issue 16).
    audit: AuditData = field(default_factory=AuditData)
    #: With the overlay only: each member's rights requests and breaches (dote.dpo_registers).
    dpo_registers: Mapping[str, MemberRegisters] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def ok(self) -> bool:
        return self.territory is not None and not self.errors


def run(
    root: Path,
    *,
    today: dt.date | None = None,
    overlay: Path | None = None,
    cache: bool = False,
    docs_dir: Path | None = None,
) -> Result:
    """Validate the territory at ``root`` and, if it is valid, build its records.

    With ``overlay`` (a confidential overlay folder), the records also carry the
    non-public fields: for internal outputs only. Without it, the overlay is never read.
    With ``cache``, register files parsed and checked by an earlier run are taken from
    the territory's ``.cache/dote/`` when their content is unchanged (only public files are
    cached: the overlay never is). ``docs_dir`` (``root/docs`` by default) holds the
    training modules (``formation/``); their sessions' attendance counts for the label.
    """
    root = root.resolve()
    today = today or dt.date.today()
    made_on_demand.clear()
    store = DocumentCache(root) if cache else None
    sources, problems = read_sources(root, cache=store, save=False)
    public_members = sources.members
    if overlay is not None:
        # Before resolution: activities then inherit the confidential fields of their model,
        # and the activities a member keeps wholly in the overlay are resolved too.
        sources, overlay_problems = merge_overlay(sources, overlay.resolve())
        problems += overlay_problems
    watch, watch_problems = load_watch(root)
    problems += watch_problems
    training, training_problems = load_training(root, docs_dir, sources.members, today=today)
    problems += training_problems
    # What each member's checks, label and pages are kept under (see fingerprints); the
    # files' content keys stand for their data, but not once the overlay is merged.
    file_keys = store.keys if store is not None and overlay is None else None
    prints = fingerprints(sources, watch, training, file_keys) if sources.maison is not None else {}
    checked = sources
    problems += check_shared_references(sources, today)
    # A member's resolution and checks (and their positions) are kept with its files, under a
    # key made of their bytes (the checks for the days they hold): public builds only (an
    # internal one's problems may quote overlay values).
    keyed = (
        [
            member_id
            for member_id, docs in checked.activities.items()
            if _files_keys(docs, file_keys) is not None
        ]
        if prints and file_keys is not None
        else None
    )
    kept_store = store if keyed is not None else None
    resolution_keys = {m: member_key(prints, m, "resolution") for m in keyed} if keyed is not None else None
    sources, resolve_problems, drift = resolve_sources(sources, kept_store, resolution_keys)
    problems += resolve_problems
    problems += check_model_bases(sources)
    keys = {m: member_key(prints, m, "verifications") for m in keyed} if keyed is not None else None
    problems += check_members(checked, sources, today, kept_store, keys)
    registers: dict[str, MemberRegisters] = {}
    if overlay is not None:  # the DPO's registers of requests and breaches: the overlay only
        registers, register_problems = dpo_registers.load(overlay.resolve(), public_members, today)
        problems += register_problems + dpo_registers.check_published(registers, public_members)
    # The audit questionnaire (public); members' answers and action plans from the overlay only.
    audit, audit_problems = load_audit(
        root, overlay.resolve() if overlay is not None else None, sources, today
    )
    problems += audit_problems
    problems += check_watch_references(
        watch,
        sources.members,
        (f"{member}/{activity}" for member, docs in sources.activities.items() for activity in docs),
    )
    attendance = {
        member_id: session.end.date()
        for member_id in sources.members
        if (session := last_attended(training, member_id, today)) is not None
    }
    territory = None
    with collection_paused():
        if not any(p.is_error for p in problems) and sources.maison is not None:
            territory = build_territory(
                sources, internal=overlay is not None, drift=drift, attendance=attendance
            )
            if kept_store is not None and keyed is not None:  # before anything makes the records
                _outlines(territory, sources, kept_store, {m: member_key(prints, m, "apercu") for m in keyed})
        else:
            prints = {}
        # The label of a public build is kept per member; an internal one reads action plans.
        kept = MemberResults(root if cache else None, "label") if overlay is None else None
        fresh: set[str] = set()
        evaluation = _evaluate(sources, territory, overlay, today, attendance, audit, kept, prints, fresh)
        if territory is not None:
            # The records of every member whose label was made again are made now, with the
            # collection paused and before the build's workers fork (they would each make them):
            # its pages and data are made again too. A member whose label is kept may never need
            # its records (model.LazyMember).
            kept_labels = evaluation is not None and bool(evaluation.windows)
            for member in territory.members:
                if not kept_labels or member.id in fresh:
                    member.activities  # noqa: B018 - made now
    if store is not None:
        store.save(whole=True)  # every file was read, or recognised
    return Result(
        root,
        territory,
        tuple(sort_problems(problems)),
        label=evaluation,
        fingerprints=prints,
        watch=watch,
        training=training,
        audit=audit,
        dpo_registers=registers,
    )


def _outlines(territory: Territory, sources: Sources, store: DocumentCache, keys: Mapping[str, str]) -> None:
    """Give each member whose activities are not made the outline kept under its key (what lists
    read without making them, see :func:`dote.model.member_outline`), or make it from their data
    and keep it: an unchanged member's documents are then never read."""
    for member in territory.members:
        key = keys.get(member.id)
        doc = sources.members.get(member.id)
        if key is None or doc is None:
            continue
        folder = posixpath.dirname(doc.name)
        if not restore_outline(member, store.member_value(folder, _OUTLINE + key)):
            outline = member_outline(member)
            if outline is not None:
                store.keep_member_value(folder, _OUTLINE + key, outline)


#: What a member's outline is kept under, with its files (followed by its key).
_OUTLINE = "apercu:"


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection while the records are made (the label reads every member's
    activities when it is evaluated, and makes them: see model.LazyMember, which pauses it too
    while it makes a member's): they all live until the end of the build, and a large territory
    makes millions of them (each collection would walk them).
    Then they are frozen (:func:`gc.freeze`, as the documents they come from): later
    collections do not walk them either, until the next run's read unfreezes them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        gc.freeze()


def _evaluate(
    sources: Sources,
    territory: Territory | None,
    overlay: Path | None,
    today: dt.date,
    attendance: Mapping[str, dt.date],
    audit: AuditData | None = None,
    kept: MemberResults | None = None,
    prints: Mapping[str, str] | None = None,
    fresh: set[str] | None = None,
) -> Evaluation | None:
    """The label of every member (None without a territory or a label policy).

    With ``kept`` (and the ``prints`` of :func:`fingerprints`), a member's result is read
    back from an earlier build when its records, the shared files and the training it
    attended are the same and the date is within the result's window (label.DateWindow),
    and kept for the next build otherwise; the evaluation gives each member's window, and
    ``fresh`` receives the ids of the members evaluated again.
    """
    evaluation = None
    if territory is not None and sources.label is not None:
        # The label judges the whole register, even fields a member chose not to publish.
        withheld = any(
            published_fields(doc.data) is not None and sources.activities.get(member_id)
            for member_id, doc in sources.members.items()
        )
        complete = (
            build_territory(sources, complete=True, reuse=territory, attendance=attendance)
            if withheld and overlay is None
            else territory
        )
        # Action plans live in the overlay: without it, the rules that need them are not evaluated.
        plans = audit.plans if audit is not None and audit.overlay else None
        policy = parse_policy(sources.label)
        if kept is None or not prints or plans is not None:
            return evaluate(complete, policy, today, plans=plans)
        results: dict[str, MemberResult] = {}
        windows: dict[str, str] = {}
        reader = ResultReader(policy, complete.vocabularies)
        from dote.review import policy_parameters  # it imports the page templates' modules

        # The months after which a record is to review, as its page shows (fragments._overdue_review).
        review_months = int(policy_parameters(Evaluation(policy, today, {}))[0]["age_maximum_mois"])

        def keep(member: Member, result: MemberResult, found: tuple[int, int, Any]) -> None:
            results[member.id] = result
            windows[member.id] = f"{found[0]}-{found[1]}"

        todo: list[tuple[int, str]] = []  # the members to evaluate: their place, their key
        for index, member in enumerate(complete.members):
            # Kept without the date, for the days of its window (label.DateWindow); the training
            # attended (which the date also moves, see last_attended) is part of the key.
            key = member_key(prints, member.id, f"fenetre {attendance.get(member.id)}")
            found = held(kept.get(member.id, key), today)
            result = reader.member(found[2], member) if found is not None else None
            if found is None or result is None:
                todo.append((index, key))
            else:
                keep(member, result, found)
        for index, key, result, found in _made_labels(
            todo, complete, territory, policy, today, review_months, reader
        ):
            kept.put(complete.members[index].id, key, found)
            keep(complete.members[index], result, found)
        if fresh is not None:
            fresh.update(complete.members[index].id for index, _ in todo)
        # In the members' order, whichever process evaluated them.
        evaluation = Evaluation(
            policy,
            today,
            {m.id: results[m.id] for m in complete.members},
            {m.id: windows[m.id] for m in complete.members},
        )
        kept.prune(set(results))
    return evaluation


#: From how many members to evaluate, a forked worker evaluates some of them (a clean build).
LABEL_PARALLEL_FROM = 200
#: The share of them it evaluates: this process evaluates the others, makes the records of
#: the worker's members meanwhile (the pages and data need them), then reads its results back.
LABEL_SHARE_APART = 0.6
#: What the label's worker evaluates with: set just before it forks, read in its copy.
_LABEL_APART: tuple[Territory, Policy, dt.date, int] | None = None


def _made_labels(
    todo: list[tuple[int, str]],
    complete: Territory,
    territory: Territory | None,
    policy: Policy,
    today: dt.date,
    review_months: int,
    reader: ResultReader,
) -> Iterator[tuple[int, str, MemberResult, tuple[int, int, Any]]]:
    """The label of each member of ``todo`` (its place in ``complete`` and its key), with what is
    kept of it: made here, or by a forked worker for a share of them (see :func:`_label_shares`)
    while this process makes the others' and the worker's members' records (``territory``'s,
    which its pages and data need), then read back as a kept label is."""
    global _LABEL_APART
    here, apart = _label_shares(todo)
    pool = workers.pool(1) if apart else None
    try:
        if pool is not None:
            _LABEL_APART = (complete, policy, today, review_months)
            job = pool.submit(_label_apart, [index for index, _ in apart])
        for index, key in here:
            yield index, key, *_member_label(complete.members[index], complete, policy, today, review_months)
        if pool is None:
            return
        assert territory is not None
        for index, _ in apart:
            territory.members_by_id[complete.members[index].id].activities  # noqa: B018 - made now
        for (index, key), found in zip(apart, job.result(), strict=True):
            member = complete.members[index]
            read_back = reader.member(found[2], member)
            if read_back is None:  # not what the worker made (it cannot be): made here
                read_back, found = _member_label(member, complete, policy, today, review_months)
            yield index, key, read_back, found
    finally:
        _LABEL_APART = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _label_shares(todo: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The members to evaluate here, and those a forked worker evaluates (none when they are
    few, or no worker can be forked)."""
    if len(todo) < LABEL_PARALLEL_FROM or not workers.available():
        return todo, []
    cut = len(todo) - int(len(todo) * LABEL_SHARE_APART)
    return todo[:cut], todo[cut:]


def _label_apart(indices: list[int]) -> list[tuple[int, int, Any]]:
    """In the forked worker: the label of each member at ``indices``, as it is kept."""
    assert _LABEL_APART is not None
    complete, policy, today, review_months = _LABEL_APART
    return [_member_label(complete.members[i], complete, policy, today, review_months)[1] for i in indices]


def _member_label(
    member: Member, complete: Territory, policy: Policy, today: dt.date, review_months: int
) -> tuple[MemberResult, tuple[int, int, Any]]:
    """A member's label, and what is kept of it with its window (label.DateWindow)."""
    window = DateWindow(today)
    result = evaluate_member(member, complete, policy, today, window=window)
    for activity in member.activities:  # the page's « à revoir depuis le »
        if activity.dates.reviewed is not None:
            window.past(months_later(activity.dates.reviewed, review_months))
    return result, window.kept(member_data(result))


#: The fingerprint of what every page may show (see :func:`fingerprints`).
SHARED = ""
#: The fingerprint of the whole territory.
EVERYTHING = "*"


def fingerprints(
    sources: Sources,
    watch: Watch | None = None,
    training: Training | None = None,
    file_keys: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Hashes of the register content, for keys of what is kept between builds (pages, each
    member's checks, label and values). Made from the files as read, before resolution:
    resolved content is made of them.

    ``SHARED`` covers what any page may show: the Maison, every member's own file (names,
    types, parents appear on other members' pages), models and their archives, processors
    the label policy, the published watch items (activities list those of their
    themes) and the training calendar (its attendance counts for the label). Each member id covers that member's activities; ``EVERYTHING``
    covers all of them. A member's page depends on ``SHARED`` and its own fingerprint
    only, so changing one activity re-renders one member's page.

    ``file_keys`` (the content keys the document cache gives each file it read, see
    :attr:`dote.cache.DocumentCache.keys`) stand for a member's activities when each of them
    has one: their resolved data is made of their files and of what ``SHARED`` covers (models,
    archives, the member's choice of published fields), and the keys are already computed,
    where hashing the data again takes a fifth of a second at 30,000 activities.
    """

    def digest(*values: Any) -> str:
        hasher = hashlib.sha256()
        for value in values:
            data = marshal.dumps(value, 0)  # version 0: the same bytes for equal values
            hasher.update(len(data).to_bytes(8, "little") + data)
        return hasher.hexdigest()

    def data(docs: Mapping[Any, Document]) -> list[Any]:
        return [(str(key), doc.data) for key, doc in docs.items()]

    shared = digest(
        sources.maison.data if sources.maison else None,
        sources.label.data if sources.label else None,
        data(sources.members),
        data(sources.models),
        data(sources.archives),
        data(sources.processors),
        repr(watch.published()) if watch else None,
        repr(training) if training else None,  # the calendar, and attendance in the label
    )
    result = {SHARED: shared}
    for member_id, docs in sources.activities.items():
        named = _files_keys(docs, file_keys or {})
        result[member_id] = digest("fichiers", member_id, named) if named else digest(member_id, data(docs))
    result[EVERYTHING] = digest(shared, sorted(result.items()))
    return result


def _files_keys(docs: Mapping[str, Document], file_keys: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """Each document's id with its file's content key; ``None`` if one has none."""
    named = []
    for key, name in document_names(docs).items():
        found = file_keys.get(name)
        if found is None:
            return None
        named.append((str(key), found))
    return named


def member_key(prints: Mapping[str, str], member_id: str, part: dt.date | str) -> str:
    """The key of what is computed for one member from its records and the shared files (see
    :func:`fingerprints`), and ``part``: what else it depends on. A date, for what is made for
    that day only; else a name, and what is kept under it holds the days on which it stays the
    same (its label, checks and records to review: dote.label.DateWindow); or its label's window,
    for what depends on the date only through its label (its page, open data, explorer values
    and dashboard figures, see dote.mkdocs_plugin)."""
    text = part if isinstance(part, str) else part.isoformat()
    return hashlib.sha256(f"{prints[SHARED]}\0{prints.get(member_id, '')}\0{text}".encode()).hexdigest()


def _activities(
    convert: Converter, member_id: str, docs: Mapping[str, Document], chosen: frozenset[str] | None
) -> tuple[Activity, ...]:
    """A member's records (``chosen``: the fields it publishes, when it publishes a choice)."""
    withheld = chosen is not None
    return tuple(
        convert.activity(aid, member_id, data, adoc.position(), withheld=withheld)
        for (aid, adoc), data in zip(docs.items(), _activities_data(docs, chosen), strict=True)
    )


def _activities_data(docs: Mapping[str, Document], chosen: frozenset[str] | None) -> list[Mapping[str, Any]]:
    """What :func:`_activities` makes a member's records from."""
    if chosen is None:
        return [adoc.data for adoc in docs.values()]
    return [published_view(adoc.data, chosen) for adoc in docs.values()]


def build_territory(
    sources: Sources,
    *,
    internal: bool = False,
    complete: bool = False,
    drift: Sequence[Drift] = (),
    reuse: Territory | None = None,
    attendance: Mapping[str, dt.date] | None = None,
) -> Territory:
    """Records from sources that passed validation.

    In public mode, a member publishing "au choix" shows only the activity fields it
    lists in ``champs_publies``, and no activity at all unless it lists ``nom``;
    ``complete`` ignores that choice (for the label, never for publication). ``reuse``,
    the public records of the same sources, lends ``complete`` the members that publish
    everything (their records are the same either way). ``attendance``: the end of the
    latest training session each member attended (the Maison's calendar).

    Each member's activities are made when first read (:class:`~dote.model.LazyMember`): a
    build that takes a member's results from its cache never makes them.
    """
    assert sources.maison is not None
    convert = Converter(load_vocabularies(), internal=internal)
    maison = convert.maison(sources.maison.data)
    members = []
    public = reuse.members_by_id if reuse is not None and complete and not internal else {}
    for member_id, doc in sources.members.items():
        docs = sources.activities.get(member_id, {})
        chosen = published_fields(doc.data)
        if chosen is None and member_id in public:
            members.append(public[member_id])
            continue
        if internal or complete:
            chosen = None
        unlisted = len(docs) if chosen is not None and "nom" not in chosen else 0
        member = convert.member(
            member_id,
            doc.data,
            doc.position(),
            maison,
            (),
            unlisted,
            attended=attendance.get(member_id) if attendance else None,
        )
        if docs and not unlisted:
            member = lazy_member(
                member,
                functools.partial(_activities, convert, member_id, docs, chosen),
                tuple(docs),
                functools.partial(_activities_data, docs, chosen),
            )
        members.append(member)
    processors = {
        pid: convert.processor(pid, doc.data, doc.position()) for pid, doc in sources.processors.items()
    }
    models = {mid: convert.model(mid, doc.data, doc.position()) for mid, doc in sources.models.items()}
    policy = DpiaPolicy.from_data(sources.label.data.get("aipd") if sources.label is not None else None)
    return Territory(
        maison, tuple(members), processors, load_vocabularies(), models, tuple(drift), dpia_policy=policy
    )
