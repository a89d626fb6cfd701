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
from typing import TYPE_CHECKING

import jinja2

from dote import render
from dote.dpia import VERDICT_LABELS
from dote.label import NO_LEVEL, Evaluation
from dote.model import Activity, Member, Processor, Territory
from dote.vocabulary import Term, slugify

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
    dpia_missing: tuple[Activity, ...]  # required, and not declared done
    transfers: Chart
    transfer_activities: int  # activities whose data leave the EEA, themselves or through processors
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
        return len(self.territory.activities)

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


def compute(territory: Territory, label: Evaluation | None, today: dt.date) -> Dashboard:
    """The dashboard of a (public) territory, at the label's reference date when there is one."""
    reference = label.reference_date if label is not None else today
    activities = territory.activities
    dpia_verdicts, dpia_required, dpia_missing = _dpias(territory, label)
    transfers, transfer_activities = _transfers(territory)
    processors, processors_used = _processors(territory)
    from dote.review import compute as compute_reviews  # the review page's module imports this one

    found = compute_reviews(territory, label, reference)
    reviews, members_overdue, overdue, unpublished = _reviews(found)
    return Dashboard(
        territory=territory,
        label=label,
        reference_date=reference,
        member_types=_member_types(territory),
        label_levels=_label_levels(territory, label) if label is not None else None,
        legal_bases=_legal_bases(territory),
        sensitive=_sensitive(territory),
        sensitive_activities=sum(1 for a in activities if a.sensitive_categories),
        means=_facts(territory, "moyens", "moyens-traitement", lambda a: a.means),
        means_activities=sum(1 for a in activities if a.means),
        monitoring=_facts(territory, "surveillance", "lieux-surveillance", lambda a: a.monitoring),
        monitoring_activities=sum(1 for a in activities if a.monitoring),
        dpia_verdicts=dpia_verdicts,
        dpia_required=dpia_required,
        dpia_missing=dpia_missing,
        transfers=transfers,
        transfer_activities=transfer_activities,
        processors=processors,
        processors_used=processors_used,
        reviews=reviews,
        members_overdue=members_overdue,
        overdue=overdue,
        reviews_unpublished=unpublished,
        review_months=found.months,
        withheld=sum(1 for a in activities if a.withheld),
        review_list=found,
    )


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


def _legal_bases(territory: Territory) -> Chart:
    """Activities by legal basis; those without one last."""
    counts: Counter[str] = Counter()
    gaps: Counter[str] = Counter()
    for a in territory.activities:
        if a.legal_basis is not None:
            counts[a.legal_basis.basis.label] += 1
        else:
            gaps[NOT_PUBLISHED if a.withheld else NOT_STATED] += 1
    order = [t.label for t in territory.vocabularies["bases-legales"]]
    rows = [Row(k, counts[k]) for k in _by_count(counts, order)]
    rows += [Row(k, gaps[k]) for k in (NOT_STATED, NOT_PUBLISHED) if gaps[k]]
    return Chart("bases-legales", tuple(rows))


def _sensitive(territory: Territory) -> Chart:
    """Activities with sensitive data, by nature (an activity counts once in each of its natures)."""
    counts = Counter(
        nature for a in territory.activities for nature in {c.nature for c in a.sensitive_categories}
    )
    return Chart("donnees-sensibles", tuple(Row(text, counts[nature]) for nature, text in NATURES.items()))


def _facts(
    territory: Territory, chart_id: str, vocabulary: str, terms: Callable[[Activity], Iterable[Term]]
) -> Chart:
    """Activities by one of the facts the DPIA screening reads (the means used, what is watched):
    an activity counts once under each of its values."""
    counts = Counter(
        label for a in territory.activities for label in {t.code: t.label for t in terms(a)}.values()
    )
    order = [t.label for t in territory.vocabularies[vocabulary]]
    return Chart(chart_id, tuple(Row(k, counts[k]) for k in _by_count(counts, order)))


def _dpias(territory: Territory, label: Evaluation | None) -> tuple[Chart, Chart, tuple[Activity, ...]]:
    """The screening's verdicts; where a DPIA is required, the state the member declares."""
    # The register pages' own screening: the label's when there is one (see render.label_context).
    screening = render.label_context(territory, label, "")["screening"]
    verdicts: Counter[str] = Counter()
    states: Counter[str] = Counter()
    missing = []
    for a in territory.activities:
        verdict = screening(a).verdict
        verdicts[verdict] += 1
        if verdict != "requis":
            continue
        status = a.dpia.status if a.dpia else None
        states[status.label if status else (STATE_NOT_PUBLISHED if a.withheld else STATE_NOT_STATED)] += 1
        if status is None or status.code != "realisee":
            missing.append(a)
    order = [t.label for t in territory.vocabularies["statuts-aipd"]] + [
        STATE_NOT_STATED,
        STATE_NOT_PUBLISHED,
    ]
    return (
        Chart("aipd-depistage", tuple(Row(VERDICT_LABELS[v], verdicts[v]) for v in VERDICTS)),
        Chart("aipd-requises", tuple(Row(k, states[k]) for k in order if states[k])),
        tuple(missing),
    )


@dataclass
class _Country:
    label: str
    own: set[tuple[str, str]] = field(default_factory=set)  # activities (member, id)
    via: set[tuple[str, str]] = field(default_factory=set)
    processors: dict[str, Processor] = field(default_factory=dict)

    @property
    def activities(self) -> set[tuple[str, str]]:
        return self.own | self.via


def _transfers(territory: Territory) -> tuple[Chart, int]:
    """Activities whose data leave the EEA, by country: their own transfers, and their processors'.

    A processor counts for each third country where it hosts data or sends them
    (:attr:`Processor.countries_outside_eea`), as on the register pages.
    """
    countries: dict[str, _Country] = {}
    for a in territory.activities:
        key = (a.member_id, a.id)
        for t in a.transfers_outside_eea:
            countries.setdefault(t.country.code, _Country(t.country.label)).own.add(key)
        for processor in territory.processors_outside_eea(a):
            for term in processor.countries_outside_eea:
                country = countries.setdefault(term.code, _Country(term.label))
                country.via.add(key)
                country.processors[processor.id] = processor
    ordered = sorted(countries.values(), key=lambda c: (-len(c.activities), slugify(c.label)))
    rows = tuple(
        Row(
            c.label,
            len(c.activities),
            columns=(len(c.own), len(c.via)),
            links=tuple(
                Link(p.name, f"{render.PROCESSORS_URL}{p.id}/")
                for p in sorted(c.processors.values(), key=lambda p: slugify(p.name))
            ),
        )
        for c in ordered
    )
    return Chart("transferts", rows), len(set().union(*(c.activities for c in ordered)))


def _processors(territory: Territory) -> tuple[Chart, int]:
    """The most used processors (by activities, then members), linked to their pages."""
    used = []
    for processor in territory.processors.values():
        users = territory.users_of_processor(processor.id)
        if users:
            used.append((processor, len(users), len({a.member_id for a in users})))
    used.sort(key=lambda u: (-u[1], -u[2], slugify(u[0].name)))
    rows = tuple(
        Row(p.name, n, f"{render.PROCESSORS_URL}{p.id}/", columns=(members,))
        for p, n, members in used[:TOP_PROCESSORS]
    )
    return Chart("sous-traitants", rows), len(used)


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
                    columns=(old, undated, len(found.member.activities)),
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
