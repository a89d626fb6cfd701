"""The registers explorer (``/registres/explorer/``): every activity of the territory, filtered.

One page and one data file. The page (``explorer.html``) holds the no-JavaScript path: a
link to every member page, where each activity is published in full. ``explorer.js``
loads the data file, builds the filters (native checkboxes or selects, in fieldsets with
legends), counts every facet value, keeps the filters in the query string and lists the
matching activities, each linked to its anchor on its member's page.

The data file (:data:`DATA_PATH`) is made from the public :class:`~dote.model.Territory`
only, as the pages are (a public build never holds the confidential overlay), and is
written compactly, every string once:

``format``
    :data:`FORMAT`, the version of this layout.
``textes``
    the activities' ids, names and purposes, each distinct string once.
``facettes``
    one table per facet: ``cle`` (its query-string parameter), ``titre`` (its French
    legend), ``niveau`` (``membre``: a value of the member, such as its type, or
    ``activite``), ``multiple`` (an activity may have several values) and ``valeurs``,
    a list of ``[key, label]`` (the key is what the query string carries: an id, a code,
    or the slug of a free-text value). The first facet is always ``membre``.
``membres``
    one row per value of the ``membre`` facet: the index of its value in each member-level
    facet, in the order of ``facettes``.
``profils``
    the distinct combinations of an activity's own fields: ``[id, name, purpose]`` as
    indexes of ``textes``, then, for each activity-level facet in the order of
    ``facettes``, the index of its value (or a list of indexes for a multiple facet).
    Activities built from one model often share one profile.
``activites``
    two integers per activity, flat: its member (row of ``membres``) and its profile,
    sorted by member then activity name.
``pages`` (optional)
    one absolute ``http(s)`` address per row of ``membres`` (or ""): the member's page on
    another site, which its activities link to (``#`` and the activity's id) instead of
    this site's member pages. The national explorer (:mod:`dote.national.site`) writes it.

Every string is stored with ``&``, ``<`` and ``>`` written as character references, so
that the file is inert even for a consumer that would treat a value as markup;
``explorer.js`` turns them back into text and writes text nodes only.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from dote.dpia import VERDICT_LABELS
from dote.label import NO_LEVEL, Evaluation
from dote.model import Activity, Member, Territory, activity_ids, activity_summaries
from dote.render import GeneratedPage, label_context, relative_url
from dote.safe import safe_url
from dote.vocabulary import slugify

#: The explorer's address; it sits where a member called « explorer » would.
EXPLORER_ID = "explorer"
EXPLORER_URL = f"registres/{EXPLORER_ID}/"
DATA_PATH = f"{EXPLORER_URL}donnees.json"
SCRIPT_PATH = "assets/dote/explorer.js"
STYLESHEET_PATH = "assets/dote/explorer.css"
FORMAT = 1
#: The facets of the means used and of what is watched (issue 14's facts): « which members
#: film public streets? » is a question the explorers answer.
MEANS_TITLE = "Moyens employés (caméras, biométrie, géolocalisation…)"
MONITORING_TITLE = "Surveillance (espace public, locaux, salariés…)"
#: The value of an activity that does not state a single-valued field, or withholds it.
UNSTATED = "non-renseigne"
#: The label facet's value for a member that reaches no level.
NO_LEVEL_KEY = "aucun-niveau"


def clash(territory: Territory) -> str:
    """Why the explorer cannot be published (a member has its address), in French, or ``""``."""
    if EXPLORER_ID in territory.members_by_id:
        return (
            f"le membre « {EXPLORER_ID} » (registers/members/{EXPLORER_ID}/) aurait l'adresse de "
            f"l'explorateur des registres (/{EXPLORER_URL}) ; renommez son dossier"
        )
    return ""


def page(territory: Territory, env: jinja2.Environment) -> GeneratedPage:
    """The explorer page: the filters' frame, and a link to every member page without JavaScript."""

    def render(url: str) -> str:
        before, after = relative_url(url, "registres/@/").split("@", 1)
        members = sorted(territory.members, key=lambda m: _natural(m.name))
        return env.get_template("explorer.html").render(
            territory=territory,
            members=members,
            href_member=lambda member_id: relative_url(url, f"registres/{member_id}/"),
            href_index=relative_url(url, "registres/"),
            href_search=relative_url(url, "recherche/"),
            href_data=relative_url(url, DATA_PATH),
            href_script=relative_url(url, SCRIPT_PATH),
            href_stylesheet=relative_url(url, STYLESHEET_PATH),
            member_link_before=before,
            member_link_after=after,
        )

    return GeneratedPage(f"{EXPLORER_URL}index.md", EXPLORER_URL, "Explorer les registres", render)


# --- the data file --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)  # activities built from one model share their names
def _natural(text: str) -> tuple[Any, ...]:
    """A sort key that reads numbers as numbers and ignores case and accents (« Exemple 2 » < « Exemple 10 »)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", slugify(text)))


@dataclass
class _Facet:
    """One facet while it is being collected: its values by key, with their labels."""

    key: str
    title: str
    level: str  # "membre" or "activite"
    multiple: bool
    # How values are ordered: a fixed order of keys (codes, ids), else by label.
    order: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def value(self, key: str, label: str) -> str:
        self.labels.setdefault(key, label)
        return key

    def table(self) -> list[str]:
        """The keys in display order."""
        if self.order is not None:
            rank = {k: i for i, k in enumerate(self.order)}
            return sorted(self.labels, key=lambda k: (rank.get(k, len(rank)), _natural(self.labels[k])))
        return sorted(self.labels, key=lambda k: (_natural(self.labels[k]), k))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Interner:
    """Distinct values, each given the index of its first appearance."""

    def __init__(self) -> None:
        self.index: dict[Hashable, int] = {}
        self.items: list[Any] = []

    def __call__(self, item: Hashable, stored: Any = None) -> int:
        found = self.index.get(item)
        if found is None:
            found = self.index[item] = len(self.items)
            self.items.append(item if stored is None else stored)
        return found


#: A member's explorer values as plain data (kept between builds, see :func:`facet_values`):
#: its member-level (facet, key, label) triples; for each activity-level facet, the (key,
#: label) pairs its activities show, in the order met; and for each activity its id and, facet
#: by facet (in the order of :data:`ACTIVITY_FACETS`), the keys it shows, each once.
MemberValues = tuple[
    tuple[tuple[str, str, str], ...],
    tuple[tuple[str, tuple[tuple[str, str], ...]], ...],
    tuple[tuple[str, tuple[tuple[str, ...], ...]], ...],
]

#: The activity-level facets, in the order of an activity's values.
ACTIVITY_FACETS = (
    "theme",
    "base",
    "donnees",
    "sensible",
    "moyens",
    "surveillance",
    "service",
    "destinataire",
    "sous-traitant",
    "hors-ue",
    "pays",
    "aipd",
)


def facet_values(
    territory: Territory,
    label: Evaluation | None,
    kept: Any = None,
    keys: Mapping[str, str] | None = None,
) -> tuple[list[_Facet], dict[str, dict[str, str]], dict[tuple[str, str], dict[str, Sequence[str]]]]:
    """Every facet, each member's value key by member-level facet, and each activity's
    (member id, activity id) value keys by activity-level facet.

    With ``kept`` (a :class:`dote.cache.MemberResults`) and ``keys`` (each member's key: its
    records, the shared files and the date, as for its label), a member's values are read
    back from an earlier build instead of computed; what is made is the same either way."""
    vocabularies = territory.vocabularies
    screening = label_context(territory, label, EXPLORER_URL)["screening"]

    def codes(vocabulary: str) -> list[str]:
        return list(vocabularies[vocabulary].terms)

    member_order = [m.id for m in sorted(territory.members, key=lambda m: (_natural(m.name), m.id))]
    member = _Facet("membre", "Membre", "membre", False, member_order)
    kind = _Facet("type", "Type de membre", "membre", False, codes("types-membres"))
    levels = [lv.id for lv in reversed(label.policy.levels)] if label else []
    level = _Facet("label", "Niveau de label du membre", "membre", False, [*levels, NO_LEVEL_KEY])
    theme = _Facet("theme", "Thème", "activite", True, codes("thematiques"))
    basis = _Facet("base", "Base légale", "activite", False, [*codes("bases-legales"), UNSTATED])
    data = _Facet("donnees", "Catégorie de données", "activite", True, codes("categories-donnees"))
    sensitive = _Facet("sensible", "Données sensibles", "activite", False, ["oui", "non"])
    means = _Facet("moyens", MEANS_TITLE, "activite", True, codes("moyens-traitement"))
    watched = _Facet("surveillance", MONITORING_TITLE, "activite", True, codes("lieux-surveillance"))
    internal = _Facet("service", "Service destinataire (interne)", "activite", True)
    external = _Facet("destinataire", "Destinataire extérieur", "activite", True)
    processor = _Facet("sous-traitant", "Sous-traitant", "activite", True)
    outside = _Facet(
        "hors-ue", "Transfert hors de l'Union européenne", "activite", False, ["oui", "non", UNSTATED]
    )
    country = _Facet("pays", "Pays hors de l'Union européenne", "activite", True)
    dpia = _Facet("aipd", "Analyse d'impact (AIPD)", "activite", False, list(VERDICT_LABELS))
    facets = [member, kind, level, theme, basis, data, sensitive, means, watched]
    facets += [internal, external, processor, outside, country, dpia]
    by_key = {f.key: f for f in facets}

    def member_values(m: Member) -> tuple[tuple[str, str, str], ...]:
        found = [("membre", m.id, m.name), ("type", m.kind.code, m.kind.label)]
        if label is not None:
            result = label.members.get(m.id)
            reached = result.level if result else None
            found.append(
                ("label", reached.id, reached.title) if reached else ("label", NO_LEVEL_KEY, NO_LEVEL)
            )
        return tuple(found)

    def free_text(texts: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """Free-text values (recipients), keyed by their slug: « Service État civil » and
        « service état-civil » are one."""
        return tuple((slugify(text) or "sans-nom", text) for text in texts if text.strip())

    def activity_values(activity: Activity) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        basis_term = activity.legal_basis.basis if activity.legal_basis else None
        countries = [t.country for t in activity.transfers_outside_eea]
        countries += [c for p in territory.processors_outside_eea(activity) for c in p.countries_outside_eea]
        if countries:
            leaves = ("oui", "Oui")
        elif activity.transfers is not None:
            leaves = ("non", "Non")
        else:
            leaves = (UNSTATED, "Non renseigné ou non publié")
        verdict = screening(activity)
        return (
            ("theme", tuple((t.code, t.label) for t in activity.themes)),
            (
                "base",
                ((basis_term.code, basis_term.label),)
                if basis_term
                else ((UNSTATED, "Non renseignée ou non publiée"),),
            ),
            ("donnees", tuple((c.kind.code, c.kind.label) for c in activity.categories)),
            (
                "sensible",
                (("oui", "Oui (art. 9, art. 10 ou NIR)"),)
                if activity.sensitive_categories
                else (("non", "Non"),),
            ),
            ("moyens", tuple((t.code, t.label) for t in activity.means)),
            ("surveillance", tuple((t.code, t.label) for t in activity.monitoring)),
            ("service", free_text(activity.recipients.internal)),
            ("destinataire", free_text(activity.recipients.external)),
            (
                "sous-traitant",
                tuple(
                    (pid, territory.processors[pid].name if pid in territory.processors else pid)
                    for pid in activity.recipients.processors
                ),
            ),
            ("hors-ue", (leaves,)),
            ("pays", tuple((c.code, c.label) for c in countries)),
            ("aipd", ((verdict.verdict, verdict.label),)),
        )

    def compute(m: Member) -> MemberValues:
        met: dict[str, dict[str, str]] = {}
        rows = []
        for activity in m.activities:
            values = dict(activity_values(activity))
            row = []
            for f in ACTIVITY_FACETS:
                pairs = values[f]
                labels_met = met.setdefault(f, {})
                for k, text in pairs:
                    labels_met.setdefault(k, text)  # as _Facet.value
                # Each value once per activity, in the order met.
                row.append((pairs[0][0],) if len(pairs) == 1 else tuple(dict.fromkeys(k for k, _ in pairs)))
            rows.append((activity.id, tuple(row)))
        return member_values(m), tuple((f, tuple(found.items())) for f, found in met.items()), tuple(rows)

    def values_of(m: Member) -> MemberValues:
        key = keys.get(m.id) if kept is not None and keys is not None else None
        found = kept.get(m.id, key) if key is not None else None
        if found is not None and tuple(a for a, _ in found[2]) == activity_ids(m):
            return found  # type: ignore[no-any-return]
        made = compute(m)
        if key is not None:
            kept.put(m.id, key, made)
        return made

    made = [(m, values_of(m)) for m in territory.members]
    if kept is not None and keys is not None:
        kept.prune({m.id for m in territory.members})
    # Labels are registered in the order met (a key's first label is its label): every
    # member's own values, then every activity's, member by member.
    of_members = {m.id: {f: by_key[f].value(k, text) for f, k, text in found[0]} for m, found in made}
    of_activities: dict[tuple[str, str], dict[str, Sequence[str]]] = {}
    labels = {f.key: f.labels for f in facets}
    for m, (_, met, rows) in made:
        for f, pairs in met:
            registered = labels[f]
            for k, text in pairs:
                registered.setdefault(k, text)
        for activity_id, row in rows:
            of_activities[(m.id, activity_id)] = dict(zip(ACTIVITY_FACETS, row, strict=True))
    return [f for f in facets if f.labels or f is member], of_members, of_activities


def data(
    territory: Territory,
    label: Evaluation | None = None,
    kept: Any = None,
    keys: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The explorer's data (see the module's documentation), as a JSON-ready value
    (``kept``, ``keys``: see :func:`facet_values`)."""
    facets, of_members, of_activities = facet_values(territory, label, kept, keys)
    activities = [
        ActivityRow(m.id, s.id, s.name, s.purpose, of_activities[(m.id, s.id)])
        for m in territory.members
        for s in activity_summaries(m)
    ]
    return encode(facets, of_members, activities)


#: Facet keys ordered, with their labels: the machinery shared with a second producer of
#: the format (the national explorer, :mod:`dote.national.site`).
Facet = _Facet
Interner = _Interner
natural = _natural
escape_text = _escape


@dataclass(frozen=True)
class ActivityRow:
    """One activity for :func:`encode`: its member's key (a value of the ``membre`` facet),
    its id, name and purpose, and its value keys by activity-level facet."""

    member: str
    id: str
    name: str
    purpose: str
    values: Mapping[str, Sequence[str]]


def encode(
    facets: list[_Facet],
    of_members: dict[str, dict[str, str]],
    activities: Iterable[ActivityRow],
    pages: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The compact data format (see the module's documentation) from collected facets.

    ``facets`` start with the ``membre`` facet; ``of_members`` gives each member's value key
    by member-level facet. With ``pages`` (member key → absolute ``http(s)`` address of its
    page), the data also holds ``pages``: one address per row of ``membres`` ("" for none),
    which the script links activities to instead of this site's member pages.
    """
    tables = {f.key: f.table() for f in facets}
    index = {f.key: {k: i for i, k in enumerate(tables[f.key])} for f in facets}
    member_facets = [f for f in facets if f.level == "membre" and f.key != "membre"]
    activity_facets = [f for f in facets if f.level == "activite"]
    member_rows = [
        [index[f.key][of_members[member_id][f.key]] for f in member_facets] for member_id in tables["membre"]
    ]

    texts = _Interner()
    profiles = _Interner()
    flat: list[int] = []
    members = index["membre"]
    ordered = sorted(activities, key=lambda a: (members[a.member], _natural(a.name), a.id))
    columns = [(f.key, index[f.key], f.multiple) for f in activity_facets]
    for activity in ordered:
        values = activity.values
        row: list[Any] = [texts(activity.id), texts(activity.name), texts(activity.purpose)]
        key: list[Any] = row[:]  # the row, its lists as tuples: what profiles are told apart by
        for name, positions, multiple in columns:
            if multiple:
                found = [positions[k] for k in values[name]]
                row.append(found)
                key.append(tuple(found))
            else:
                first = positions[values[name][0]]
                row.append(first)
                key.append(first)
        flat += [members[activity.member], profiles(tuple(key), row)]

    result: dict[str, Any] = {
        "format": FORMAT,
        "textes": [_escape(t) for t in texts.items],
        "facettes": [
            {
                "cle": f.key,
                "titre": _escape(f.title),
                "niveau": f.level,
                "multiple": f.multiple,
                "valeurs": [[_escape(k), _escape(f.labels[k])] for k in tables[f.key]],
            }
            for f in facets
        ],
        "membres": member_rows,
        "profils": profiles.items,
        "activites": flat,
    }
    if pages is not None:
        result["pages"] = [_escape(web_url(pages.get(member_id, ""))) for member_id in tables["membre"]]
    return result


def web_url(value: object) -> str:
    """An absolute ``http(s)`` address without its fragment, percent-encoded as by
    :func:`dote.safe.safe_url`, or "" (another scheme, no host, control characters)."""
    url = safe_url(value)
    if not url.lower().startswith(("http://", "https://")):
        return ""
    return url.split("#", 1)[0]


def data_file(
    territory: Territory,
    label: Evaluation | None = None,
    kept: Any = None,
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """The data file's bytes: compact UTF-8 JSON, the same for the same registers."""
    return json_bytes(data(territory, label, kept, keys))


def json_bytes(value: dict[str, Any]) -> bytes:
    """Explorer data (from :func:`data` or :func:`encode`) as its file's compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _unescape(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m[1]], text)


def decode(raw: bytes | str) -> list[dict[str, Any]]:
    """The data file read back (for tests and tools): one dict per activity, in the file's order.

    Each has ``id``, ``nom``, ``finalite`` and, for every facet key, the list of its value keys;
    with per-member ``pages``, ``page``: the activity's address on its member's page (or "").
    """
    content = json.loads(raw)
    facets = content["facettes"]
    member_facets = [f for f in facets if f["niveau"] == "membre" and f["cle"] != "membre"]
    activity_facets = [f for f in facets if f["niveau"] == "activite"]
    texts = [_unescape(t) for t in content["textes"]]
    found = []
    flat = content["activites"]
    for i in range(0, len(flat), 2):
        member, profile = flat[i], content["profils"][flat[i + 1]]
        record: dict[str, Any] = {
            "id": texts[profile[0]],
            "nom": texts[profile[1]],
            "finalite": texts[profile[2]],
            "membre": [_unescape(facets[0]["valeurs"][member][0])],
        }
        if "pages" in content:
            page_url = _unescape(content["pages"][member])
            record["page"] = f"{page_url}#{record['id']}" if page_url else ""
        for f, value in zip(member_facets, content["membres"][member], strict=True):
            record[f["cle"]] = [_unescape(f["valeurs"][value][0])]
        for f, value in zip(activity_facets, profile[3:], strict=True):
            chosen = value if f["multiple"] else [value]
            record[f["cle"]] = [_unescape(f["valeurs"][v][0]) for v in chosen]
        found.append(record)
    return found


def files(
    territory: Territory,
    label: Evaluation | None = None,
    kept: Any = None,
    keys: Mapping[str, str] | None = None,
    *,
    with_data: bool = True,
) -> dict[str, bytes]:
    """The files the explorer adds to the site, by path: its data file (unless not
    ``with_data``: the build may make it apart), script and style sheet."""
    assets = Path(__file__).parent / "assets"
    made = {DATA_PATH: data_file(territory, label, kept, keys)} if with_data else {}
    return {
        **made,
        SCRIPT_PATH: (assets / "explorer.js").read_bytes(),
        STYLESHEET_PATH: (assets / "explorer.css").read_bytes(),
    }
