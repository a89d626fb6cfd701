"""The dashboard (``/tableau-de-bord/``): the territory's registers in figures and charts.

One computation, :func:`compute`, gives every figure of the page and of the home page's
summary (offered to hand-written pages by :mod:`dote.macros`). Charts are horizontal bar
charts drawn at build time: this module computes their geometry as numbers, and the
autoescaped templates (``tableau-de-bord.html``, ``_tdb_*.html``) write every text, so
that register text never becomes markup. Each chart is followed by a table holding the
same numbers, its text alternative.

Only the public territory is counted: an activity a member keeps off the site is not
counted, and a field it chose not to publish counts as « non publié ». DPIA verdicts are
the ones the register pages show (the label's screening, see :func:`render.label_context`).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import jinja2

from dote import render
from dote.cache import MemberValues
from dote.dpia import VERDICT_LABELS
from dote.label import NO_LEVEL, Evaluation
from dote.model import Activity, Member, Territory, activity_ids
from dote.vocabulary import slugify

if TYPE_CHECKING:
    from dote.review import Reviews

DASHBOARD_URL = "tableau-de-bord/"
STYLESHEET = "assets/dote/tableau-de-bord.css"
#: How many processors the « most used » chart shows.
TOP_PROCESSORS = 10
#: How many members the overdue-reviews chart shows at most (those with the most).
TOP_MEMBERS = 15

NOT_STATED = "Non renseignée"
NOT_PUBLISHED = "Non publiée (choix du membre)"
STATE_NOT_STATED = "Non indiqué"
STATE_NOT_PUBLISHED = "Non publié (choix du membre)"
#: Sensitive natures of data categories (see DataCategory.nature), as a citizen reads them.
NATURES = {
    "sensible": "Données sensibles (santé, opinions, origine… : RGPD, art. 9)",
    "penale": "Infractions et condamnations (RGPD, art. 10)",
    "nir": "Numéro de sécurité sociale (NIR)",
}
VERDICTS = ("requis", "recommande", "non-requis", "exempte")


# --- charts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A link to a page of the site: its text (escaped where written) and address."""

    text: str
    target: str  # site-relative, with directory URLs ("sous-traitants/x/")
    anchor: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One bar of a chart and the row of its table."""

    label: str  # text, often from a register: the template escapes it
    value: int
    target: str = ""  # the page the row links to (site-relative, directory URL), "" for none
    anchor: str = ""
    columns: tuple[int, ...] = ()  # the table's further numeric columns
    links: tuple[Link, ...] = ()  # the table's last column, when the chart has one


@dataclass(frozen=True, slots=True)
class Bar:
    """Where one bar and its texts sit in the chart, in the SVG's user units."""

    lines: tuple[str, ...]  # the label, wrapped (text, escaped by the template)
    label_y: float  # baseline of the first line
    bar_y: float
    bar_width: float
    value: int
    value_x: float
    value_y: float


@dataclass(frozen=True, slots=True)
class Drawing:
    """A horizontal bar chart: its size (the viewBox) and its bars."""

    width: int
    height: float
    bar_height: int
    line_height: int
    font_size: int
    bars: tuple[Bar, ...]


# Geometry of every chart (user units; the SVG scales to its container's width).
WIDTH = 360
FONT_SIZE = 12
LINE_HEIGHT = 15
BAR_HEIGHT = 14
VALUE_ROOM = 48  # room right of the longest bar for its value
WRAP = 48  # characters per label line
MAX_LINES = 3
GAP = 12


def wrap_label(text: str, width: int = WRAP, lines: int = MAX_LINES) -> tuple[str, ...]:
    """A label on at most ``lines`` lines of ``width`` characters (the table has it whole)."""
    wrapped = textwrap.wrap(" ".join(text.split()), width, break_long_words=True) or [""]
    if len(wrapped) > lines:
        rest = " ".join(wrapped[lines - 1 :])
        wrapped = [*wrapped[: lines - 1], rest[: width - 1].rstrip() + "…"]
    return tuple(wrapped)


def draw(rows: Iterable[Row]) -> Drawing:
    """The geometry of a horizontal bar chart: a label above each bar, its value after it."""
    rows = tuple(rows)
    top = max((r.value for r in rows), default=0) or 1
    scale = (WIDTH - VALUE_ROOM) / top
    y = 4.0
    bars = []
    for row in rows:
        lines = wrap_label(row.label)
        label_y = y + FONT_SIZE
        bar_y = y + len(lines) * LINE_HEIGHT + 3
        width = round(row.value * scale, 1)
        bars.append(
            Bar(
                lines=lines,
                label_y=round(label_y, 1),
                bar_y=round(bar_y, 1),
                bar_width=width,
                value=row.value,
                value_x=round(width + 6, 1),
                value_y=round(bar_y + BAR_HEIGHT - 3, 1),
            )
        )
        y = bar_y + BAR_HEIGHT + GAP
    return Drawing(WIDTH, round(y, 1), BAR_HEIGHT, LINE_HEIGHT, FONT_SIZE, tuple(bars))


@dataclass(frozen=True)
class Chart:
    """The rows of one chart, drawn on demand."""

    id: str  # a constant of this module: the ids of the SVG, its title and its table
    rows: tuple[Row, ...]

    @property
    def total(self) -> int:
        return sum(r.value for r in self.rows)

    @cached_property
    def drawing(self) -> Drawing:
        return draw(self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)


def _by_count(counts: Mapping[str, int], order: Iterable[str] = ()) -> list[str]:
    """Keys by decreasing count, ties in the given order, then alphabetical."""
    rank = {key: n for n, key in enumerate(order)}
    return sorted(counts, key=lambda k: (-counts[k], rank.get(k, len(rank)), slugify(k)))


# --- the figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the dashboard, computed once per build from the public territory."""

    territory: Territory
    label: Evaluation | None
    reference_date: dt.date
    member_types: Chart
    label_levels: Chart | None  # None without a label policy
    legal_bases: Chart
    sensitive: Chart
    sensitive_activities: int  # activities with at least one sensitive category
    means: Chart  # activities by means used (cameras, biometrics…: issue 14's facts)
    means_activities: int  # activities stating at least one means
    monitoring: Chart  # activities by what they watch (public space, premises, staff…)
    monitoring_activities: int
    dpia_verdicts: Chart
    dpia_required: Chart  # activities whose DPIA is required, by the state their member declares
    dpia_missing: tuple[ActivityLink, ...]  # required, and not declared done
    transfers: Chart
    transfer_activities: int  # activities whose data leave the EEA, themselves or through processors
    own_transfer_activities: int  # activities that state a transfer outside the EEA themselves
    processors: Chart
    processors_used: int
    reviews: Chart  # members with records to review (TOP_MEMBERS at most)
    members_overdue: int
    overdue: int
    reviews_unpublished: int  # records whose member does not publish their dates
    review_months: int  # the label policy's review period (its "revue-recente" criterion)
    withheld: int  # activities published with some fields kept back by their member
    #: The records to review at ``reference_date`` (the review page shows them in full).
    review_list: Reviews | None = None

    @property
    def activities(self) -> int:
        return self.territory.activity_count

    @property
    def members(self) -> int:
        return len(self.territory.members)

    @property
    def members_labelled(self) -> int | None:
        if self.label is None:
            return None
        return sum(1 for r in self.label.members.values() if r.level is not None)

    @property
    def dpia_done(self) -> int:
        return self.dpia_required.total - len(self.dpia_missing)

    def figures(self) -> dict[str, int | None]:
        """The key figures, by French name (for the home page, through the macros)."""
        return {
            "membres": self.members,
            "activites": self.activities,
            "membres_labellises": self.members_labelled,
            "donnees_sensibles": self.sensitive_activities,
            "aipd_requises": self.dpia_required.total,
            "aipd_realisees": self.dpia_done,
            "aipd_manquantes": len(self.dpia_missing),
            "transferts_hors_ue": self.transfer_activities,
            "pays_hors_ue": len(self.transfers.rows),
            "sous_traitants_utilises": self.processors_used,
            "revues_en_retard": self.overdue,
        }


def compute(
    territory: Territory,
    label: Evaluation | None,
    today: dt.date,
    kept: MemberValues | None = None,
    kept_reviews: MemberValues | None = None,
    *,
    figures_dated: bool = True,
) -> Dashboard:
    """The dashboard of a (public) territory, at the label's reference date when there is one.

    Each member's figures are counted apart then added up: with ``kept`` (a public build's
    store, keyed by each member's records, the shared files and the date), an unchanged
    member's are read back from an earlier build; ``kept_reviews`` does the same for the
    records to review (:func:`dote.review.compute`). A member's figures use the date only
    through its label's DPIA screenings: not ``figures_dated``, ``kept``'s keys stand for its
    label (its window, see dote.label.DateWindow) and the date is left out of them;
    ``kept_reviews``' keys leave it out too (see dote.review.compute).
    """
    reference = label.reference_date if label is not None else today
    from dote.review import compute as compute_reviews  # the review page's module imports this one

    found = compute_reviews(territory, label, reference, kept=kept_reviews)
    reviews, members_overdue, overdue, unpublished = _reviews(found)
    screening = render.label_context(territory, label, "")["screening"]
    part = _figures_part(reference, figures_dated)
    totals = _Figures()
    for member in territory.members:
        figures = (
            _Figures.read_back(kept.get(member.id, part), member, territory) if kept is not None else None
        )
        if figures is None:
            figures = _Figures.of(member, territory, screening)
            if kept is not None:
                kept.put(member.id, figures.data(), part)
        totals.add(member, figures)
    dpia_verdicts, dpia_required = _dpias(territory, totals)
    transfers, transfer_activities = _transfers(territory, totals)
    return Dashboard(
        territory=territory,
        label=label,
        reference_date=reference,
        member_types=_member_types(territory),
        label_levels=_label_levels(territory, label) if label is not None else None,
        legal_bases=_legal_bases(territory, totals),
        sensitive=Chart(
            "donnees-sensibles", tuple(Row(text, totals.natures[nature]) for nature, text in NATURES.items())
        ),
        sensitive_activities=totals.counts["sensibles"],
        own_transfer_activities=totals.counts["transferts-propres"],
        means=_facts(territory, "moyens-traitement", "moyens", totals.means),
        means_activities=totals.counts["moyens"],
        monitoring=_facts(territory, "lieux-surveillance", "surveillance", totals.monitoring),
        monitoring_activities=totals.counts["surveillance"],
        dpia_verdicts=dpia_verdicts,
        dpia_required=dpia_required,
        dpia_missing=tuple(totals.missing),
        transfers=transfers,
        transfer_activities=transfer_activities,
        processors=_processors(territory, totals),
        processors_used=sum(1 for pid in territory.processors if totals.processors[pid]),
        reviews=reviews,
        members_overdue=members_overdue,
        overdue=overdue,
        reviews_unpublished=unpublished,
        review_months=found.months,
        withheld=totals.counts["retenues"],
        review_list=found,
    )


def _figures_part(reference: dt.date, figures_dated: bool) -> str:
    """What a member's kept figures are keyed by besides its key (see :func:`compute`)."""
    return reference.isoformat() if figures_dated else ""


def figures_keeper(
    territory: Territory,
    label: Evaluation | None,
    today: dt.date,
    kept: MemberValues,
    *,
    figures_dated: bool = True,
) -> Callable[[Member], None]:
    """What keeps a member's figures in ``kept`` as :func:`compute` would (same arguments), for
    a process that walks the members anyway (the open data's forked workers, in a clean build):
    :func:`compute` then reads them back instead of counting every member on one core."""
    screening = render.label_context(territory, label, "")["screening"]
    part = _figures_part(label.reference_date if label is not None else today, figures_dated)

    def keep(member: Member) -> None:
        kept.put(member.id, _Figures.of(member, territory, screening).data(), part)

    return keep


@dataclass
class _Country:
    """A third country: the activities sending data there themselves (``own``) and through
    processors (``via``), by id in a member's figures and by (member, id) in a sum, and those
    processors' ids."""

    label: str
    own: set[Any] = field(default_factory=set)
    via: set[Any] = field(default_factory=set)
    processors: set[str] = field(default_factory=set)

    @property
    def activities(self) -> set[Any]:
        return self.own | self.via


class ActivityLink(NamedTuple):
    """An activity as a list links to it: its member, id (its anchor) and name."""

    member_id: str
    id: str
    name: str


@dataclass
class _Figures:
    """What the dashboard counts in one member's activities, or in every member's (their sum).

    Counters by text (the vocabularies' labels) or by code; the activities behind a country or a
    missing DPIA by id. A member's are kept between builds as plain values (:meth:`data`).
    """

    counts: Counter[str] = field(default_factory=Counter)  # activities with sensitive data, means…
    bases: Counter[str] = field(default_factory=Counter)  # by legal basis, or NOT_STATED / NOT_PUBLISHED
    natures: Counter[str] = field(default_factory=Counter)  # by sensitive nature (once per activity)
    means: Counter[str] = field(default_factory=Counter)
    monitoring: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)  # the DPIA screening's
    states: Counter[str] = field(default_factory=Counter)  # the declared DPIA state, where required
    processors: Counter[str] = field(default_factory=Counter)  # activities by processor id
    users: Counter[str] = field(default_factory=Counter)  # members by processor id (in a sum)
    #: A member's required DPIAs not done, as (activity id, name); in a sum, with their member.
    missing_ids: list[tuple[str, str]] = field(default_factory=list)
    missing: list[ActivityLink] = field(default_factory=list)
    countries: dict[str, _Country] = field(default_factory=dict)  # third countries, by code

    _COUNTERS = ("counts", "bases", "natures", "means", "monitoring", "verdicts", "states", "processors")

    @classmethod
    def of(cls, member: Member, territory: Territory, screening: Callable[[Activity], Any]) -> _Figures:
        figures = cls()
        counts = figures.counts
        for a in member.activities:
            if a.legal_basis is not None:
                figures.bases[a.legal_basis.basis.label] += 1
            else:
                figures.bases[NOT_PUBLISHED if a.withheld else NOT_STATED] += 1
            if sensitive := a.sensitive_categories:
                counts["sensibles"] += 1
                figures.natures.update({c.nature for c in sensitive})
            if a.means:
                counts["moyens"] += 1
                figures.means.update({t.code: t.label for t in a.means}.values())
            if a.monitoring:
                counts["surveillance"] += 1
                figures.monitoring.update({t.code: t.label for t in a.monitoring}.values())
            if a.withheld:
                counts["retenues"] += 1
            verdict = screening(a).verdict
            figures.verdicts[verdict] += 1
            if verdict == "requis":
                status = a.dpia.status if a.dpia else None
                figures.states[
                    status.label if status else (STATE_NOT_PUBLISHED if a.withheld else STATE_NOT_STATED)
                ] += 1
                if status is None or status.code != "realisee":
                    figures.missing_ids.append((a.id, a.name))
            figures.processors.update(a.recipients.processors)
            if a.transfers_outside_eea:
                counts["transferts-propres"] += 1
            for t in a.transfers_outside_eea:
                figures._country(t.country.code, t.country.label).own.add(a.id)
            for processor in territory.processors_outside_eea(a):
                for term in processor.countries_outside_eea:
                    country = figures._country(term.code, term.label)
                    country.via.add(a.id)
                    country.processors.add(processor.id)
        return figures

    def _country(self, code: str, label: str) -> _Country:
        country = self.countries.get(code)
        if country is None:  # not made for every transfer only to be dropped
            country = self.countries[code] = _Country(label)
        return country

    def data(self) -> tuple[Any, ...]:
        """A member's figures as plain values (made again by :meth:`read_back`)."""
        return (
            tuple(dict(getattr(self, name)) for name in self._COUNTERS),
            tuple(self.missing_ids),
            {
                code: (c.label, sorted(c.own), sorted(c.via), sorted(c.processors))
                for code, c in self.countries.items()
            },
        )

    @classmethod
    def read_back(cls, data: Any, member: Member, territory: Territory) -> _Figures | None:
        """The figures kept as ``data`` for ``member``; ``None`` when they do not fit its records
        and the territory's processors."""
        try:
            counters, missing, countries = data
            if not all(isinstance(c, dict) for c in counters):
                return None
            figures = cls(
                missing_ids=[(str(i), str(name)) for i, name in missing],
                countries={
                    code: _Country(label, set(own), set(via), set(processors))
                    for code, (label, own, via, processors) in countries.items()
                },
            )
            for name, values in zip(cls._COUNTERS, counters, strict=True):
                setattr(figures, name, Counter(values))
        except (TypeError, ValueError, AttributeError):
            return None
        ids = set(activity_ids(member))
        named = [
            *(i for i, _ in figures.missing_ids),
            *(i for c in figures.countries.values() for i in c.activities),
        ]
        known = all(i in territory.processors for c in figures.countries.values() for i in c.processors)
        return figures if known and all(i in ids for i in named) else None

    def add(self, member: Member, figures: _Figures) -> None:
        """Add one member's figures to this sum."""
        for name in self._COUNTERS:
            getattr(self, name).update(getattr(figures, name))
        self.users.update(figures.processors.keys())
        self.missing.extend(ActivityLink(member.id, i, name) for i, name in figures.missing_ids)
        for code, found in figures.countries.items():
            country = self._country(code, found.label)
            country.own.update((member.id, i) for i in found.own)
            country.via.update((member.id, i) for i in found.via)
            country.processors.update(found.processors)


def _member_types(territory: Territory) -> Chart:
    """Members by type, each linked to its sector's list on the registers page."""
    counts = Counter(m.kind.label for m in territory.members)
    sectors = {m.kind.label: m.sector for m in territory.members}
    order = [t.label for t in territory.vocabularies["types-membres"]]
    return Chart(
        "types", tuple(Row(k, counts[k], "registres/", sectors[k]) for k in _by_count(counts, order))
    )


def _label_levels(territory: Territory, label: Evaluation) -> Chart:
    """Members by label level, from none to the highest, linked to each level's criteria."""
    by_level: dict[str, list[Member]] = {lv.id: [] for lv in label.policy.levels}
    unlabelled: list[Member] = []
    for member in territory.members:
        result = label.members.get(member.id)
        if result is not None:
            (by_level[result.level.id] if result.level else unlabelled).append(member)

    def row(title: str, anchor: str, members: list[Member]) -> Row:
        links = tuple(Link(m.name, f"registres/{m.id}/", "label") for m in members)
        return Row(title, len(members), render.LABEL_URL, anchor, links=links)

    return Chart(
        "label",
        (
            row(NO_LEVEL, "membres", unlabelled),
            *(row(lv.title, f"niveau-{lv.id}", by_level[lv.id]) for lv in label.policy.levels),
        ),
    )


def _legal_bases(territory: Territory, totals: _Figures) -> Chart:
    """Activities by legal basis; those without one last."""
    gaps = (NOT_STATED, NOT_PUBLISHED)
    counts = {k: n for k, n in totals.bases.items() if k not in gaps}
    order = [t.label for t in territory.vocabularies["bases-legales"]]
    rows = [Row(k, counts[k]) for k in _by_count(counts, order)]
    rows += [Row(k, totals.bases[k]) for k in gaps if totals.bases[k]]
    return Chart("bases-legales", tuple(rows))


def _facts(territory: Territory, vocabulary: str, chart_id: str, counts: Counter[str]) -> Chart:
    """Activities by one of the facts the DPIA screening reads (the means used, what is watched):
    an activity counts once under each of its values."""
    order = [t.label for t in territory.vocabularies[vocabulary]]
    return Chart(chart_id, tuple(Row(k, counts[k]) for k in _by_count(counts, order)))


def _dpias(territory: Territory, totals: _Figures) -> tuple[Chart, Chart]:
    """The screening's verdicts (the register pages' own: the label's when there is one, see
    :func:`render.label_context`); where a DPIA is required, the state the member declares."""
    order = [t.label for t in territory.vocabularies["statuts-aipd"]] + [
        STATE_NOT_STATED,
        STATE_NOT_PUBLISHED,
    ]
    return (
        Chart("aipd-depistage", tuple(Row(VERDICT_LABELS[v], totals.verdicts[v]) for v in VERDICTS)),
        Chart("aipd-requises", tuple(Row(k, totals.states[k]) for k in order if totals.states[k])),
    )


def _transfers(territory: Territory, totals: _Figures) -> tuple[Chart, int]:
    """Activities whose data leave the EEA, by country: their own transfers, and their processors'.

    A processor counts for each third country where it hosts data or sends them
    (:attr:`Processor.countries_outside_eea`), as on the register pages.
    """
    countries = sorted(totals.countries.values(), key=lambda c: (-len(c.activities), slugify(c.label)))
    rows = tuple(
        Row(
            c.label,
            len(c.activities),
            columns=(len(c.own), len(c.via)),
            links=tuple(
                Link(p.name, f"{render.PROCESSORS_URL}{p.id}/")
                for p in sorted(
                    (territory.processors[i] for i in c.processors), key=lambda p: slugify(p.name)
                )
            ),
        )
        for c in countries
    )
    return Chart("transferts", rows), len(set().union(*(c.activities for c in countries)))


def _processors(territory: Territory, totals: _Figures) -> Chart:
    """The most used processors (by activities, then members), linked to their pages."""
    used = [(p, totals.processors[p.id], totals.users[p.id]) for p in territory.processors.values()]
    used = [u for u in used if u[1]]
    used.sort(key=lambda u: (-u[1], -u[2], slugify(u[0].name)))
    rows = tuple(
        Row(p.name, n, f"{render.PROCESSORS_URL}{p.id}/", columns=(members,))
        for p, n, members in used[:TOP_PROCESSORS]
    )
    return Chart("sous-traitants", rows)


def _reviews(reviews: Reviews) -> tuple[Chart, int, int, int]:
    """Records to review, by member, as ``dote review`` finds them (the label's rule).

    Returns the chart (the TOP_MEMBERS members with the most), how many members have
    records to review, how many records in all, and how many records do not publish
    their dates (a member publishing « au choix »): those are not counted.
    """
    rows = []
    for found in reviews.members:
        old, undated = found.count("en-retard"), found.count("sans-date")
        if old + undated:
            rows.append(
                Row(
                    found.member.name,
                    old + undated,
                    f"registres/{found.member.id}/",
                    columns=(old, undated, found.member.activity_count),
                )
            )
    rows.sort(key=lambda r: (-r.value, slugify(r.label)))
    return (
        Chart("revues", tuple(rows[:TOP_MEMBERS])),
        len(rows),
        reviews.failing,
        reviews.count("non-publiee"),
    )


# --- the page -------------------------------------------------------------------------


def pages(dashboard: Dashboard, env: jinja2.Environment) -> list[render.GeneratedPage]:
    """The dashboard page (``/tableau-de-bord/``)."""
    territory = dashboard.territory

    def href(url: str) -> Callable[[str, str], str]:
        def link(target: str, anchor: str = "") -> str:
            return render.relative_url(url, target) + (f"#{anchor}" if anchor else "")

        return link

    def page(url: str) -> str:
        return env.get_template("tableau-de-bord.html").render(
            d=dashboard,
            territory=territory,
            label=dashboard.label,
            review_months=dashboard.review_months,
            top_processors=TOP_PROCESSORS,
            href=href(url),
            href_css=render.relative_url(url, STYLESHEET).rstrip("/"),
            href_label=render.relative_url(url, render.LABEL_URL),
            **render.links(url),
        )

    return [render.GeneratedPage(f"{DASHBOARD_URL}index.md", DASHBOARD_URL, "Tableau de bord", page)]
