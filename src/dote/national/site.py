"""The national static site: what the Maisons publish, gathered on one site.

:func:`build` writes a small MkDocs project (Material, the package's theme overrides and
stylesheet, no built-in search) in a temporary folder and builds it with the
``dote-national`` plugin (:mod:`dote.national.plugin`), which adds the pages made here:

- ``/``: what the national view is, the harvest's date and the national figures;
- ``/maisons/``: every Maison of the configuration, whatever became of its harvest;
- ``/tableau-de-bord/``: national figures as SVG charts, each with its table
  (:mod:`dote.dashboard`'s charts) and its provenance;
- ``/explorateur/``: the registers explorer over every activity (:mod:`dote.explorer`'s data
  format, with a ``maison`` facet and each member's page on its own Maison's site);
- ``/recherche/``: a Pagefind index built from the harvest, whose results land on the
  Maisons' own member pages;
- ``/provenance/``, ``/donnees-personnelles/``, ``/accessibilite/``.

Everything harvested is untrusted: it is read defensively (a value of an unexpected type
counts as absent), written into pages by autoescaped templates, into the explorer's data
file escaped as :mod:`dote.explorer` does, into search documents through
:func:`dote.safe.html_text`; only ``http(s)`` addresses are ever linked.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import escape

from dote import explorer, search, workers
from dote.dashboard import Chart, Row
from dote.dpia import VERDICT_LABELS
from dote.fragments import date_fr
from dote.national.model import Harvest, MaisonHarvest, NationalConfig
from dote.render import GeneratedPage, environment, relative_url
from dote.safe import html_text, pagefind_value
from dote.vocabulary import load_vocabularies
from dote.vocabulary import slugify as _slugify

log = logging.getLogger("mkdocs.plugins.dote.national")

HOME_URL = ""
MAISONS_URL = "maisons/"
DASHBOARD_URL = "tableau-de-bord/"
EXPLORER_URL = "explorateur/"
SEARCH_URL = "recherche/"
PROVENANCE_URL = "provenance/"
PRIVACY_URL = "donnees-personnelles/"
ACCESSIBILITY_URL = "accessibilite/"

EXPLORER_DATA = f"{EXPLORER_URL}donnees.json"
STYLESHEET = "assets/dote/dote.css"
DASHBOARD_STYLESHEET = "assets/dote/tableau-de-bord.css"
SEARCH_SCRIPT = "assets/dote/recherche-nationale.js"
#: Where the search documents are staged for Pagefind (never published).
SEARCH_DOCUMENTS = "recherche-national"
#: How many processors the « most used » chart shows.
TOP_PROCESSORS = 10

STATUS_LABELS = {
    "a-jour": "À jour",
    "inchange": "Inchangé",
    "injoignable": "Injoignable",
    "refuse": "Refusé",
}
#: The label facet's and chart's value for a member whose Maison publishes no level for it.
NO_LEVEL = "Aucun niveau atteint"
NOT_EVALUATED = "Pas d'évaluation publiée"
UNSTATED = explorer.UNSTATED
#: The palette of the Maisons' sites (/work/main/mkdocs.yml): dote.css defines its colours.
PALETTE = [
    {
        "media": "(prefers-color-scheme: light)",
        "scheme": "default",
        "primary": "custom",
        "accent": "custom",
        "toggle": {"icon": "material/brightness-7", "name": "Passer au thème sombre"},
    },
    {
        "media": "(prefers-color-scheme: dark)",
        "scheme": "slate",
        "primary": "custom",
        "accent": "custom",
        "toggle": {"icon": "material/brightness-4", "name": "Passer au thème clair"},
    },
]


#: Free-text values (recipients, processors) repeat across activities and Maisons: each is
#: slugified once.
slugify = functools.lru_cache(maxsize=1 << 16)(_slugify)


class NationalBuildError(Exception):
    """The national site could not be built (the message is French, for the command line)."""


# --- reading the harvested data, defensively ----------------------------------------------


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _texts(value: object) -> list[str]:
    return [v for v in _list(value) if isinstance(v, str) and v.strip()]


def _label(vocabulary: str, code: str) -> str:
    """The French label of a code of the package's vocabularies (the code itself if unknown)."""
    term = load_vocabularies()[vocabulary].terms.get(code)
    return term.label if term is not None else code


def _outside_eu(code: str) -> bool:
    """A country code outside the EU and the EEA (an unknown code counts as outside)."""
    term = load_vocabularies()["pays"].terms.get(code)
    return term is None or term.attr("zone") not in ("ue", "eee")


def _sensitive(code: str) -> bool:
    term = load_vocabularies()["categories-donnees"].terms.get(code)
    return term is not None and term.attr("nature", "courante") != "courante"


web_url = explorer.web_url


@dataclass(frozen=True)
class Processor:
    """A processor as a Maison names it: by name (format 2) or by identifier only (format 1)."""

    key: str  # national grouping key: "nom:<slug of its name>" or "id:<its identifier>"
    label: str
    countries: tuple[str, ...] = ()  # outside the EU (format 2)


@dataclass
class Activity:
    maison: str  # the Maison's id (configuration)
    member: str  # the member's national key
    id: str
    name: str
    purpose: str
    secondary: list[str]
    description: str
    themes: list[str]
    basis: str
    categories: list[str]
    subjects: list[str]
    internal: list[str]
    external: list[str]
    processors: list[Processor]
    transfers_stated: bool
    own_countries: list[str]  # outside the EU, from the activity's own transfers
    via_countries: dict[str, list[str]]  # country → processor labels
    verdict: str
    verdict_label: str
    dpia_status: str
    means: list[str] = field(default_factory=list)  # codes of moyens-traitement
    monitoring: list[str] = field(default_factory=list)  # codes of lieux-surveillance

    @property
    def countries(self) -> list[str]:
        return list(dict.fromkeys([*self.own_countries, *self.via_countries]))


@dataclass
class Member:
    maison: MaisonHarvest
    key: str  # "<maison id>/<member id>": unique on the national site
    id: str
    name: str
    kind: str
    kind_label: str
    town: str
    page: str  # its page on its Maison's site (http(s)), or ""
    level: tuple[str, str] | None  # (niveau, libellé), or None (see level_text)
    evaluated: bool
    activities: list[Activity] = field(default_factory=list)


def _processors(territory: Mapping[str, Any]) -> dict[str, Processor]:
    """The processors a format-2 territory describes, by identifier."""
    found: dict[str, Processor] = {}
    for raw in _list(territory.get("sous_traitants")):
        entry = _dict(raw)
        ident = _text(entry.get("identifiant"))
        if not ident:
            continue
        name = _text(entry.get("nom")).strip() or ident
        countries = tuple(dict.fromkeys(c for c in _texts(entry.get("pays_hors_ue")) if _outside_eu(c)))
        found[ident] = Processor(f"nom:{slugify(name) or ident}", name, countries)
    return found


def read_members(maison: MaisonHarvest) -> list[Member]:
    """The members and activities of a usable Maison, as the national site shows them."""
    if not maison.usable or maison.territory is None:
        return []
    territory = maison.territory
    by_name = "sous_traitants" in territory
    processors = _processors(territory) if by_name else {}
    members = []
    for raw in _list(territory.get("membres")):
        entry = _dict(raw)
        about = _dict(entry.get("membre"))
        ident = _text(about.get("identifiant"))
        if not ident:
            continue
        label = entry.get("label")
        level = None
        if isinstance(label, dict) and _text(label.get("niveau")):
            level = (_text(label["niveau"]), _text(label.get("niveau_libelle")) or _text(label["niveau"]))
        kind = _text(about.get("type"))
        member = Member(
            maison=maison,
            key=f"{maison.source.id}/{ident}",
            id=ident,
            name=_text(about.get("nom")) or ident,
            kind=kind or UNSTATED,
            kind_label=_text(about.get("type_libelle"))
            or (_label("types-membres", kind) if kind else "Non renseigné"),
            town=_text(about.get("commune")),
            page=web_url(_text(about.get("page"))),
            level=level,
            evaluated=isinstance(label, dict),
        )
        for raw_activity in _list(entry.get("activites")):
            published = _dict(raw_activity)
            record = _dict(published.get("activite"))
            activity_id = _text(published.get("identifiant"))
            if not activity_id:
                continue
            member.activities.append(
                _activity(maison.source.id, member.key, activity_id, record, published, processors, by_name)
            )
        members.append(member)
    return members


def _activity(
    maison: str,
    member: str,
    ident: str,
    record: dict[str, Any],
    published: dict[str, Any],
    processors: Mapping[str, Processor],
    by_name: bool,
) -> Activity:
    purposes = _dict(record.get("finalites"))
    recipients = _dict(record.get("destinataires"))
    used: list[Processor] = []
    for pid in _texts(recipients.get("sous_traitants")):
        if by_name:
            used.append(processors.get(pid) or Processor(f"id:{pid}", pid))
        else:
            used.append(Processor(f"id:{pid}", pid))
    transfers = record.get("transferts")
    own = [_text(_dict(t).get("pays")) for t in _list(transfers) if _outside_eu(_text(_dict(t).get("pays")))]
    via: dict[str, list[str]] = {}
    for p in used:
        for country in p.countries:
            via.setdefault(country, []).append(p.label)
    screening = _dict(published.get("depistage_aipd"))
    verdict = _text(screening.get("verdict"))
    basis = _text(_dict(record.get("base_legale")).get("code"))
    return Activity(
        maison=maison,
        member=member,
        id=ident,
        name=_text(record.get("nom")) or ident,
        purpose=_text(purposes.get("principale")),
        secondary=_texts(purposes.get("secondaires")),
        description=_text(record.get("description")),
        themes=_texts(record.get("thematiques")),
        basis=basis,
        categories=[
            c for c in (_text(_dict(x).get("code")) for x in _list(record.get("categories_donnees"))) if c
        ],
        subjects=_texts(record.get("personnes_concernees")),
        internal=_texts(recipients.get("internes")),
        external=_texts(recipients.get("externes")),
        processors=list({p.key: p for p in used}.values()),
        transfers_stated=transfers is not None,
        own_countries=list(dict.fromkeys(c for c in own if c)),
        via_countries=via,
        verdict=verdict if verdict in VERDICT_LABELS else UNSTATED,
        verdict_label=VERDICT_LABELS.get(verdict, "Dépistage non publié"),
        dpia_status=_text(_dict(record.get("aipd")).get("statut")),
        means=_texts(record.get("moyens")),
        monitoring=_texts(record.get("surveillance")),
    )


def _level_text(member: Member) -> str:
    if member.level is not None:
        return member.level[1]
    return NO_LEVEL if member.evaluated else NOT_EVALUATED


# --- the national view: every figure, computed once ---------------------------------------


@dataclass
class MaisonFigures:
    """What the Maisons page and the per-Maison tables show of one Maison."""

    maison: MaisonHarvest
    members: list[Member]
    site: str  # its site's address (http(s)), or ""
    territory: str  # the territory it covers, as it publishes it

    @property
    def activities(self) -> int:
        return sum(len(m.activities) for m in self.members)

    @property
    def levels(self) -> list[tuple[str, int]]:
        counts = Counter(_level_text(m) for m in self.members)
        return sorted(counts.items(), key=lambda kv: (-kv[1], explorer.natural(kv[0])))

    def count(self, test: Callable[[Activity], bool]) -> int:
        return sum(1 for m in self.members for a in m.activities if test(a))


@dataclass
class National:
    """The national view of a harvest: the Maisons and their members, and every figure."""

    config: NationalConfig
    harvest: Harvest
    maisons: list[MaisonFigures]

    @property
    def members(self) -> list[Member]:
        return [m for f in self.maisons for m in f.members]

    @property
    def activities(self) -> list[Activity]:
        return [a for m in self.members for a in m.activities]

    @property
    def usable(self) -> list[MaisonFigures]:
        return [f for f in self.maisons if f.maison.usable]

    @property
    def older(self) -> list[MaisonFigures]:
        return [f for f in self.usable if f.maison.older_format]


def national(config: NationalConfig, harvest: Harvest) -> National:
    maisons = []
    for maison in harvest.maisons:
        published = _dict((maison.territory or {}).get("maison"))
        site = web_url(maison.source.site) or web_url(_text(published.get("site")))
        if site and not site.endswith("/"):
            site += "/"
        maisons.append(MaisonFigures(maison, read_members(maison), site, _text(published.get("territoire"))))
    return National(config, harvest, maisons)


def is_done(a: Activity) -> bool:
    return a.dpia_status == "realisee"


def charts(view: National) -> dict[str, Chart]:
    """The dashboard's charts (:class:`dote.dashboard.Chart`), by id."""
    members = view.members
    activities = view.activities
    types = Counter(m.kind_label for m in members)
    # Label levels by their id and title, as each Maison's policy names them.
    pairs = Counter(m.level or ("", _level_text(m)) for m in members)
    titled = Counter(title for _, title in pairs)
    levels = {
        (f"{title} (niveau « {ident} »)" if titled[title] > 1 and ident else title): n
        for (ident, title), n in pairs.items()
    }
    verdicts = Counter(a.verdict for a in activities)
    required = [a for a in activities if a.verdict == "requis"]
    states = Counter(
        _label("statuts-aipd", a.dpia_status) if a.dpia_status else "Non indiqué" for a in required
    )
    countries: dict[str, set[tuple[str, str]]] = {}
    for a in activities:
        for c in a.countries:
            countries.setdefault(c, set()).add((a.member, a.id))
    used: Counter[str] = Counter()
    names: dict[str, str] = {}
    for a in activities:
        for p in a.processors:
            used[p.key] += 1
            names.setdefault(p.key, p.label if p.key.startswith("nom:") else f"{p.label} (identifiant)")
    top = sorted(used, key=lambda k: (-used[k], explorer.natural(names[k])))[:TOP_PROCESSORS]
    maisons = view.usable
    means = Counter(_label("moyens-traitement", c) for a in activities for c in dict.fromkeys(a.means))
    watched = Counter(
        _label("lieux-surveillance", c) for a in activities for c in dict.fromkeys(a.monitoring)
    )
    return {
        "types": Chart("types", tuple(Row(k, v) for k, v in _ordered(types))),
        "label": Chart("label", tuple(Row(k, v) for k, v in _ordered(levels))),
        "aipd-depistage": Chart(
            "aipd-depistage",
            tuple(
                Row(VERDICT_LABELS.get(v, "Dépistage non publié"), verdicts[v])
                for v in (*VERDICT_LABELS, UNSTATED)
                if verdicts[v] or v in VERDICT_LABELS
            ),
        ),
        "aipd-requises": Chart("aipd-requises", tuple(Row(k, v) for k, v in _ordered(states))),
        "transferts": Chart(
            "transferts",
            tuple(
                Row(_label("pays", c), len(found))
                for c, found in sorted(countries.items(), key=lambda kv: (-len(kv[1]), _label("pays", kv[0])))
            ),
        ),
        "sous-traitants": Chart("sous-traitants", tuple(Row(names[k], used[k]) for k in top)),
        "maisons-membres": Chart(
            "maisons-membres",
            tuple(
                Row(
                    f.maison.name,
                    len(f.members),
                    columns=(
                        f.activities,
                        f.count(lambda a: a.verdict == "requis"),
                        f.count(lambda a: a.verdict == "requis" and is_done(a)),
                        f.count(lambda a: bool(a.countries)),
                    ),
                )
                for f in maisons
            ),
        ),
        "maisons-activites": Chart(
            "maisons-activites", tuple(Row(f.maison.name, f.activities) for f in maisons)
        ),
        "moyens": Chart("moyens", tuple(Row(k, v) for k, v in _ordered(means))),
        "surveillance": Chart("surveillance", tuple(Row(k, v) for k, v in _ordered(watched))),
        # « Which Maisons' members film public streets? » (issue 17): by Maison, with its members.
        PUBLIC_SPACE_CHART: Chart(
            PUBLIC_SPACE_CHART,
            tuple(
                Row(f.maison.name, len(found), columns=(len({a.member for a in found}),))
                for f in maisons
                if (found := [a for m in f.members for a in m.activities if PUBLIC_SPACE in a.monitoring])
            ),
        ),
    }


#: The code of « espace public » in the lieux-surveillance vocabulary, and its chart by Maison.
PUBLIC_SPACE = "espace-public"
PUBLIC_SPACE_CHART = "espace-public-maisons"


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], explorer.natural(kv[0])))


def when_text(moment: dt.datetime | None) -> str:
    """« 1er décembre 2026 à 10 h 47 (UTC) », or « jamais »."""
    if moment is None:
        return "jamais"
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    return f"{date_fr(utc.date())} à {utc:%H} h {utc:%M} (UTC)"


# --- the explorer's data --------------------------------------------------------------------


def explorer_data(view: National) -> dict[str, Any]:
    """The national explorer's data: :mod:`dote.explorer`'s format, with a ``maison`` facet
    and each member's page on its own Maison's site (``pages``)."""
    Facet = explorer.Facet
    vocabularies = load_vocabularies()
    members = view.members
    member = Facet("membre", "Membre", "membre", False, [m.key for m in members])
    maison = Facet("maison", "Maison DOTE", "membre", False, [f.maison.source.id for f in view.maisons])
    kind = Facet("type", "Type de membre", "membre", False, list(vocabularies["types-membres"].terms))
    level = Facet("label", "Niveau de label du membre (selon la politique de sa Maison)", "membre", False)
    theme = Facet("theme", "Thème", "activite", True, list(vocabularies["thematiques"].terms))
    basis = Facet("base", "Base légale", "activite", False, [*vocabularies["bases-legales"].terms, UNSTATED])
    data = Facet(
        "donnees", "Catégorie de données", "activite", True, list(vocabularies["categories-donnees"].terms)
    )
    sensitive = Facet("sensible", "Données sensibles", "activite", False, ["oui", "non"])
    means = Facet(
        "moyens", explorer.MEANS_TITLE, "activite", True, list(vocabularies["moyens-traitement"].terms)
    )
    watched = Facet(
        "surveillance",
        explorer.MONITORING_TITLE,
        "activite",
        True,
        list(vocabularies["lieux-surveillance"].terms),
    )
    internal = Facet("service", "Service destinataire (interne)", "activite", True)
    external = Facet("destinataire", "Destinataire extérieur", "activite", True)
    processor = Facet("sous-traitant", "Sous-traitant", "activite", True)
    outside = Facet(
        "hors-ue", "Transfert hors de l'Union européenne", "activite", False, ["oui", "non", UNSTATED]
    )
    country = Facet("pays", "Pays hors de l'Union européenne", "activite", True)
    dpia = Facet("aipd", "Analyse d'impact (AIPD)", "activite", False, [*VERDICT_LABELS, UNSTATED])
    facets = [member, maison, kind, level, theme, basis, data, sensitive, means, watched]
    facets += [internal, external, processor, outside, country, dpia]

    # A label level is its id and its title: two Maisons' policies may title one id differently.
    titles: dict[str, set[str]] = {}
    for m in members:
        if m.level is not None:
            titles.setdefault(m.level[0], set()).add(m.level[1])

    def level_key(m: Member) -> str:
        if m.level is None:
            return level.value(explorer.NO_LEVEL_KEY if m.evaluated else "non-evalue", _level_text(m))
        ident, title = m.level
        key = ident if len(titles[ident]) == 1 else f"{ident}--{slugify(title)}"
        return level.value(slugify(key) or "niveau", title)

    of_members = {
        m.key: {
            "membre": member.value(m.key, f"{m.name} ({m.maison.name})"),
            "maison": maison.value(m.maison.source.id, m.maison.name),
            "type": kind.value(slugify(m.kind) or UNSTATED, m.kind_label),
            "label": level_key(m),
        }
        for m in members
    }

    def free(facet: explorer.Facet, texts: Iterable[str]) -> list[str]:
        return [facet.value(slugify(t) or "sans-nom", t) for t in texts]

    rows = []
    for m in members:
        for a in m.activities:
            countries = a.countries
            if countries:
                leaves = outside.value("oui", "Oui")
            elif a.transfers_stated:
                leaves = outside.value("non", "Non")
            else:
                leaves = outside.value(UNSTATED, "Non renseigné ou non publié")
            values = {
                "theme": [theme.value(t, _label("thematiques", t)) for t in a.themes],
                "base": [
                    basis.value(a.basis, _label("bases-legales", a.basis))
                    if a.basis
                    else basis.value(UNSTATED, "Non renseignée ou non publiée")
                ],
                "donnees": [data.value(c, _label("categories-donnees", c)) for c in a.categories],
                "sensible": [
                    sensitive.value("oui", "Oui (art. 9, art. 10 ou NIR)")
                    if any(_sensitive(c) for c in a.categories)
                    else sensitive.value("non", "Non")
                ],
                "moyens": [means.value(c, _label("moyens-traitement", c)) for c in a.means],
                "surveillance": [watched.value(c, _label("lieux-surveillance", c)) for c in a.monitoring],
                "service": free(internal, a.internal),
                "destinataire": free(external, a.external),
                "sous-traitant": [
                    processor.value(
                        slugify(p.key) or "sans-nom",
                        p.label if p.key.startswith("nom:") else f"{p.label} (identifiant)",
                    )
                    for p in a.processors
                ],
                "hors-ue": [leaves],
                "pays": [country.value(c, _label("pays", c)) for c in countries],
                "aipd": [dpia.value(a.verdict, a.verdict_label)],
            }
            values = {k: list(dict.fromkeys(v)) for k, v in values.items()}
            rows.append(explorer.ActivityRow(m.key, a.id, a.name, a.purpose, values))
    used = [f for f in facets if f.labels or f is member]
    return explorer.encode(used, of_members, rows, pages={m.key: m.page for m in members})


# --- the search documents -------------------------------------------------------------------


def _paragraph(label: str, values: Iterable[str]) -> str:
    texts = [v for v in values if v]
    return f"<p>{html_text(label)} : {html_text(' ; '.join(texts))}</p>" if texts else ""


def member_document(member: Member) -> str:
    """What Pagefind indexes for a member (as :func:`dote.search.member_document` does on a
    Maison's site): its name, its Maison, and per activity its name under its ``id`` anchor,
    purposes, people, data, recipients and processors. ``adresse`` (meta) is its page on its
    Maison's site, where the search page sends results."""
    about = ", ".join(html_text(v) for v in (member.maison.name, member.kind_label, member.town) if v)
    body = [f"<h1>{html_text(member.name)}</h1><p>{about}</p>"]
    for a in member.activities:
        parts = [f'<section><h3 id="{html_text(a.id)}">{html_text(a.name)}</h3>']
        if a.description:
            parts.append(f"<p>{html_text(a.description)}</p>")
        parts.append(_paragraph("Finalités", (a.purpose, *a.secondary)))
        parts.append(
            _paragraph("Personnes concernées", (_label("personnes-concernees", s) for s in a.subjects))
        )
        parts.append(_paragraph("Données", (_label("categories-donnees", c) for c in a.categories)))
        parts.append(_paragraph("Moyens", (_label("moyens-traitement", c) for c in a.means)))
        parts.append(_paragraph("Surveillance", (_label("lieux-surveillance", c) for c in a.monitoring)))
        parts.append(_paragraph("Destinataires", (*a.internal, *a.external)))
        parts.append(_paragraph("Sous-traitants", (p.label for p in a.processors)))
        parts.append(
            _paragraph("Transferts hors de l'Union européenne", (_label("pays", c) for c in a.countries))
        )
        parts.append("</section>")
        body.append("".join(parts))
    filters = [
        ("Maison", member.maison.name),
        ("Type de membre", member.kind_label),
        ("Label", _level_text(member)),
    ]
    for a in member.activities:
        filters.append(("Analyse d’impact (AIPD)", a.verdict_label))
        filters += [("Thème", _label("thematiques", t)) for t in a.themes]
    spans = "".join(
        f'<span data-pagefind-filter="{html_text(name)}:{escape(pagefind_value(value))}"></span>'
        for name, value in dict.fromkeys(filters)
    )
    meta = f'<span data-pagefind-meta="Maison:{escape(pagefind_value(member.maison.name))}"></span>'
    if member.page:
        meta += f'<span data-pagefind-meta="adresse:{html_text(member.page)}"></span>'
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{html_text(member.name)}</title></head>"
        f"<body><main data-pagefind-body>{''.join(body)}"
        f"<div hidden>{meta}{spans}</div></main></body></html>"
    )


def search_documents(view: National) -> dict[str, str]:
    """Every member's search document, by its staging path (``recherche-national/<maison>/<member>/index.html``)."""
    found = {}
    for m in view.members:
        maison = slugify(m.maison.source.id) or "maison"
        path = f"{SEARCH_DOCUMENTS}/{maison}/{slugify(m.id) or 'membre'}/index.html"
        n = 2
        while path in found:  # two ids of one slug: never one document over another
            path = f"{SEARCH_DOCUMENTS}/{maison}/{slugify(m.id) or 'membre'}-{n}/index.html"
            n += 1
        found[path] = member_document(m)
    return found


def shard_count(members: int) -> int:
    return search.shard_count(members, workers.count())


def bundles(shards: int) -> list[str]:
    """The search bundles, relative to the site: the primary, then the merged ones."""
    return [search.PRIMARY + "/", *search.merged_bundles(shards)[1:]] if shards else [search.PRIMARY + "/"]


def index_search(site: Path, documents: Mapping[str, str], shards: int) -> None:
    """Index the search documents with Pagefind's command line, in ``shards`` bundles (0: one).

    Each shard's documents are staged in their own folder; shard 0 is the primary bundle.
    """
    count = max(shards, 1)
    groups: list[list[str]] = [[] for _ in range(count)]
    for path in documents:
        groups[search.shard_of(path, count)].append(path)
    outputs = bundles(shards)
    with tempfile.TemporaryDirectory(prefix="dote-recherche-nationale-") as staging:

        def run(n: int) -> None:
            folder = Path(staging) / str(n)
            folder.mkdir()
            for path in groups[n]:
                target = folder / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(documents[path], encoding="utf-8")
            if not groups[n]:  # Pagefind refuses an empty site: one empty page
                (folder / "vide.html").write_text(
                    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>vide</title></head>'
                    "<body></body></html>",
                    encoding="utf-8",
                )
            command = [sys.executable, "-m", "pagefind", "--site", str(folder)]
            command += ["--output-path", str(site / outputs[n]), "--force-language", "fr", "--silent"]
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise RuntimeError("\n".join(detail))

        with ThreadPoolExecutor(count) as pool:
            for future in [pool.submit(run, n) for n in range(count)]:
                future.result()


# --- the pages -------------------------------------------------------------------------------


def pages(view: National, env: jinja2.Environment, shards: int) -> list[GeneratedPage]:
    """Every page of the national site (their HTML fragments rendered on demand)."""
    figures = charts(view)
    name = view.config.name
    harvested = when_text(view.harvest.when)

    def page(src: str, url: str, title: str, template: str, **extra: Any) -> GeneratedPage:
        def render(page_url: str) -> str:
            def href(target: str, anchor: str = "") -> str:
                link = relative_url(page_url, target)
                return f"{link}#{anchor}" if anchor else link

            return env.get_template(f"national/{template}").render(
                view=view,
                name=name,
                harvested=harvested,
                charts=figures,
                href=href,
                when=when_text,
                statuses=STATUS_LABELS,
                level_text=_level_text,
                publisher=view.config.publisher,
                contact=view.config.contact,
                **extra,
            )

        return GeneratedPage(src, url, title, render)

    activities = view.activities
    summary = {
        "maisons": len(view.maisons),
        "utilisables": len(view.usable),
        "membres": len(view.members),
        "activites": len(activities),
        "aipd_requises": sum(1 for a in activities if a.verdict == "requis"),
        "aipd_realisees": sum(1 for a in activities if a.verdict == "requis" and is_done(a)),
        "aipd_declarees": sum(1 for a in activities if is_done(a)),
        "transferts": sum(1 for a in activities if a.countries),
        "sous_traitants": len({p.key for a in activities for p in a.processors}),
    }
    return [
        page("index.md", HOME_URL, "Accueil", "accueil.html", summary=summary),
        page("maisons/index.md", MAISONS_URL, "Les Maisons DOTE", "maisons.html"),
        page(
            "tableau-de-bord/index.md",
            DASHBOARD_URL,
            "Tableau de bord national",
            "tableau-de-bord.html",
            summary=summary,
        ),
        page(
            "explorateur/index.md",
            EXPLORER_URL,
            "Explorer les activités",
            "explorateur.html",
            summary=summary,
        ),
        page("recherche/index.md", SEARCH_URL, "Rechercher", "recherche.html", merged=bundles(shards)[1:]),
        page("provenance/index.md", PROVENANCE_URL, "Provenance des données", "provenance.html"),
        page(
            "donnees-personnelles/index.md", PRIVACY_URL, "Données personnelles", "donnees-personnelles.html"
        ),
        page("accessibilite/index.md", ACCESSIBILITY_URL, "Accessibilité", "accessibilite.html"),
    ]


def template_environment(folder: Path) -> jinja2.Environment:
    """The package's template environment (autoescaped), with no territory overrides."""
    return environment(folder)


# --- the build --------------------------------------------------------------------------------


def mkdocs_config(config: NationalConfig, site_dir: Path) -> dict[str, Any]:
    """The generated ``mkdocs.yml`` of the national site."""
    settings: dict[str, Any] = {
        "site_name": config.name,
        "site_description": "Vue nationale des registres publiés par les Maisons DOTE.",
        "site_dir": str(site_dir),
        "docs_dir": "docs",
        "use_directory_urls": True,
        "copyright": config.name,
        "theme": {"name": "material", "language": "fr", "font": False, "palette": PALETTE},
        "plugins": ["dote-national"],
        # RGAA: a site never audited is « non conforme » (see the accessibility page).
        "extra": {"accessibilite": "non conforme"},
        "nav": [
            {"Accueil": "index.md"},
            {"Les Maisons": "maisons/index.md"},
            {"Tableau de bord": "tableau-de-bord/index.md"},
            {"Explorer les activités": "explorateur/index.md"},
            {"Rechercher": "recherche/index.md"},
            {"Provenance des données": "provenance/index.md"},
            {
                "Informations légales": [
                    {"Données personnelles": "donnees-personnelles/index.md"},
                    {"Accessibilité": "accessibilite/index.md"},
                ]
            },
        ],
        "markdown_extensions": ["attr_list", "tables"],
        "validation": {"nav": {"omitted_files": "ignore"}},
    }
    if config.site_url:
        settings["site_url"] = config.site_url
    return settings


def build(config: NationalConfig, harvest: Harvest, site_dir: Path) -> None:
    """Build the national site into ``site_dir``, atomically.

    The site is built in a sibling temporary folder, then put in place of ``site_dir``; the
    previous site stays intact when the build fails. Raises :class:`NationalBuildError`.
    """
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    from dote.national.plugin import NationalPlugin

    site_dir = site_dir.absolute()
    try:
        site_dir.parent.mkdir(parents=True, exist_ok=True)
        project = Path(tempfile.mkdtemp(prefix="dote-national-"))
        built = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-", dir=site_dir.parent))
    except OSError as err:
        raise NationalBuildError(f"impossible de préparer la construction du site national : {err}") from err
    plugin: NationalPlugin | None = None
    try:
        (project / "docs").mkdir()
        settings = mkdocs_config(config, built)
        (project / "mkdocs.yml").write_text(
            yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        mkdocs = load_config(str(project / "mkdocs.yml"))
        found = mkdocs.plugins.get("dote-national")
        if not isinstance(found, NationalPlugin):
            raise NationalBuildError(
                "le greffon MkDocs « dote-national » n'est pas installé (réinstallez le paquet dote)"
            )
        plugin = found
        plugin.national = national(config, harvest)
        mkdocs_build(mkdocs)
        _swap(built, site_dir)
    except NationalBuildError:
        shutil.rmtree(built, ignore_errors=True)
        raise
    except (MkDocsException, OSError, RuntimeError, ValueError, jinja2.TemplateError) as err:
        shutil.rmtree(built, ignore_errors=True)
        why = (plugin.failure if plugin is not None else "") or str(err)
        raise NationalBuildError(f"la construction du site national a échoué : {why}") from err
    finally:
        shutil.rmtree(project, ignore_errors=True)


def _swap(built: Path, site_dir: Path) -> None:
    """Put ``built`` where ``site_dir`` is; the old site is removed only once the new one is there."""
    os.chmod(built, 0o755)  # mkdtemp makes it private; a site is served to everyone
    if not site_dir.exists():
        built.rename(site_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-ancien-", dir=site_dir.parent))
    old.rmdir()
    site_dir.rename(old)
    try:
        built.rename(site_dir)
    except OSError:
        old.rename(site_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
