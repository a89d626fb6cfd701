"""Model inheritance: an activity states only what differs from its model.

The rules, the same for a model that extends another model:

* a value written in the activity **replaces** the model's (texts, numbers, booleans,
  ``transferts`` as a whole, ``mention_information``…);
* blocks (``finalites``, ``base_legale``, ``destinataires``, ``aipd``, ``dates``…) are
  merged **key by key**, with the same rules inside;
* lists **add up**: the model's items first, then the activity's new ones
  (``personnes_concernees``, ``sources``, ``outils``, ``destinataires.externes``…);
* lists of records are merged **by their key**: a data category written with the code
  of an inherited one completes and replaces its fields (``categories_donnees`` by
  ``code``, ``conditions_sensibles`` by ``code``, ``responsables_conjoints`` by ``nom``,
  a retention's ``phases`` by ``phase``, ``autorisations`` by ``reference``,
  an algorithm's ``parametres`` by ``libelle``); a retention
  written as ``phases`` replaces an inherited ``duree`` or ``criteres``, and the reverse;
* ``retirer`` removes inherited list items (by value, code or name); removing an item
  the model does not have is an error;
* a model's own bookkeeping (``version``, ``secteurs``, ``references``, ``journal``) is
  not inherited.

``modele: id@N`` pins version N: the activity is resolved against that version, kept in
``registers/models/versions/<id>@<N>.yml`` (``dote models bump`` writes it), and the drift
report lists what changed since. Without ``@N`` the activity follows the latest version.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dote.cache import DocumentCache, problem_entries, problems_of
from dote.confidential import published_fields
from dote.layout import VERSIONS_DIR, Sources
from dote.load import Document, DocumentsOnDemand, JsonPath, document_names, folder_of
from dote.model import Drift, ModelRef, model_journal
from dote.problems import Position, Problem
from dote.schema import validate_document

MODEL_ONLY_KEYS = frozenset({"version", "secteurs", "references", "journal", "modele", "retirer"})

#: Lists of records merged by a key; every other list adds up item by item.
KEYED_LISTS: Mapping[JsonPath, str] = {
    ("categories_donnees",): "code",
    ("conditions_sensibles",): "code",
    ("responsables_conjoints",): "nom",
    ("categories_donnees", "*", "conservation", "phases"): "phase",
    ("autorisations",): "reference",
    ("traitement_algorithmique", "parametres"): "libelle",
}
#: A data category's retention is one duration (or criteria, from a start) or phases (each with
#: its start): the form an activity writes replaces the other form its model gives.
_RETENTION = ("categories_donnees", "*", "conservation")
_SINGLE_RETENTION = frozenset({"duree", "criteres", "depart"})
#: Values replaced as a whole even when they are lists or blocks.
REPLACED: frozenset[JsonPath] = frozenset({("transferts",), ("mention_information",)})


@dataclass(frozen=True)
class Catalogue:
    """Every version of every model: the current files and the archived versions."""

    current: Mapping[str, Document]
    archived: Mapping[tuple[str, int], Document]

    def latest(self, model_id: str) -> int:
        return int(self.current[model_id].data.get("version", 1))

    def document(self, ref: ModelRef) -> Document | None:
        doc = self.current.get(ref.id)
        if doc is None:
            return None
        if ref.version is None or ref.version == self.latest(ref.id):
            return doc
        return self.archived.get((ref.id, ref.version))

    def versions(self, model_id: str) -> list[int]:
        return sorted({v for (i, v) in self.archived if i == model_id} | {self.latest(model_id)})


def resolve_sources(
    sources: Sources, kept: DocumentCache | None = None, keys: Mapping[str, str] | None = None
) -> tuple[Sources, list[Problem], list[Drift]]:
    """Sources whose activities (and models) carry their inherited content.

    Also returns the drift: activities pinned to an older version of their model.

    With ``kept`` (the cache the files were read with) and ``keys`` (each member's key: its
    files and the shared files, see :func:`dote.pipeline.member_key`), what a member's
    resolution found (the ids resolved, its problems, its drift) is kept with its files and
    read back while its key is the same: its activities are then resolved only if something
    reads them (:class:`~dote.load.DocumentsOnDemand`).
    """
    problems: list[Problem] = []
    catalogue = Catalogue(sources.models, sources.archives)
    resolver = _Resolver(catalogue)
    models = {}
    for model_id, doc in sources.models.items():
        data, found = resolver.model(ModelRef(model_id), ())
        problems.extend(found)
        models[model_id] = doc if data is None else _with_data(doc, data)
        if data is not None and "modele" in doc.data:
            problems.extend(_check_resolved(models[model_id], "modele", doc.data["modele"]))
    activities: dict[str, Mapping[str, Document]] = {}
    drift: list[Drift] = []
    for member_id, docs in sources.activities.items():
        key = keys.get(member_id) if kept is not None and keys is not None and docs else None
        names = document_names(docs)
        folder = folder_of(docs) if key is not None else ""
        found_before = (
            kept.member_value(folder, _RESOLVED + key) if kept is not None and key is not None else None
        )
        if isinstance(found_before, tuple) and len(found_before) == 3:
            ids, found, drifted = found_before
            problems.extend(problems_of(found))
            drift.extend(_drift_back(member_id, entry, resolver) for entry in drifted)
            activities[member_id] = DocumentsOnDemand(
                {i: names[i] for i in ids}, functools.partial(_resolve_again, docs, ids, resolver)
            )
            continue
        member = sources.members.get(member_id)
        # A member publishing "au choix" keeps fields in the overlay: only complete sources
        # (overlay merged) are checked for required fields.
        partial = member is not None and published_fields(member.data) is not None and not sources.complete
        found = []
        resolved_docs = {}
        for activity_id, doc in docs.items():
            data, found_here = resolver.extend(doc, ())
            found.extend(found_here)
            if data is None:
                continue
            resolved = _with_data(doc, data)
            if "modele" in doc.data:
                found.extend(_check_resolved(resolved, "activite", doc.data["modele"], partial=partial))
            resolved_docs[activity_id] = resolved
        member_drift = _member_drift(member_id, docs, catalogue, resolver)
        if kept is not None and key is not None:
            entries = tuple(_drift_entry(d) for d in member_drift)
            kept.keep_member_value(
                folder, _RESOLVED + key, (tuple(resolved_docs), problem_entries(found), entries)
            )
        problems.extend(found)
        drift.extend(member_drift)
        activities[member_id] = resolved_docs
    problems.extend(_journal_warnings(sources.models))
    return replace(sources, models=models, activities=activities), problems, drift


#: What a member's resolution is kept under, with its files (followed by its key).
_RESOLVED = "resolution:"


def _resolve_again(
    docs: Mapping[str, Document], ids: Iterable[str], resolver: _Resolver
) -> dict[str, Document]:
    """A member's resolved activities (``ids``: those that resolved when its resolution was kept)."""
    resolved = {}
    for activity_id in ids:
        doc = docs[activity_id]
        data, _ = resolver.extend(doc, ())
        if data is not None:
            resolved[activity_id] = _with_data(doc, data)
    return resolved


def _drift_entry(drift: Drift) -> tuple[Any, ...]:
    """A drift as plain values (its journal is read from the model again)."""
    where = drift.position
    return (
        drift.model_id,
        drift.latest,
        drift.activity_id,
        drift.pinned,
        where.file,
        where.line,
        where.column,
        drift.changed_fields,
    )


def _drift_back(member_id: str, entry: tuple[Any, ...], resolver: _Resolver) -> Drift:
    model_id, latest, activity_id, pinned, file, line, column, changed = entry
    new, _ = resolver.model(ModelRef(model_id), ())
    journal = model_journal(new, after=pinned) if new is not None else ()
    return Drift(
        model_id, latest, member_id, activity_id, pinned, Position(file, line, column), changed, journal
    )


def _content(data: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (data or {}).items() if k not in MODEL_ONLY_KEYS and k != "nom"}


def _member_drift(
    member_id: str, docs: Mapping[str, Document], catalogue: Catalogue, resolver: _Resolver
) -> list[Drift]:
    """For each activity of a member pinned to an older model version: the fields and journal since."""
    result = []
    for activity_id, doc in docs.items():
        text = doc.data.get("modele")
        if text is None:
            continue
        ref = ModelRef.parse(text)
        if ref.version is None or ref.id not in catalogue.current:
            continue
        latest = catalogue.latest(ref.id)
        if ref.version >= latest:
            continue
        old, _ = resolver.model(ref, ())
        new, _ = resolver.model(ModelRef(ref.id), ())
        if old is None or new is None:
            continue
        before, after = _content(old), _content(new)
        changed = tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
        journal = model_journal(new, after=ref.version)
        result.append(
            Drift(
                ref.id,
                latest,
                member_id,
                activity_id,
                ref.version,
                doc.position(("modele",)),
                changed,
                journal,
            )
        )
    return result


def _journal_warnings(models: Mapping[str, Document]) -> list[Problem]:
    problems = []
    for model_id, doc in models.items():
        version = doc.data.get("version", 1)
        versions = {e.get("version") for e in doc.data.get("journal") or ()}
        if version > 1 and version not in versions:
            problems.append(
                Problem(
                    doc.position(("version",)),
                    f"le journal du modèle « {model_id} » ne décrit pas la version {version}",
                    "ajoutez à « journal » une entrée {version, date, resume} : les membres restés sur "
                    "une version antérieure la liront",
                    "avertissement",
                )
            )
    return problems


def _check_resolved(doc: Document, kind: str, model: str, *, partial: bool = False) -> list[Problem]:
    """The whole schema, required fields included, on the content once merged with its model."""
    return [
        replace(p, hint=f"après fusion avec le modèle « {model} »" + (f" ; {p.hint}" if p.hint else ""))
        for p in validate_document(doc, kind, partial=partial)
    ]


def _with_data(doc: Document, data: dict[str, Any]) -> Document:
    return Document(doc.path, doc.name, data, doc.values, doc.keys)


class _Resolver:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.cache: dict[tuple[str, int | None], tuple[dict[str, Any] | None, list[Problem]]] = {}

    def model(self, ref: ModelRef, chain: tuple[str, ...]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """A model's content with its own ancestors resolved (``None`` if it cannot be)."""
        key = (ref.id, ref.version)
        if key in self.cache:
            return self.cache[key]
        doc = self.catalogue.document(ref)
        if doc is None:
            return None, []  # reported where the reference is written
        result = self.extend(doc, (*chain, ref.id))
        self.cache[key] = result
        return result

    def extend(self, doc: Document, chain: tuple[str, ...]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """``doc``'s data over the content of the model it names, if any."""
        data = doc.data
        text = data.get("modele")
        if text is None:
            if "retirer" in data:
                return None, [
                    Problem(doc.key_position(("retirer",)), "« retirer » n'a de sens qu'avec un « modele »")
                ]
            return dict(data), []
        ref = ModelRef.parse(text)
        if ref.id in chain:
            cycle = " → ".join((*chain, ref.id))
            return None, [
                Problem(
                    doc.position(("modele",)),
                    f"cycle de modèles : {cycle}",
                    "un modèle ne peut pas hériter de lui-même, même par d'autres modèles",
                )
            ]
        if self.catalogue.document(ref) is None:
            if ref.id in self.catalogue.current and ref.version is not None:
                known = ", ".join(str(v) for v in self.catalogue.versions(ref.id))
                return None, [
                    Problem(
                        doc.position(("modele",)),
                        f"version {ref.version} du modèle « {ref.id} » introuvable",
                        f"versions disponibles : {known} (les anciennes sont dans "
                        f"registers/models/{VERSIONS_DIR}/)",
                    )
                ]
            return None, []  # an unknown model id is reported by the reference checks
        base, problems = self.model(ref, chain)
        if base is None:
            return None, problems
        inherited = {k: v for k, v in base.items() if k not in MODEL_ONLY_KEYS}
        own = {k: v for k, v in data.items() if k != "retirer"}
        merged = _merge(inherited, own, ())
        removals = data.get("retirer") or {}
        problems = list(problems)
        merged = _remove(merged, removals, ("retirer",), doc, ref.id, problems)
        return merged, problems


def _merge(base: Any, own: Any, path: JsonPath) -> Any:
    if path in REPLACED:
        return own
    if isinstance(base, dict) and isinstance(own, dict):
        result = dict(base)
        if path == _RETENTION and "phases" in own:
            result = {k: v for k, v in result.items() if k not in _SINGLE_RETENTION}
        elif path == _RETENTION and own.keys() & {"duree", "criteres"}:
            result.pop("phases", None)
        for key, value in own.items():
            result[key] = _merge(base[key], value, (*path, key)) if key in base else value
        return result
    if isinstance(base, list) and isinstance(own, list):
        field = KEYED_LISTS.get(path)
        if field is None:
            return base + [item for item in own if item not in base]
        positions = {item.get(field): i for i, item in enumerate(base) if isinstance(item, dict)}
        items = list(base)
        for item in own:
            index = positions.get(item.get(field)) if isinstance(item, dict) else None
            if index is None:
                items.append(item)
            else:
                items[index] = _merge(items[index], item, (*path, "*"))
        return items
    return own


def _remove(
    data: dict[str, Any],
    removals: Mapping[str, Any],
    at: JsonPath,
    doc: Document,
    model_id: str,
    problems: list[Problem],
) -> dict[str, Any]:
    result = dict(data)
    for key, value in removals.items():
        path = (*at, key)
        if isinstance(value, dict):
            inner = result.get(key)
            result[key] = _remove(
                inner if isinstance(inner, dict) else {}, value, path, doc, model_id, problems
            )
            continue
        field = KEYED_LISTS.get((*at[1:], key))
        current = list(result.get(key) or [])
        for i, item in enumerate(value):
            matches = [c for c in current if (c.get(field) if field and isinstance(c, dict) else c) == item]
            if not matches:
                problems.append(
                    Problem(
                        doc.position((*path, i)),
                        f"« {item} » n'est pas hérité du modèle « {model_id} » : rien à retirer",
                        "retirez cette ligne de « retirer », ou vérifiez l'orthographe",
                    )
                )
            current = [c for c in current if c not in matches]
        result[key] = current
    return result
