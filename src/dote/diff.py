"""What a change does to the public registers, between two git revisions: ``dote diff``.

Each side is read the way the public site reads it: the territory at a revision is
extracted from git into a temporary folder (or, for the working tree, read where it is)
and goes through :func:`dote.pipeline.run` without any confidential overlay and without
the cache, with one reference date for both sides so that dates make no false changes.
The two resolved territories are then compared as the site shows them: activities
(by their French field names, codes as their labels), members, processors, label
levels, DPIA screening verdicts and model versions.

The facts (:class:`Changes`) are rendered as French Markdown for a pull-request
comment (:func:`markdown`) or as a stable JSON structure (:func:`as_json`). Register
text is untrusted and a pull-request comment is Markdown *and* HTML: every value goes
through :func:`inert`, which leaves no markup, no link, no mention and no reference.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dote import pipeline
from dote.dpia import Screening, screen
from dote.fragments import date_fr
from dote.model import Activity, Contact, Member, Processor, Territory, Transfer
from dote.problems import Problem

#: The folders of a territory that the pipeline reads (everything else is left in git):
#: the training modules too, which the sessions of registers/formations.yml name.
READ_FOLDERS = ("registers", "watch", "docs/formation")

Value = str | tuple[str, ...]
Status = Literal["ajoute", "retire", "modifie"]


class DiffError(Exception):
    """Why two revisions cannot be compared, in French, with the problems of an invalid side."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)


# --- the facts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a revision as written and its commit, or the working tree."""

    revision: str | None  # None: the working tree
    commit: str | None = None

    @property
    def description(self) -> str:
        """French, for error messages: « la révision « main » » or « l'arbre de travail »."""
        return "l'arbre de travail" if self.revision is None else f"la révision « {self.revision} »"


@dataclass(frozen=True)
class FieldChange:
    """One public field that changed: a value (old → new) or a list (items added and removed)."""

    field: str  # the French name the site uses
    old: str = ""
    new: str = ""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    is_list: bool = False


@dataclass(frozen=True)
class Entry:
    """An activity, member or processor added, removed or changed."""

    status: Status
    id: str
    name: str
    fields: tuple[FieldChange, ...] = ()
    member_id: str = ""  # activities: their member
    member_name: str = ""
    note: str = ""  # added activity: its DPIA verdict; added member: its label level


@dataclass(frozen=True)
class Move:
    """A computed value that moved: a member's label level, an activity's DPIA verdict."""

    member_id: str
    member_name: str
    old: str  # label: level id ("" for none); DPIA: verdict code
    new: str
    old_label: str
    new_label: str
    activity_id: str = ""
    activity_name: str = ""


@dataclass(frozen=True)
class ModelChange:
    """A model added, removed, or whose version changed, with its journal since."""

    status: Status
    id: str
    name: str
    old_version: int | None
    new_version: int | None
    journal: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class LeftBehind:
    """An activity pinned to an older version of its model, newly so after this change."""

    model_id: str
    model_name: str
    member_id: str
    member_name: str
    activity_id: str
    activity_name: str
    pinned: int
    latest: int
    changed_fields: tuple[str, ...]  # French field names


@dataclass(frozen=True)
class Changes:
    """Everything a change does to the public registers."""

    base: Side
    head: Side
    date: dt.date
    members: tuple[Entry, ...] = ()
    activities: tuple[Entry, ...] = ()
    processors: tuple[Entry, ...] = ()
    levels: tuple[Move, ...] = ()
    verdicts: tuple[Move, ...] = ()
    models: tuple[ModelChange, ...] = ()
    left_behind: tuple[LeftBehind, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.members
            or self.activities
            or self.processors
            or self.levels
            or self.verdicts
            or self.models
            or self.left_behind
        )

    def summary(self) -> str:
        """One French line: « 3 activités modifiées, 1 ajoutée, 1 niveau de label change. »"""
        if self.empty:
            return "Aucun changement des registres publics."
        parts: list[str] = []
        parts += _counted(
            self.activities,
            ("activité", "activités"),
            (("modifie", "modifiée"), ("ajoute", "ajoutée"), ("retire", "supprimée")),
        )
        parts += _counted(
            self.members,
            ("membre", "membres"),
            (("ajoute", "ajouté"), ("retire", "retiré"), ("modifie", "modifié")),
        )
        if self.levels:
            n = len(self.levels)
            parts.append(f"{n} niveau{'x' if n > 1 else ''} de label change{'nt' if n > 1 else ''}")
        if self.verdicts:
            n = len(self.verdicts)
            parts.append(f"{n} dépistage{_s(n)} d'AIPD change{'nt' if n > 1 else ''}")
        bumped = sum(1 for m in self.models if m.status == "modifie")
        if bumped:
            parts.append(f"{bumped} modèle{_s(bumped)} change{'nt' if bumped > 1 else ''} de version")
        parts += _counted(
            [m for m in self.models if m.status != "modifie"],
            ("modèle", "modèles"),
            (("ajoute", "ajouté"), ("retire", "retiré")),
        )
        if self.left_behind:
            n = len(self.left_behind)
            parts.append(
                f"{n} activité reste sur une version antérieure de son modèle"
                if n == 1
                else f"{n} activités restent sur une version antérieure de leur modèle"
            )
        parts += _counted(
            self.processors,
            ("sous-traitant", "sous-traitants"),
            (("modifie", "modifié"), ("ajoute", "ajouté"), ("retire", "retiré")),
        )
        text = ", ".join(parts)
        return text[0].upper() + text[1:] + "."


def _s(n: int) -> str:
    return "s" if n > 1 else ""


def _counted(
    items: Sequence[Entry | ModelChange], noun: tuple[str, str], kinds: Sequence[tuple[str, str]]
) -> list[str]:
    """« 3 activités modifiées », then « 1 ajoutée »: the noun once, on the first count."""
    parts: list[str] = []
    for status, adjective in kinds:
        n = sum(1 for item in items if item.status == status)
        if n:
            words = f"{noun[n > 1]} {adjective}{_s(n)}" if not parts else f"{adjective}{_s(n)}"
            parts.append(f"{n} {words}")
    return parts


# --- reading a revision -------------------------------------------------------------


def _git(root: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            input=data,
            capture_output=True,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except FileNotFoundError as err:
        raise DiffError(_NO_GIT) from err


_NO_GIT = "git est introuvable : installez git (la comparaison lit les révisions dans le dépôt git)"


def _message(process: subprocess.CompletedProcess[bytes]) -> str:
    return process.stderr.decode("utf-8", "replace").strip().removeprefix("fatal: ")


def repository_prefix(root: Path) -> tuple[Path, str]:
    """The top of the territory's git repository, and the territory's folder in it ("" at the top)."""
    if shutil.which("git") is None:
        raise DiffError(_NO_GIT)
    found = _git(root, "rev-parse", "--show-toplevel", "--show-prefix")
    if found.returncode != 0:
        raise DiffError(f"{root} n'est pas dans un dépôt git ({_message(found)})")
    top, prefix = [*found.stdout.decode("utf-8").splitlines(), ""][:2]
    return Path(top), prefix.rstrip("/")


def resolve_revision(root: Path, revision: str) -> str:
    """The commit a revision names, or a :class:`DiffError` saying which one is unknown."""
    if not revision or revision.startswith("-"):
        raise DiffError(
            f"révision « {revision} » invalide : indiquez une branche, une étiquette ou un commit"
        )
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if found.returncode != 0:
        raise DiffError(f"révision « {revision} » inconnue dans le dépôt git de {root}")
    return found.stdout.decode("ascii").strip()


def extract(top: Path, commit: str, prefix: str, target: Path, revision: str) -> None:
    """Write the territory's register folders, as they are committed at ``commit``, into ``target``.

    ``top`` is the top of the repository and ``prefix`` the territory's folder in it. The
    files are read from git's objects as committed (``git ls-tree`` and ``git cat-file``),
    not through ``git archive``: no ``.gitattributes`` of the revision (``export-ignore``,
    ``export-subst``) can hide or alter a file. The revision's content is untrusted: a
    path with an empty, ``.`` or ``..`` component is refused, and a symbolic link is
    written as it is committed (the pipeline refuses one that leads out of the territory).
    """
    tree = f"{commit}:{prefix}"
    # At the top of the repository, paths are those of the territory's tree.
    listing = _git(top, "ls-tree", "-r", "-z", "--full-name", tree, "--", *READ_FOLDERS)
    if listing.returncode != 0:
        where = f"« {prefix} »" if prefix else "du territoire"
        raise DiffError(f"le dossier {where} n'existe pas à la révision « {revision} »")
    entries: list[tuple[str, str, str]] = []  # mode, object, path
    for record in listing.stdout.split(b"\0"):
        meta, tab, raw_path = record.partition(b"\t")
        fields = meta.decode("ascii", "replace").split(" ")
        if not tab or len(fields) != 3 or fields[1] != "blob":  # submodules have no files here
            continue
        entries.append((fields[0], fields[2], raw_path.decode("utf-8", "surrogateescape")))
    if not entries:
        return  # no registers/ at all: the pipeline says so
    objects = "".join(f"{obj}\n" for _, obj, _ in entries).encode("ascii")
    batch = _git(top, "cat-file", "--batch", data=objects)
    if batch.returncode != 0:
        raise DiffError(f"lecture de la révision « {revision} » impossible : {_message(batch)}")
    data, offset = batch.stdout, 0
    made: set[Path] = {target}  # folders this function created: real folders, checked once
    for mode, obj, path in entries:
        header_end = data.index(b"\n", offset)
        header = data[offset:header_end].decode("ascii", "replace").split(" ")
        if len(header) != 3 or header[0] != obj:
            raise DiffError(f"lecture de la révision « {revision} » impossible : objet {obj} illisible")
        size = int(header[2])
        content = data[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        parts = path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise DiffError(f"révision « {revision} » : chemin refusé dans le dépôt ({path!r})")
        destination = target.joinpath(*parts)
        folder = target
        for part in parts[:-1]:  # real folders only, never a link written before
            folder = folder / part
            if folder in made:
                continue
            if folder.is_symlink() or folder.exists():
                raise DiffError(f"révision « {revision} » : chemin refusé dans le dépôt ({path!r})")
            folder.mkdir()
            made.add(folder)
        try:  # created, never opened: a path given twice is not written through a link
            if mode == "120000":
                os.symlink(content.decode("utf-8", "surrogateescape"), destination)
            else:
                with open(destination, "xb") as stream:
                    stream.write(content)
        except FileExistsError as err:
            raise DiffError(f"révision « {revision} » : chemin refusé dans le dépôt ({path!r})") from err


@contextlib.contextmanager
def read_side(root: Path, top: Path, prefix: str, side: Side, today: dt.date) -> Iterator[pipeline.Result]:
    """The public registers of one side, validated and resolved, without any overlay or cache."""
    if side.commit is None:
        yield _valid(pipeline.run(root, today=today, cache=False), side)
        return
    with tempfile.TemporaryDirectory(prefix="dote-diff-") as folder:
        target = Path(folder) / "territoire"
        target.mkdir()
        extract(top, side.commit, prefix, target, side.revision or side.commit)
        yield _valid(pipeline.run(target, today=today, cache=False), side)


def _valid(result: pipeline.Result, side: Side) -> pipeline.Result:
    if not result.ok:
        n = len(result.errors)
        raise DiffError(
            f"les registres ne sont pas valides à {side.description} "
            f"({n} erreur{_s(n)}) : corrigez-les avant de comparer",
            result.problems,
        )
    return result


def compare_revisions(root: Path, base: str, head: str | None, today: dt.date) -> Changes:
    """What going from ``base`` to ``head`` (``None``: the working tree) does to the public registers."""
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise DiffError(f"dossier « {root} » introuvable")
    top, prefix = repository_prefix(root)
    base_side = Side(base, resolve_revision(root, base))
    head_side = Side(None) if head is None else Side(head, resolve_revision(root, head))
    with (
        read_side(root, top, prefix, base_side, today) as before,
        read_side(root, top, prefix, head_side, today) as after,
    ):
        return compare(before, after, base_side, head_side, today)


# --- comparing two territories ------------------------------------------------------


def compare(
    before: pipeline.Result, after: pipeline.Result, base: Side, head: Side, today: dt.date
) -> Changes:
    """The public differences between two valid pipeline results."""
    old, new = before.territory, after.territory
    assert old is not None and new is not None
    old_members, new_members = old.members_by_id, new.members_by_id

    members: list[Entry] = []
    for m in new.members:
        if m.id not in old_members:
            members.append(Entry("ajoute", m.id, m.name, note=_level_title(after, m.id)))
    for m in old.members:
        if m.id not in new_members:
            members.append(Entry("retire", m.id, m.name))
    for m in new.members:
        if m.id in old_members:
            changed = _field_changes(member_fields(old_members[m.id], old), member_fields(m, new))
            if changed:
                members.append(Entry("modifie", m.id, m.name, changed))

    old_screenings, new_screenings = _screenings(before), _screenings(after)
    activities: list[Entry] = []
    verdicts: list[Move] = []
    for member in _union(old.members, new.members):
        was = {a.id: a for a in old_members[member.id].activities} if member.id in old_members else {}
        now = {a.id: a for a in new_members[member.id].activities} if member.id in new_members else {}
        name = member.name
        for a in now.values():
            if a.id not in was:
                verdict = new_screenings[(member.id, a.id)]
                activities.append(Entry("ajoute", a.id, a.name, (), member.id, name, verdict.label))
        for a in was.values():
            if a.id not in now:
                activities.append(Entry("retire", a.id, a.name, (), member.id, name))
        for a in now.values():
            if a.id in was:
                changed = _field_changes(activity_fields(was[a.id], old), activity_fields(a, new))
                if changed:
                    activities.append(Entry("modifie", a.id, a.name, changed, member.id, name))
                s_old, s_new = old_screenings[(member.id, a.id)], new_screenings[(member.id, a.id)]
                if s_old.verdict != s_new.verdict:
                    verdicts.append(
                        Move(
                            member.id,
                            name,
                            s_old.verdict,
                            s_new.verdict,
                            s_old.label,
                            s_new.label,
                            a.id,
                            a.name,
                        )
                    )

    levels: list[Move] = []
    if before.label is not None and after.label is not None:
        for member_id, result in after.label.members.items():
            previous = before.label.members.get(member_id)
            if previous is None:
                continue
            was_id = previous.level.id if previous.level else ""
            now_id = result.level.id if result.level else ""
            if was_id != now_id:
                levels.append(
                    Move(
                        member_id,
                        result.member.name,
                        was_id,
                        now_id,
                        previous.level_title,
                        result.level_title,
                    )
                )

    processors: list[Entry] = []
    for pid, p in new.processors.items():
        if pid not in old.processors:
            processors.append(Entry("ajoute", pid, p.name))
    for pid, p in old.processors.items():
        if pid not in new.processors:
            processors.append(Entry("retire", pid, p.name))
    for pid, p in new.processors.items():
        if pid in old.processors:
            changed = _field_changes(processor_fields(old.processors[pid], old), processor_fields(p, new))
            if changed:
                processors.append(Entry("modifie", pid, p.name, changed))

    return Changes(
        base,
        head,
        today,
        tuple(members),
        tuple(activities),
        tuple(processors),
        tuple(levels),
        tuple(verdicts),
        _model_changes(old, new),
        _left_behind(old, new),
    )


def _union(old: Sequence[Member], new: Sequence[Member]) -> list[Member]:
    """The members of both sides, in the new order, then those removed (each with its newest record)."""
    seen = {m.id for m in new}
    return [*new, *(m for m in old if m.id not in seen)]


def _level_title(result: pipeline.Result, member_id: str) -> str:
    if result.label is None or member_id not in result.label.members:
        return ""
    return result.label.members[member_id].level_title


def _screenings(result: pipeline.Result) -> dict[tuple[str, str], Screening]:
    """Each activity's DPIA screening, as the site shows it (the label's when there is one)."""
    territory = result.territory
    assert territory is not None
    found = {}
    for member in territory.members:
        evaluated = result.label.members.get(member.id) if result.label else None
        for a in member.activities:
            if evaluated is not None and a.id in evaluated.activities:
                found[(member.id, a.id)] = evaluated.activities[a.id].screening
            else:
                found[(member.id, a.id)] = screen(a, member, territory.vocabularies, territory.dpia_policy)
    return found


def _model_changes(old: Territory, new: Territory) -> tuple[ModelChange, ...]:
    changes = []
    for mid, model in sorted(new.models.items()):
        previous = old.models.get(mid)
        if previous is None:
            changes.append(ModelChange("ajoute", mid, model.content.name, None, model.version))
        elif previous.version != model.version:
            journal = tuple((e.version, e.summary) for e in model.journal if e.version > previous.version)
            changes.append(
                ModelChange("modifie", mid, model.content.name, previous.version, model.version, journal)
            )
    for mid, model in sorted(old.models.items()):
        if mid not in new.models:
            changes.append(ModelChange("retire", mid, model.content.name, model.version, None))
    return tuple(changes)


def _left_behind(old: Territory, new: Territory) -> tuple[LeftBehind, ...]:
    """The activities newly left on an older model version (a bump, or a new pin)."""
    known = {(d.model_id, d.member_id, d.activity_id, d.pinned, d.latest) for d in old.drift}
    found = []
    for d in new.drift:
        if (d.model_id, d.member_id, d.activity_id, d.pinned, d.latest) in known:
            continue
        member = new.members_by_id.get(d.member_id)
        activity = next((a for a in member.activities if a.id == d.activity_id), None) if member else None
        model = new.models.get(d.model_id)
        found.append(
            LeftBehind(
                d.model_id,
                model.content.name if model else d.model_id,
                d.member_id,
                member.name if member else d.member_id,
                d.activity_id,
                activity.name if activity else d.activity_id,
                d.pinned,
                d.latest,
                tuple(KEY_TITLES.get(k, k) for k in d.changed_fields),
            )
        )
    return tuple(found)


def _field_changes(old: Mapping[str, Value], new: Mapping[str, Value]) -> tuple[FieldChange, ...]:
    changes = []
    for name in [*new, *(k for k in old if k not in new)]:
        was, now = old.get(name, ""), new.get(name, "")
        if isinstance(was, tuple) or isinstance(now, tuple):
            before = was if isinstance(was, tuple) else ((was,) if was else ())
            after = now if isinstance(now, tuple) else ((now,) if now else ())
            added = tuple(dict.fromkeys(v for v in after if v not in before))
            removed = tuple(dict.fromkeys(v for v in before if v not in after))
            if added or removed:  # a new order alone is no change
                changes.append(FieldChange(name, added=added, removed=removed, is_list=True))
        elif was != now:
            changes.append(FieldChange(name, old=was, new=now))
    return tuple(changes)


# --- the public fields, by their French names ---------------------------------------

#: The French names of an activity's YAML keys (the schema's titles), for model drift.
KEY_TITLES = {
    "nom": "Nom du traitement",
    "description": "Description",
    "statut": "Statut de la fiche",
    "role": "Rôle du membre",
    "responsables_conjoints": "Responsables conjoints",
    "pour_le_compte_de": "Pour le compte de",
    "service": "Service en charge",
    "finalites": "Finalités",
    "base_legale": "Base légale",
    "cadre": "Cadre juridique",
    "prospection": "Prospection commerciale",
    "conditions_sensibles": "Conditions des données sensibles ou pénales",
    "personnes_concernees": "Personnes concernées",
    "personnes_precisions": "Précisions sur les personnes concernées",
    "categories_donnees": "Catégories de données",
    "sources": "Sources des données",
    "sources_precisions": "Précisions sur les sources",
    "collecte_obligatoire": "Fourniture des données obligatoire",
    "destinataires": "Destinataires",
    "transferts": "Transferts hors de l'Union européenne",
    "outils": "Logiciels et outils",
    "volume": "Volume du traitement",
    "moyens": "Moyens et technologies employés",
    "surveillance": "Surveillance des personnes",
    "croisement_donnees": "Croisement de données",
    "exclusion": "Exclusion d'un droit, d'un service ou d'un contrat",
    "usage_innovant": "Usage innovant",
    "droits": "Exercice des droits",
    "decision_automatisee": "Décision entièrement automatisée",
    "profilage": "Profilage",
    "traitement_algorithmique": "Traitement algorithmique",
    "aipd": "Analyse d'impact (AIPD)",
    "mention_information": "Mention d'information",
    "thematiques": "Thématiques",
    "dates": "Dates",
}


def number_fr(value: int) -> str:
    """4200 → « 4 200 » (narrow no-break space), as the site writes numbers."""
    return f"{value:,}".replace(",", "\u202f")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Oui" if value else "Non")


def _date(value: dt.date | None) -> str:
    return date_fr(value) if value else ""


def _transfers(transfers: tuple[Transfer, ...] | None) -> tuple[str, ...]:
    if transfers is None:
        return ()
    if not transfers:
        return ("Aucun",)
    return tuple(
        f"{t.country.label} : {t.recipient}"
        + (f", garantie : {t.safeguard.label}" if t.safeguard else ", garantie non renseignée")
        + (f". {t.details}" if t.details else "")
        for t in transfers
    )


def _contact(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return " ; ".join(v for v in (contact.email, contact.phone, contact.address, contact.form_url) if v)


def activity_fields(a: Activity, territory: Territory) -> dict[str, Value]:
    """An activity's public fields as the site shows them: French names, codes as labels."""
    f: dict[str, Value] = {}
    f["Nom du traitement"] = a.name
    f["Statut de la fiche"] = a.status.label if a.status else ""
    f["Rôle du membre"] = a.role.label
    f["Service en charge"] = a.department
    f["Description"] = a.description
    if a.model is not None:
        model = territory.models.get(a.model.id)
        name = model.content.name if model else a.model.id
        f["Modèle"] = f"{name} (version {a.model.version})" if a.model.version else name
    else:
        f["Modèle"] = ""
    f["Finalité principale"] = a.purpose
    f["Finalités secondaires"] = a.secondary_purposes
    basis = a.legal_basis
    f["Base légale"] = basis.basis.label if basis else ""
    f["Référence de la base légale"] = basis.reference if basis else ""
    f["Précisions sur la base légale"] = basis.details if basis else ""
    f["Base légale hors des missions de service public"] = (
        _yes_no(True) if basis and basis.outside_public_tasks else ""
    )
    f["Cadre juridique"] = a.framework.label if a.framework is not None and a.police_directive else ""
    f["Bases légales des finalités secondaires"] = tuple(
        f"{p.purpose} : {p.basis.basis.label}"
        + (f" ({p.basis.reference})" if p.basis.reference else "")
        + (", hors des missions de service public" if p.basis.outside_public_tasks else "")
        for p in a.purposes_with_bases
        if p.own and p.basis is not None
    )
    prospecting = a.prospecting
    f["Canaux de prospection"] = tuple(c.label for c in prospecting.channels) if prospecting else ()
    f["Prospection électronique des seuls clients (produits analogues)"] = (
        _yes_no(prospecting.similar_products_customers) if prospecting else ""
    )
    f["Prospection par courriel des seuls professionnels"] = (
        _yes_no(prospecting.professionals) if prospecting else ""
    )
    f["Conditions des données sensibles ou pénales"] = tuple(
        c.condition.label + (f" ({c.reference})" if c.reference else "") for c in a.conditions
    )
    f["Autorisations préalables"] = tuple(
        f"{x.nature.label} : {x.reference}"
        + (f", du {_date(x.date)}" if x.date else "")
        + (f", pour {x.validity_text}" if x.validity else "")
        + (f". {x.details}" if x.details else "")
        for x in a.authorisations
    )
    f["Personnes concernées"] = tuple(s.label for s in a.subjects)
    f["Précisions sur les personnes concernées"] = a.subjects_details
    f["Nombre approximatif de personnes"] = number_fr(a.volume) if a.volume is not None else ""
    f["Enregistrements par an"] = number_fr(a.records_per_year) if a.records_per_year is not None else ""
    f["Part de la population"] = f"{a.population_share:g} %" if a.population_share is not None else ""
    f["Étendue géographique"] = a.extent.label if a.extent else ""
    f["Nature du traitement"] = tuple(t.label for t in a.purpose_kinds)
    f["Moyens employés"] = tuple(t.label for t in a.means)
    f["Surveillance des personnes"] = tuple(t.label for t in a.monitoring)
    f["Croisement de données"] = _yes_no(a.combined_data)
    f["Exclusion d'un droit, d'un service ou d'un contrat"] = _yes_no(a.exclusion)
    f["Usage innovant"] = _yes_no(a.innovative)
    f["Catégories de données"] = tuple(c.kind.label for c in a.categories)
    for c in a.categories:
        label = c.kind.label
        r = c.retention
        f[f"Précisions sur les données ({label})"] = c.details
        f[f"Durée de conservation ({label})"] = r.duration_text if r else ""
        f[f"Phases de conservation ({label})"] = (
            tuple(p.text + (f". {p.details}" if p.details else "") for p in r.phases) if r else ()
        )
        f[f"Critères de conservation ({label})"] = r.criteria if r else ""
        f[f"Point de départ de la conservation ({label})"] = r.start if r else ""
        f[f"Sort final ({label})"] = r.final_fate.label if r and r.final_fate else ""
        f[f"Référence de la durée de conservation ({label})"] = r.reference if r else ""
        f[f"Précisions sur la conservation ({label})"] = r.details if r else ""
    f["Sources des données"] = tuple(s.label for s in a.sources)
    f["Précisions sur les sources"] = a.sources_details
    f["Fourniture des données obligatoire"] = _yes_no(a.mandatory_collection)
    f["Destinataires : services internes"] = a.recipients.internal
    f["Destinataires : organismes externes"] = a.recipients.external
    f["Sous-traitants"] = tuple(
        territory.processors[p].name if p in territory.processors else p for p in a.recipients.processors
    )
    f["Transferts hors de l'Union européenne"] = _transfers(a.transfers)
    f["Logiciels et outils"] = a.tools
    f["Droits non applicables"] = tuple(r.label for r in a.rights_not_applicable)
    f["Précisions sur l'exercice des droits"] = a.rights_details
    f["Décision entièrement automatisée"] = _yes_no(a.automated_decision)
    f["Profilage"] = _yes_no(a.profiling)
    f["Traitement algorithmique : décisions individuelles"] = (
        _yes_no(True) if a.algorithmic_decisions else _yes_no(a.algorithm_individual_decisions)
    )
    f["Traitement algorithmique : décisions concernées"] = a.algorithm_decisions
    f["Traitement algorithmique : mention portée sur les décisions"] = a.algorithm_mention
    f["Traitement algorithmique : contribution à la décision"] = a.algorithm_contribution
    f["Traitement algorithmique : données et sources"] = a.algorithm_data
    f["Traitement algorithmique : paramètres et pondération"] = tuple(
        p.label + (f" : {p.weighting}" if p.weighting else "") for p in a.algorithm_parameters
    )
    f["Traitement algorithmique : opérations"] = a.algorithm_operations
    f["Traitement algorithmique : règles principales"] = a.algorithm_rules
    f["Traitement algorithmique : lien"] = a.algorithm_link
    dpia = a.dpia
    f["AIPD : critères du CEPD déclarés"] = tuple(t.label for t in dpia.criteria) if dpia else ()
    f["AIPD : critères écartés"] = (
        tuple(
            f"{x.term.label} : {x.justification}"
            for x in (*dpia.criteria_set_aside, *dpia.cnil_types_set_aside)
        )
        if dpia
        else ()
    )
    f["AIPD : types de la liste de la CNIL"] = tuple(t.label for t in dpia.cnil_types) if dpia else ()
    f["AIPD : type dispensé"] = dpia.exemption.label if dpia and dpia.exemption else ""
    f["État de l'AIPD"] = dpia.status.label if dpia and dpia.status else ""
    f["Date de l'AIPD"] = _date(dpia.date) if dpia else ""
    f["Résumé public de l'AIPD"] = dpia.summary if dpia else ""
    f["Lien vers le résumé de l'AIPD"] = dpia.link if dpia else ""
    notice = a.information_notice
    f["Mention d'information"] = {
        "generee": "Établie par la Maison DOTE à partir du registre",
        "absente": "Pas encore de mention d'information",
    }.get(notice, notice)
    f["Thématiques"] = tuple(t.label for t in a.themes)
    f["Pour le compte de"] = tuple(
        (territory.members_by_id[c].name if c in territory.members_by_id else c)
        if isinstance(c, str)
        else c.name
        for c in a.controllers_served
    )
    f["Responsables conjoints"] = tuple(p.name for p in a.joint_controllers)
    f["Date de création"] = _date(a.dates.created)
    f["Dernière mise à jour"] = _date(a.dates.updated)
    f["Dernière revue"] = _date(a.dates.reviewed)
    f["Prochaine revue"] = _date(a.dates.next_review)
    return f


def member_fields(m: Member, territory: Territory) -> dict[str, Value]:
    """A member's own public fields (its activities are compared one by one)."""
    parent = territory.members_by_id.get(m.parent_id)
    return {
        "Nom": m.name,
        "Type de membre": m.kind.label,
        "Présentation": m.description,
        "Commune du siège": m.town,
        "Adresse du siège": m.address,
        "Site web": m.website,
        "Population": number_fr(m.population) if m.population is not None else "",
        "Effectif (agents ou salariés)": number_fr(m.staff) if m.staff is not None else "",
        "Rattachement": parent.name if parent else m.parent_id,
        "Publication": {"complete": "Complète", "choix": "Au choix du membre"}.get(
            m.publication, m.publication
        ),
        "Délégué à la protection des données": "DPO mutualisé de la Maison"
        if m.dpo_shared
        else (m.dpo.name if m.dpo else ""),
        "Exercice des droits": _contact(m.rights_contact),
        "Date d'adhésion à la Maison": _date(m.joined),
        "Dernière formation": _date(m.training_last),
    }


def processor_fields(p: Processor, territory: Territory) -> dict[str, Value]:
    """A processor's public fields, as its page shows them."""
    member = territory.members_by_id.get(p.member_id)
    return {
        "Nom": p.name,
        "Services rendus": p.services,
        "SIREN": p.siren,
        "Site web": p.website,
        "Membre de la Maison": member.name if member else p.member_id,
        "Contact": _contact(p.contact),
        "DPO du sous-traitant": p.dpo.name if p.dpo else "",
        "Hébergement": tuple(
            h.country.label
            + (f" ({h.provider})" if h.provider else "")
            + (f". {h.details}" if h.details else "")
            for h in p.hosting
        ),
        "Contrat de sous-traitance (art. 28)": p.contract_status.label if p.contract_status else "",
        "Date du contrat": _date(p.contract_date),
        "Précisions sur le contrat": p.contract_details,
        "Transferts hors de l'Union européenne": _transfers(p.transfers),
        "Certifications": p.certifications,
    }


# --- Markdown -----------------------------------------------------------------------

#: The longest text shown whole; longer ones are shortened around what changed.
LIMIT = 160
_CONTEXT = 40
_JOINER = "\u2060"  # WORD JOINER: invisible, and no username, reference or URL spans it
# What GitHub and GitLab turn into mentions, references or links inside plain text:
# @user, #12, !12 (merge request), ~label, %milestone, $snippet, &epic, URLs and www.
_REFERENCE = re.compile(r"([@#!~%$&])")
_URL = re.compile(r"(:)(//)|(www)(\.)", re.IGNORECASE)
# safe.markdown_text's table, for a comment: HTML's <, > and & and Markdown's punctuation
# as character references (they display the same and start nothing), plus $ (math on
# GitHub). Quotes and parentheses, frequent in French, are kept: in text outside any
# attribute they start nothing, and no link can start without its escaped bracket.
# Bidirectional overrides and isolates: text that displays in another order than it reads.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]#+!|~$"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def inert(value: object) -> str:
    """Untrusted text made inert for a Markdown comment on GitHub or GitLab.

    One line (so that no block of Markdown can start), no mention, reference or link (a
    word joiner after ``@``, ``#``, the ``:`` of ``://``…), no bidirectional override, no HTML and no Markdown
    punctuation left live (character references, as :func:`dote.safe.markdown_text` writes them).
    """
    text = " ".join(_BIDI.sub("", str(value)).split())
    text = _REFERENCE.sub(rf"\1{_JOINER}", text)
    text = _URL.sub(lambda m: f"{m.group(1) or m.group(3)}{_JOINER}{m.group(2) or m.group(4)}", text)
    return "".join(_ESCAPES.get(c, c) for c in text)


def shorten(text: str, limit: int = LIMIT) -> str:
    """At most ``limit`` characters, cut at a word, with « … »."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def _common(a: str, b: str) -> int:
    """The length of the longest common prefix of two texts."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shorten_pair(old: str, new: str, limit: int = LIMIT) -> tuple[str, str]:
    """Two long versions of a text, each cut to the part that differs, with some context."""
    old, new = " ".join(old.split()), " ".join(new.split())
    if len(old) <= limit and len(new) <= limit:
        return old, new
    prefix = _common(old, new)
    suffix = _common(old[prefix:][::-1], new[prefix:][::-1])
    start = max(0, prefix - _CONTEXT)
    if start:  # start at a word
        space = old.rfind(" ", 0, start + 1)
        start = space + 1 if space > 0 else 0

    def cut(text: str) -> str:
        stop = min(len(text), len(text) - suffix + _CONTEXT)
        if stop < len(text):
            space = text.find(" ", stop)
            stop = space if space != -1 else len(text)
        middle = shorten(text[start:stop], limit)
        head = "…" if start else ""
        tail = "…" if stop < len(text) and not middle.endswith("…") else ""
        return head + middle + tail

    return cut(old), cut(new)


def _value(text: str) -> str:
    return inert(text) if text else "*non renseigné*"


def _field_line(change: FieldChange) -> str:
    name = inert(change.field)
    if change.is_list:
        parts = []
        if change.added:
            parts.append("ajout de " + ", ".join(f"« {inert(shorten(v))} »" for v in change.added))
        if change.removed:
            parts.append("retrait de " + ", ".join(f"« {inert(shorten(v))} »" for v in change.removed))
        return f"{name} : " + " ; ".join(parts)
    old, new = shorten_pair(change.old, change.new)
    return f"{name} : {_value(old)} → {_value(new)}"


def _revision_text(side: Side) -> str:
    if side.revision is None:
        return "l'arbre de travail"
    commit = f" (`{side.commit[:12]}`)" if side.commit else ""
    return f"« {inert(side.revision)} »{commit}"


def markdown(changes: Changes) -> str:
    """The changes in French Markdown, for a pull-request comment; every register text is inert."""
    lines = [
        "## Changements des registres publics",
        "",
        f"**{changes.summary()}**",
        "",
        f"Entre {_revision_text(changes.base)} et {_revision_text(changes.head)}, "
        f"au {date_fr(changes.date)}.",
    ]
    if changes.empty:
        return "\n".join(lines) + "\n"

    if changes.activities:
        lines += ["", "### Activités de traitement"]
        current = None
        for e in changes.activities:
            if e.member_id != current:
                current = e.member_id
                lines += ["", f"#### {inert(e.member_name)}", ""]
            lines += _entry_lines(e, ("Ajoutée", "Supprimée", "Modifiée"), inert(e.note))

    if changes.members:
        lines += ["", "### Membres", ""]
        for e in changes.members:
            lines += _entry_lines(
                e, ("Ajouté", "Retiré", "Modifié"), f"label : {inert(e.note)}" if e.note else ""
            )

    if changes.levels:
        lines += ["", "### Niveaux de label", ""]
        lines += [
            f"- {inert(m.member_name)} : {inert(m.old_label)} → {inert(m.new_label)}" for m in changes.levels
        ]

    if changes.verdicts:
        lines += ["", "### Dépistage d'analyse d'impact (AIPD)", ""]
        lines += [
            f"- {inert(m.member_name)}, {inert(shorten(m.activity_name))} : "
            f"{inert(m.old_label)} → {inert(m.new_label)}"
            for m in changes.verdicts
        ]

    if changes.models or changes.left_behind:
        lines += ["", "### Modèles de traitements", ""]
        for model in changes.models:
            name = inert(shorten(model.name))
            if model.status == "ajoute":
                lines.append(f"- Ajouté : **{name}** (version {model.new_version})")
            elif model.status == "retire":
                lines.append(f"- Retiré : **{name}**")
            else:
                lines.append(f"- **{name}** : version {model.old_version} → {model.new_version}")
                lines += [f"  - version {v} : {inert(shorten(text))}" for v, text in model.journal]
        if changes.left_behind:
            lines += ["", "Activités restées sur une version antérieure de leur modèle :", ""]
            for d in changes.left_behind:
                fields = ", ".join(inert(f) for f in d.changed_fields) or "aucun"
                lines.append(
                    f"- {inert(d.member_name)}, {inert(shorten(d.activity_name))} : "
                    f"modèle {inert(shorten(d.model_name))}, version {d.pinned} (la dernière est la {d.latest}) ; "
                    f"champs changés depuis : {fields}"
                )

    if changes.processors:
        lines += ["", "### Sous-traitants", ""]
        for e in changes.processors:
            lines += _entry_lines(e, ("Ajouté", "Retiré", "Modifié"))
    return "\n".join(lines) + "\n"


def _entry_lines(e: Entry, words: tuple[str, str, str], note: str = "") -> list[str]:
    """An entry added, removed or changed (with its fields), in the words of its gender."""
    added, removed, changed = words
    name = inert(shorten(e.name))
    if e.status == "ajoute":
        return [f"- {added} : **{name}**" + (f" ({note})" if note else "")]
    if e.status == "retire":
        return [f"- {removed} : **{name}**"]
    return [f"- {changed} : **{name}**", *(f"  - {_field_line(c)}" for c in e.fields)]


# --- JSON ---------------------------------------------------------------------------

_STATUS = {"ajoute": "ajout", "retire": "retrait", "modifie": "modification"}


def _field_json(c: FieldChange) -> dict[str, Any]:
    if c.is_list:
        return {"champ": c.field, "ajouts": list(c.added), "retraits": list(c.removed)}
    return {"champ": c.field, "avant": c.old or None, "apres": c.new or None}


def _side_json(side: Side) -> dict[str, Any]:
    return {"revision": side.revision, "commit": side.commit, "arbre_de_travail": side.revision is None}


def as_json(changes: Changes) -> dict[str, Any]:
    """The same facts as :func:`markdown`, whole and unescaped, with ids, for tools."""
    return {
        "base": _side_json(changes.base),
        "cible": _side_json(changes.head),
        "date": changes.date.isoformat(),
        "resume": changes.summary(),
        "aucun_changement": changes.empty,
        "activites": [
            {
                **_entry_json(e, "activite", {"membre": e.member_id, "membre_nom": e.member_name}),
                **({"aipd": e.note} if e.status == "ajoute" else {}),
            }
            for e in changes.activities
        ],
        "membres": [
            {**_entry_json(e, "membre"), **({"label": e.note or None} if e.status == "ajoute" else {})}
            for e in changes.members
        ],
        "niveaux_label": [
            {
                "membre": m.member_id,
                "nom": m.member_name,
                "avant": m.old or None,
                "apres": m.new or None,
                "avant_libelle": m.old_label,
                "apres_libelle": m.new_label,
            }
            for m in changes.levels
        ],
        "aipd": [
            {
                "membre": m.member_id,
                "membre_nom": m.member_name,
                "activite": m.activity_id,
                "nom": m.activity_name,
                "avant": m.old,
                "apres": m.new,
                "avant_libelle": m.old_label,
                "apres_libelle": m.new_label,
            }
            for m in changes.verdicts
        ],
        "modeles": [
            {
                "changement": _STATUS[m.status],
                "modele": m.id,
                "nom": m.name,
                "version_avant": m.old_version,
                "version_apres": m.new_version,
                "journal": [{"version": v, "resume": text} for v, text in m.journal],
            }
            for m in changes.models
        ],
        "activites_en_retard": [
            {
                "modele": d.model_id,
                "modele_nom": d.model_name,
                "membre": d.member_id,
                "membre_nom": d.member_name,
                "activite": d.activity_id,
                "nom": d.activity_name,
                "version": d.pinned,
                "derniere_version": d.latest,
                "champs_changes": list(d.changed_fields),
            }
            for d in changes.left_behind
        ],
        "sous_traitants": [_entry_json(e, "sous_traitant") for e in changes.processors],
    }


def _entry_json(e: Entry, id_key: str, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """An entry added, removed or changed, its id under ``id_key`` (after ``before``'s keys)."""
    return {
        "changement": _STATUS[e.status],
        **(before or {}),
        id_key: e.id,
        "nom": e.name,
        "champs": [_field_json(c) for c in e.fields],
    }
