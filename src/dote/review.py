"""Reviews of the registers: which activity records are overdue for review, or soon due.

The deadline is the label's, never a second rule: the criterion « registre revu dans
l'année » (rule ``revue-recente`` of :mod:`dote.label`) fails an activity whose last
review (``dates.revue``) is older than its ``age_maximum_mois`` months, or that states
none. :func:`compute` asks that very rule whether each activity fails it; the due date it
shows is the last review plus those months (:func:`dote.label.months_later`, as the rule
computes it): overdue from the day after. The months are the policy's (the strictest, if
several criteria use the rule), or the rule's default without a policy or such a criterion.

The date a register plans for the next review (``dates.prochaine_revue``) is shown beside
the due date when it differs, but decides nothing.

Two outputs: ``dote review`` (French text, or JSON for tools; exit code 1 when a record
fails the rule), and the editors' page of the site (:data:`REVIEWS_URL`), made from the
public territory only, as every page is: a record whose member does not publish its
review dates (« au choix ») is counted apart, « date non publiée », and never judged.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from dote import render
from dote.cache import MemberFragments, MemberValues
from dote.dashboard import DASHBOARD_URL, STYLESHEET
from dote.label import RULES, DateWindow, Evaluation, Subject, held, months_later
from dote.model import Activity, Member, Territory, activity_ids, duration_in_words
from dote.vocabulary import slugify

#: The editors' page: beside the dashboard, whose « fiches à revoir » figures it details.
#: Not under ``registres/``, where it would take the address of a member of the same name.
REVIEWS_URL = f"{DASHBOARD_URL}revues/"
TITLE = "Fiches à revoir"
#: The label rule whose deadline this module shows.
RULE = "revue-recente"
#: How many days ahead a due date counts as « bientôt » (``dote review --within``).
DEFAULT_WITHIN = 60

State = Literal["sans-date", "en-retard", "bientot", "non-publiee"]
#: The states by urgency: never reviewed first (always failed the rule), then overdue.
STATES: tuple[State, ...] = ("sans-date", "en-retard", "bientot", "non-publiee")
STATE_LABELS: Mapping[State, str] = {
    "sans-date": "Jamais revue",
    "en-retard": "En retard",
    "bientot": "À revoir bientôt",
    "non-publiee": "Date de revue non publiée (choix du membre)",
}


@dataclass(frozen=True, slots=True)
class Review:
    """One activity to review, and why."""

    activity: Activity
    state: State
    due: dt.date | None  # the last review plus the policy's months; None without a last review
    days: int  # days overdue (en-retard) or left (bientot); 0 otherwise

    @property
    def failing(self) -> bool:
        """The label's rule fails it: overdue, or no review date at all."""
        return self.state in ("sans-date", "en-retard")

    @property
    def state_text(self) -> str:
        """The state and how late or how soon, in French: « En retard de 3 mois »."""
        if self.state == "en-retard" and self.due is not None:
            return f"En retard de {elapsed_fr(self.due, self.due + dt.timedelta(days=self.days))}"
        if self.state == "bientot":
            if self.days == 0:
                return "À revoir aujourd'hui au plus tard"
            if self.days == 1:
                return "À revoir demain au plus tard"
            return f"À revoir dans {self.days} jours"
        return STATE_LABELS[self.state]

    @property
    def planned(self) -> dt.date | None:
        """The next review the register plans, when it differs from the due date."""
        planned = self.next_review
        return planned if planned is not None and planned != self.due else None

    # What the pages show of the activity (a finding read back knows them without its record).
    @property
    def activity_id(self) -> str:
        return self.activity.id

    @property
    def name(self) -> str:
        return self.activity.name

    @property
    def reviewed(self) -> dt.date | None:
        return self.activity.dates.reviewed

    @property
    def next_review(self) -> dt.date | None:
        return self.activity.dates.next_review

    def sort_key(self) -> tuple[int, int, str]:
        days = -self.days if self.state == "en-retard" else self.days
        return (STATES.index(self.state), days, slugify(self.name))


_ACTIVITY_SLOT: Any = Review.__dict__["activity"]


class _KeptReview(Review):
    """A finding read back from the cache (:func:`_read_back`): what the pages show of its
    activity is kept with it, and its record is looked up in its member's only when asked for,
    so that a member whose findings are kept need not have its records made (see
    model.LazyMember); equal to the same finding made by :func:`compute`."""

    __slots__ = ("_activity_id", "_member", "_name", "_next_review", "_reviewed")
    _activity_id: str
    _member: Member
    _name: str
    _reviewed: dt.date | None
    _next_review: dt.date | None

    @property
    def activity(self) -> Activity:
        value = _ACTIVITY_SLOT.__get__(self, Review)
        if value is None:
            value = next(a for a in self._member.activities if a.id == self._activity_id)
            _ACTIVITY_SLOT.__set__(self, value)
        return value  # type: ignore[no-any-return]

    @activity.setter
    def activity(self, value: Any) -> None:
        _ACTIVITY_SLOT.__set__(self, value)

    @property
    def activity_id(self) -> str:
        return self._activity_id

    @property
    def name(self) -> str:
        return self._name

    @property
    def reviewed(self) -> dt.date | None:
        return self._reviewed

    @property
    def next_review(self) -> dt.date | None:
        return self._next_review

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Review):
            return NotImplemented
        return (self.activity, self.state, self.due, self.days) == (
            other.activity,
            other.state,
            other.due,
            other.days,
        )

    __hash__ = Review.__hash__


def _kept_review(member: Member, data: tuple[Any, ...], today: dt.date) -> Review:
    """A finding kept as ``data`` (see :func:`_review_data`), around ``member``, at ``today``."""
    activity_id, state, due_day, name, reviewed, next_review = data
    if not isinstance(activity_id, str) or not isinstance(name, str) or state not in STATES:
        raise ValueError(state)
    due = dt.date.fromordinal(due_day) if due_day is not None else None
    days = 0
    if due is not None and state == "en-retard":
        days = (today - due).days
    elif due is not None and state == "bientot":
        days = (due - today).days
    found = _KeptReview(None, state, due, days)  # type: ignore[arg-type]
    for slot, value in (
        ("_activity_id", activity_id),
        ("_member", member),
        ("_name", name),
        ("_reviewed", dt.date.fromordinal(reviewed) if reviewed is not None else None),
        ("_next_review", dt.date.fromordinal(next_review) if next_review is not None else None),
    ):
        object.__setattr__(found, slot, value)
    return found


class MemberReviews:
    """A member's activities to review, most urgent first.

    Made from findings kept by an earlier build (:func:`_read_back`), its findings are made
    when first read (the table of a changed member): the counts, which lists and charts of the
    whole territory show, are known without them."""

    __slots__ = ("_counts", "_first", "_made", "_make", "member")

    def __init__(
        self,
        member: Member,
        reviews: tuple[Review, ...] = (),
        *,
        make: Callable[[], tuple[Review, ...]] | None = None,
        states: Sequence[State] = (),
        first: tuple[int, int, str] | None = None,
    ) -> None:
        self.member = member
        self._make = make
        self._made = reviews if make is None else None
        self._counts = Counter(states if make is not None else (r.state for r in reviews))
        self._first = first if make is not None else (reviews[0].sort_key() if reviews else None)

    @property
    def reviews(self) -> tuple[Review, ...]:
        if self._made is None:
            assert self._make is not None
            self._made = self._make()
        return self._made

    def count(self, state: State) -> int:
        return self._counts[state]

    @property
    def size(self) -> int:
        return sum(self._counts.values())

    @property
    def failing(self) -> int:
        return self._counts["en-retard"] + self._counts["sans-date"]

    def sort_key(self) -> tuple[Any, ...]:
        """Where the member comes in the list: its most urgent record first, then the most failing."""
        assert self._first is not None
        return (self._first[:2], -self.failing, slugify(self.member.name))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemberReviews):
            return NotImplemented
        return (self.member, self.reviews) == (other.member, other.reviews)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MemberReviews({self.member.id!r}, {self.size} fiches)"


@dataclass(frozen=True)
class Reviews:
    """Every activity to review in a territory, by member, at a reference date."""

    reference_date: dt.date
    within: int
    months: int
    criterion_id: str  # the policy's criterion using the rule ("" without one)
    criterion_title: str
    activities: int  # activities looked at (the territory's published ones)
    members: tuple[MemberReviews, ...]  # members with something to review, most urgent first

    def count(self, state: State) -> int:
        return sum(m.count(state) for m in self.members)

    @property
    def failing(self) -> int:
        """Records the label's rule fails (overdue or without a review date)."""
        return sum(m.failing for m in self.members)

    @property
    def total(self) -> int:
        return sum(m.size for m in self.members)


def elapsed_fr(start: dt.date, end: dt.date) -> str:
    """The time from ``start`` to a later ``end`` in French words: « 12 jours », « 1 an et 2 mois »."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and months_later(start, months) > end:
        months -= 1
    if months < 1:
        return duration_in_words(f"P{(end - start).days}D")
    return duration_in_words(f"P{months // 12}Y{months % 12}M")


def policy_parameters(label: Evaluation | None) -> tuple[Mapping[str, Any], str, str]:
    """The rule's parameters the policy sets (its strictest criterion), its id and title."""
    rule = RULES[RULE]
    found = [c for c in label.policy.criteria.values() if c.rule == RULE] if label is not None else []
    if not found:
        return {name: p.default for name, p in rule.parameters.items()}, "", ""
    strictest = min(found, key=lambda c: int(c.parameters["age_maximum_mois"]))
    return strictest.parameters, strictest.id, strictest.title


def compute(
    territory: Territory,
    label: Evaluation | None,
    today: dt.date,
    within: int = DEFAULT_WITHIN,
    kept: MemberValues | None = None,
) -> Reviews:
    """The activities of ``territory`` to review at ``today``, per the label's rule.

    ``label`` gives the policy (its criterion's months); the records judged are those of
    ``territory``, whatever territory the evaluation was made from. With ``kept`` (a public
    build's store, keyed by each member's records and the shared files), a member's findings
    are read back from an earlier build instead of judged again: they are kept with the days
    on which they stay the same (dote.label.DateWindow: until a record becomes due soon, or
    overdue), their days late or left counted again each day.
    """
    rule = RULES[RULE]
    parameters, criterion_id, criterion_title = policy_parameters(label)
    months = int(parameters["age_maximum_mois"])
    part = f"{within}"  # what the findings depend on beyond the member's key

    def judged(member: Member, window: DateWindow | None) -> tuple[Review, ...]:
        found = []
        for activity in member.activities:
            last = activity.dates.reviewed
            if last is None and activity.withheld:
                found.append(Review(activity, "non-publiee", None, 0))
                continue
            # The rule narrows the window at the day its record is overdue.
            failed = rule.check(Subject(member, activity, territory, None, today, None, window), parameters)
            due = months_later(last, months) if last is not None else None
            if failed:
                if due is None:
                    found.append(Review(activity, "sans-date", None, 0))
                else:
                    found.append(Review(activity, "en-retard", due, (today - due).days))
            elif due is not None:
                # « Bientôt » from ``within`` days before it is due (the day before, not yet).
                soon = (
                    window.past(due - dt.timedelta(days=within + 1))
                    if window
                    else 0 <= (due - today).days <= within
                )
                if soon:
                    found.append(Review(activity, "bientot", due, (due - today).days))
        return tuple(sorted(found, key=lambda r: r.sort_key()))

    members = []
    for member in territory.members:
        kept_data = held(kept.get(member.id, part), today) if kept is not None else None
        reviews = _read_back(kept_data[2], member, today) if kept_data is not None else None
        if reviews is None:
            window = DateWindow(today) if kept is not None else None  # the days it is kept for
            found = judged(member, window)
            if window is not None and kept is not None:
                kept.put(member.id, window.kept(_review_data(found)), part)
            reviews = MemberReviews(member, found)
        if reviews.size:
            members.append(reviews)
    members.sort(key=MemberReviews.sort_key)
    return Reviews(
        reference_date=today,
        within=within,
        months=months,
        criterion_id=criterion_id,
        criterion_title=criterion_title,
        activities=territory.activity_count,
        members=tuple(members),
    )


def _review_data(reviews: tuple[Review, ...]) -> tuple[tuple[Any, ...], ...]:
    """A member's findings as plain values, with what the pages show of their activities (made
    again by :func:`_read_back`); their days late or left are counted again from the date."""

    def day(value: dt.date | None) -> int | None:
        return value.toordinal() if value is not None else None

    return tuple(
        (r.activity_id, r.state, day(r.due), r.name, day(r.reviewed), day(r.next_review)) for r in reviews
    )


def _read_back(data: Any, member: Member, today: dt.date) -> MemberReviews | None:
    """The findings kept as ``data`` (most urgent first, an order the days within their window
    do not change), around ``member``'s records, at ``today``; ``None`` when they do not fit.
    Each finding is made when the member's findings are first read."""
    if not isinstance(data, tuple):
        return None
    ids = set(activity_ids(member))
    try:
        if not all(isinstance(item, tuple) and len(item) == 6 and item[0] in ids for item in data):
            return None
        first = _kept_review(member, data[0], today).sort_key() if data else None
        states = [item[1] for item in data]
        if not all(state in STATES for state in states):
            return None
    except (TypeError, ValueError):
        return None

    def make() -> tuple[Review, ...]:
        return tuple(_kept_review(member, item, today) for item in data)

    return MemberReviews(member, make=make, states=states, first=first)


# --- the command line -----------------------------------------------------------------


def as_json(reviews: Reviews) -> dict[str, Any]:
    """What ``dote review --format json`` prints: stable keys, ISO dates."""

    def iso(value: dt.date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "date": reviews.reference_date.isoformat(),
        "delai_jours": reviews.within,
        "age_maximum_mois": reviews.months,
        "critere": reviews.criterion_id or None,
        "activites": reviews.activities,
        "compte": {state.replace("-", "_"): reviews.count(state) for state in STATES},
        "membres": [
            {
                "membre": m.member.id,
                "nom": m.member.name,
                "activites": [
                    {
                        "activite": r.activity.id,
                        "nom": r.activity.name,
                        "etat": r.state,
                        "derniere_revue": iso(r.activity.dates.reviewed),
                        "echeance": iso(r.due),
                        "prochaine_revue": iso(r.activity.dates.next_review),
                        "jours_de_retard": r.days if r.state == "en-retard" else None,
                        "jours_restants": r.days if r.state == "bientot" else None,
                        "file": r.activity.position.file,
                        "line": r.activity.position.line,
                        "column": r.activity.position.column,
                    }
                    for r in m.reviews
                ],
            }
            for m in reviews.members
        ],
    }


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def summary(reviews: Reviews) -> str:
    """The counts in one French sentence (« 3 fiches en retard, 1 jamais revue… »)."""
    parts = [
        _plural(reviews.count("en-retard"), "fiche en retard", "fiches en retard"),
        _plural(reviews.count("sans-date"), "fiche jamais revue", "fiches jamais revues"),
        _plural(reviews.count("bientot"), "fiche à revoir", "fiches à revoir")
        + f" dans les {reviews.within} jours",
    ]
    if unpublished := reviews.count("non-publiee"):
        parts.append(_plural(unpublished, "fiche sans date publiée", "fiches sans date publiée"))
    return ", ".join(parts) + f" (sur {_plural(reviews.activities, 'fiche', 'fiches')})."


def as_text(reviews: Reviews) -> str:
    """What ``dote review`` prints: a heading, the counts, then each member's records."""
    from dote.fragments import date_fr

    rule = (
        f"critère « {reviews.criterion_title} » du label"
        if reviews.criterion_id
        else "aucun critère de revue dans registers/label.yml : durée par défaut"
    )
    lines = [
        f"Revues des fiches au {date_fr(reviews.reference_date)} : chaque fiche doit être revue au moins "
        f"tous les {reviews.months} mois ({rule}).",
        summary(reviews),
    ]
    if not reviews.members:
        lines.append("Aucune fiche à revoir.")
    for m in reviews.members:
        lines.append("")
        lines.append(f"{m.member.name} ({m.member.id}) : {_plural(len(m.reviews), 'fiche', 'fiches')}")
        for r in m.reviews:
            last = r.activity.dates.reviewed
            if r.state == "non-publiee":
                detail = ["dates non publiées par le membre, non jugées ici"]
            else:
                detail = [f"dernière revue le {date_fr(last)}" if last else "aucune date de revue"]
            if r.due is not None:
                detail.append(f"à revoir au plus tard le {date_fr(r.due)}")
            if r.planned is not None:
                detail.append(f"prochaine revue prévue le {date_fr(r.planned)}")
            state = r.state_text.upper() if r.failing else r.state_text
            lines.append(f"  - {state} · {r.activity.name} ({r.activity.id}) : {', '.join(detail)}")
            p = r.activity.position
            lines.append(f"    {p.file}:{p.line}:{p.column}")
    return "\n".join(lines)


# --- the page ---------------------------------------------------------------------------


#: Members per page of the editors' page: a territory where every record is to review (registers
#: imported without review dates) would otherwise make one page of 30,000 rows (10 MB at 1,000
#: members, 50 MB at 5,000), more than a phone's browser opens comfortably.
PAGE_MEMBERS = 100


def page_url(number: int) -> str:
    """The address of the editors' page ``number`` (from 1): the first at :data:`REVIEWS_URL`."""
    return REVIEWS_URL if number == 1 else f"{REVIEWS_URL}{number}/"


def pages(
    reviews: Reviews,
    territory: Territory,
    env: jinja2.Environment,
    kept: MemberFragments | None = None,
) -> list[render.GeneratedPage]:
    """The editors' pages: the same list, a table per member, :data:`PAGE_MEMBERS` members a
    page. The first (:data:`REVIEWS_URL`) gives the counts and every member concerned, linked
    to its table on whichever page holds it.

    Each member's table (``revues-membre.html``) is taken from ``kept`` when its member's
    records, the shared files and the date are those it was made from: one changed activity
    makes one table again, not the 30,000 rows of a large territory.
    """
    chunks = [reviews.members[i : i + PAGE_MEMBERS] for i in range(0, len(reviews.members), PAGE_MEMBERS)]
    chunks = chunks or [()]
    count = len(chunks)
    where = {found.member.id: number for number, chunk in enumerate(chunks, 1) for found in chunk}

    def maker(number: int) -> Callable[[str], str]:
        def html(url: str) -> str:
            links = render.links(url)
            section = env.get_template("revues-membre.html")
            sections = []
            for found in chunks[number - 1]:
                member_id = found.member.id
                text = kept.get(member_id, url) if kept is not None else None
                if text is None:
                    text = section.render(mr=found, **links)
                    if kept is not None:
                        kept.put(member_id, url, text)
                sections.append(text)
            hrefs = [render.relative_url(url, page_url(n)) for n in range(1, count + 1)]
            # The first page lists every member concerned, each linked to its table.
            member_href = (
                {m: ("" if n == 1 else hrefs[n - 1]) + f"#membre-{m}" for m, n in where.items()}
                if number == 1
                else {}
            )
            first = (number - 1) * PAGE_MEMBERS + 1
            return env.get_template("revues.html").render(
                r=reviews,
                sections=Markup("".join(sections)),  # each rendered (and escaped) by its template
                territory=territory,
                page_number=number,
                page_count=count,
                page_hrefs=hrefs,
                member_href=member_href,
                first_member=first,
                last_member=first + len(chunks[number - 1]) - 1,
                href_dashboard=render.relative_url(url, DASHBOARD_URL),
                href_css=render.relative_url(url, STYLESHEET).rstrip("/"),
                has_label=bool(reviews.criterion_id),
                href_label=render.relative_url(url, render.LABEL_URL),
                **links,
            )

        return html

    # "*": the pages show every member's activities.
    return [
        render.GeneratedPage(
            f"{page_url(n)}index.md",
            page_url(n),
            TITLE if n == 1 else f"{TITLE}, page {n} sur {count}",
            maker(n),
            "*",
        )
        for n in range(1, count + 1)
    ]


def page(
    reviews: Reviews,
    territory: Territory,
    env: jinja2.Environment,
    kept: MemberFragments | None = None,
) -> render.GeneratedPage:
    """The first of the editors' :func:`pages` (all of them on a territory of up to
    :data:`PAGE_MEMBERS` members with records to review)."""
    return pages(reviews, territory, env, kept)[0]
