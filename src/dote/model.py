"""The typed, immutable records the engine speaks in.

Registers are written with French keys and codes; this module is the one place where
they become English-named records. Codes become :class:`~dote.vocabulary.Term` objects
(label, reference, attributes), so templates and rules never look codes up again.
Confidential fields (security measures, internal notes, staff names) have no place
here: the public model cannot carry them.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import gc
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar, cast

from dote.problems import Position
from dote.vocabulary import Term, Vocabularies, slugify

if TYPE_CHECKING:
    from dote.dpia import DpiaPolicy


@dataclass(frozen=True, slots=True)
class Contact:
    email: str = ""
    address: str = ""
    phone: str = ""
    form_url: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str = ""
    address: str = ""
    phone: str = ""
    designation: str = ""


@dataclass(frozen=True, slots=True)
class RetentionPhase:
    """One phase of a retention: active base, then intermediate archiving (CNIL, « Les durées de
    conservation »; code du patrimoine, art. R212-10 to R212-12), with its duration or criteria."""

    phase: Term  # phases-conservation
    duration: str = ""  # ISO 8601
    criteria: str = ""
    start: str = ""
    details: str = ""

    @property
    def duration_text(self) -> str:
        return duration_in_words(self.duration) if self.duration else ""

    @property
    def text(self) -> str:
        """« 1 an en base active, à compter de : clôture du dossier » (without the details)."""
        where = str(self.phase.attr("en_texte") or self.phase.label.lower())
        if self.duration:
            text = f"{self.duration_text} {where}"
            if self.criteria:
                text += f" ({self.criteria})"
            return text + (f", à compter de : {self.start}" if self.start else "")
        return f"{where} : {self.criteria}" + (f" ; point de départ : {self.start}" if self.start else "")


@dataclass(frozen=True, slots=True)
class Retention:
    """How long one data category is kept, from when, and what happens then (Art. 30(1)(f)).

    Either one ``duration`` (or ``criteria``), or ``phases``: active base, then intermediate
    archiving, each with its own duration; validation refuses both at once.
    """

    duration: str = ""  # ISO 8601, e.g. P1Y6M
    criteria: str = ""
    start: str = ""
    final_fate: Term | None = None
    reference: str = ""
    details: str = ""
    phases: tuple[RetentionPhase, ...] = ()

    @property
    def duration_text(self) -> str:
        return duration_in_words(self.duration) if self.duration else ""

    @property
    def is_defined(self) -> bool:
        """Whether the register says how long: a duration, criteria, or phases."""
        return bool(self.duration or self.criteria or self.phases)

    @property
    def total_duration(self) -> str:
        """The whole retention in ISO 8601: the duration, or the sum of the phases' durations
        (``""`` when a phase has criteria instead of a duration: no total can be given)."""
        if not self.phases:
            return self.duration
        if not all(p.duration for p in self.phases):
            return ""
        return add_durations(p.duration for p in self.phases)

    @property
    def total_duration_text(self) -> str:
        """The whole retention in words (« 5 ans »), or ``""`` when it has no figure."""
        total = self.total_duration
        return duration_in_words(total) if total else ""

    @property
    def phases_text(self) -> str:
        """« 1 an en base active, à compter de : X, puis 4 ans en archivage intermédiaire »."""
        return ", puis ".join(p.text for p in self.phases)

    @property
    def summary(self) -> str:
        """How long, in one French phrase, final fate included: « 1 an en base active, puis 4 ans en
        archivage intermédiaire, puis destruction » ; « 10 ans, à compter de : X, puis destruction »."""
        if self.phases:
            text = self.phases_text
        else:
            text = self.duration_text or self.criteria
            if self.duration and self.criteria:
                text += f" ({self.criteria})"
            if self.start:
                text += (
                    f", à compter de : {self.start}"
                    if self.duration
                    else f" ; point de départ : {self.start}"
                )
        if self.final_fate is not None:
            text += f", puis {self.final_fate.label[:1].lower()}{self.final_fate.label[1:]}"
        return text


@dataclass(frozen=True, slots=True)
class DataCategory:
    kind: Term
    details: str = ""
    retention: Retention | None = None

    @property
    def nature(self) -> str:
        """``courante``, ``sensible`` (Art. 9), ``penale`` (Art. 10) or ``nir``."""
        return str(self.kind.attr("nature", "courante"))

    @property
    def is_sensitive(self) -> bool:
        return self.nature != "courante"

    @property
    def retention_defined(self) -> bool:
        """Whether the register says how long this category is kept (duration, criteria or phases)."""
        return self.retention is not None and self.retention.is_defined


@dataclass(frozen=True, slots=True)
class Transfer:
    country: Term
    recipient: str
    safeguard: Term | None = None
    details: str = ""

    @property
    def leaves_eea(self) -> bool:
        return bool(self.country.attr("zone") == "pays-tiers")


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """The lawful basis of a purpose (GDPR Art. 6(1)), or under the Law Enforcement Directive
    (``cadre: directive-police``) the text that authorises the processing: ``basis`` is then
    the framework's own term (code ``directive-police``), never a GDPR Art. 6 code."""

    basis: Term
    reference: str = ""
    details: str = ""
    #: A public body relying on legitimate interests outside its public tasks (GDPR Art. 6(1), last subparagraph).
    outside_public_tasks: bool = False


@dataclass(frozen=True, slots=True)
class PurposeBasis:
    """One purpose of an activity and the legal basis it rests on."""

    purpose: str
    basis: LegalBasis | None
    main: bool = False  # the main purpose
    own: bool = False  # a secondary purpose with a basis of its own (not the main purpose's)


@dataclass(frozen=True, slots=True)
class Prospecting:
    """Direct marketing done by the activity (CPCE art. L34-5; GDPR Art. 21(2)-(3))."""

    channels: tuple[Term, ...] = ()
    #: Electronic prospecting of customers only, for similar products or services (CPCE art. L34-5, al. 4).
    similar_products_customers: bool = False
    #: E-mail prospecting of professionals only, at their work address and about their function:
    #: no prior consent needed in the CNIL's reading of L34-5 (position of 17 February 2005).
    professionals: bool = False

    @property
    def business_email(self) -> bool:
        """E-mail is among the channels and only reaches professionals (the CNIL's B2B exception)."""
        return self.professionals and any(c.code == "courriel" for c in self.channels)

    @property
    def electronic_channels(self) -> tuple[Term, ...]:
        """E-mail, text messages, automated calls: the channels that need prior consent."""
        return tuple(c for c in self.channels if c.attr("electronique"))


@dataclass(frozen=True, slots=True)
class Condition:
    """The Art. 9(2) exception or Art. 10 condition that allows sensitive data."""

    condition: Term
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Authorisation:
    """A prior authorisation of the processing: by the prefect (video-protection, code de la
    sécurité intérieure, art. L252-1), the CNIL (loi n° 78-17, art. 66), a decree or an order."""

    nature: Term  # natures-autorisation
    reference: str
    date: dt.date | None = None
    validity: str = ""  # ISO 8601 duration, e.g. P5Y
    details: str = ""

    @property
    def validity_text(self) -> str:
        return duration_in_words(self.validity) if self.validity else ""

    @property
    def expires(self) -> dt.date | None:
        """The day the authorisation ends (its date plus its validity), if it has one."""
        return add_duration(self.date, self.validity) if self.date and self.validity else None

    def expired(self, today: dt.date) -> bool:
        expires = self.expires
        return expires is not None and expires <= today


@dataclass(frozen=True, slots=True)
class Recipients:
    internal: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    processors: tuple[str, ...] = ()  # processor ids

    def __bool__(self) -> bool:
        return bool(self.internal or self.external or self.processors)


@dataclass(frozen=True, slots=True)
class SetAside:
    """A derived DPIA criterion or CNIL type the register sets aside, with its written reason."""

    term: Term
    justification: str


@dataclass(frozen=True, slots=True)
class Dpia:
    criteria: tuple[Term, ...] = ()
    cnil_types: tuple[Term, ...] = ()
    criteria_set_aside: tuple[SetAside, ...] = ()
    cnil_types_set_aside: tuple[SetAside, ...] = ()
    exemption: Term | None = None
    status: Term | None = None
    date: dt.date | None = None
    summary: str = ""
    link: str = ""


@dataclass(frozen=True, slots=True)
class Dates:
    created: dt.date | None = None
    updated: dt.date | None = None
    reviewed: dt.date | None = None
    next_review: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ModelRef:
    """``modele: etat-civil@2``: the model id, and the pinned version if any."""

    id: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        name, _, version = text.partition("@")
        return cls(name, int(version) if version else None)

    def __str__(self) -> str:
        return f"{self.id}@{self.version}" if self.version else self.id


@dataclass(frozen=True, slots=True)
class AlgorithmParameter:
    """One parameter of an algorithmic processing, and its weighting if any (CRPA art. R311-3-1-2, 3°)."""

    label: str
    weighting: str = ""


@dataclass(frozen=True, slots=True)
class Internal:
    """Non-public content, present only in internal outputs (read from the overlay)."""

    security_measures: tuple[tuple[str, str], ...] = ()  # (French heading, text)
    notes: str = ""
    dpo_recommendations: tuple[str, ...] = ()
    referent: Person | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """One processing activity of a member (an Art. 30(1) record)."""

    id: str
    member_id: str
    name: str
    status: Term | None  # None for a model: models have no review status
    role: Term
    position: Position
    description: str = ""
    joint_controllers: tuple[Person, ...] = ()
    controllers_served: tuple[str | Person, ...] = ()  # as a processor: member ids or other controllers
    department: str = ""
    purpose: str = ""
    secondary_purposes: tuple[str, ...] = ()
    legal_basis: LegalBasis | None = None
    #: Per secondary purpose (same order): its own legal basis, None when it shares the main one.
    secondary_bases: tuple[LegalBasis | None, ...] = ()
    framework: Term | None = None  # cadres-juridiques; None (not converted) reads as the GDPR
    prospecting: Prospecting | None = None
    conditions: tuple[Condition, ...] = ()
    authorisations: tuple[Authorisation, ...] = ()
    subjects: tuple[Term, ...] = ()
    subjects_details: str = ""
    categories: tuple[DataCategory, ...] = ()
    sources: tuple[Term, ...] = ()
    sources_details: str = ""
    mandatory_collection: bool | None = None
    recipients: Recipients = field(default_factory=Recipients)
    transfers: tuple[Transfer, ...] | None = None  # None: not stated; (): "aucun"
    tools: tuple[str, ...] = ()
    volume: int | None = None  # persons concerned
    records_per_year: int | None = None
    population_share: float | None = None  # percent of the population of the area served
    extent: Term | None = None  # geographical extent (etendues)
    means: tuple[Term, ...] = ()  # moyens-traitement
    monitoring: tuple[Term, ...] = ()  # lieux-surveillance
    purpose_kinds: tuple[Term, ...] = ()  # types-finalites
    combined_data: bool | None = None  # data crossed or combined from several datasets
    exclusion: bool | None = None  # may exclude from a right, service or contract
    innovative: bool | None = None
    rights_not_applicable: tuple[Term, ...] = ()
    rights_details: str = ""
    automated_decision: bool | None = None
    profiling: bool | None = None
    algorithm_rules: str = ""
    algorithm_link: str = ""
    #: traitement_algorithmique.decisions_individuelles as written (None: not stated);
    #: see :attr:`algorithmic_decisions` for what it means.
    algorithm_individual_decisions: bool | None = None
    algorithm_decisions: str = ""  # the individual decisions taken on the algorithm's basis
    algorithm_mention: str = ""  # the explicit mention on each decision (CRPA art. L311-3-1, R311-3-1-1)
    algorithm_contribution: str = ""  # CRPA art. R311-3-1-2, 1°
    algorithm_data: str = ""  # data processed and their sources, 2°
    algorithm_parameters: tuple[AlgorithmParameter, ...] = ()  # parameters and weighting, 3°
    algorithm_operations: str = ""  # operations carried out, 4°
    dpia: Dpia | None = None
    information_notice: str = ""  # "generee", "absente" or a URL
    themes: tuple[Term, ...] = ()
    dates: Dates = field(default_factory=Dates)
    model: ModelRef | None = None
    withheld: bool = False  # a member publishing "au choix" kept some fields back
    internal: Internal | None = None

    @property
    def algorithmic_decisions(self) -> bool:
        """Whether individual decisions rest on an algorithmic processing (CRPA art. L311-3-1).

        ``decisions_individuelles`` says so; without it, a ``traitement_algorithmique`` block
        that describes something does (the block's meaning before the flag existed).
        """
        if self.algorithm_individual_decisions is not None:
            return self.algorithm_individual_decisions
        return bool(
            self.algorithm_rules
            or self.algorithm_link
            or self.algorithm_decisions
            or self.algorithm_mention
            or self.algorithm_contribution
            or self.algorithm_data
            or self.algorithm_parameters
            or self.algorithm_operations
        )

    @property
    def sensitive_categories(self) -> tuple[DataCategory, ...]:
        return tuple(c for c in self.categories if c.is_sensitive)

    @property
    def transfers_outside_eea(self) -> tuple[Transfer, ...]:
        return tuple(t for t in self.transfers or () if t.leaves_eea)

    @property
    def police_directive(self) -> bool:
        """Processing under Directive (EU) 2016/680 (loi Informatique et Libertés, title III), not the GDPR."""
        return self.framework is not None and self.framework.code == "directive-police"

    @property
    def purposes_with_bases(self) -> tuple[PurposeBasis, ...]:
        """Every purpose with the legal basis it rests on: the main purpose first, then each
        secondary purpose with its own basis, or the main one when it has none of its own."""
        found = [PurposeBasis(self.purpose, self.legal_basis, main=True)] if self.purpose else []
        for i, text in enumerate(self.secondary_purposes):
            own = self.secondary_bases[i] if i < len(self.secondary_bases) else None
            found.append(PurposeBasis(text, own or self.legal_basis, own=own is not None))
        return tuple(found)

    @property
    def legal_bases(self) -> tuple[LegalBasis, ...]:
        """The distinct legal bases of the activity (by code), the main purpose's first."""
        seen: dict[str, LegalBasis] = {}
        for b in (self.legal_basis, *self.secondary_bases):
            if b is not None:
                seen.setdefault(b.basis.code, b)
        return tuple(seen.values())

    @property
    def deceased_subjects(self) -> bool:
        """Whether deceased persons are among the data subjects (the GDPR does not protect their
        data, recital 27; loi n° 78-17, art. 84 and 85 do)."""
        return any(s.attr("defunts") for s in self.subjects)

    @property
    def living_subjects(self) -> tuple[Term, ...]:
        """The data subjects other than deceased persons: those the GDPR protects."""
        return tuple(s for s in self.subjects if not s.attr("defunts"))


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One line of a model's journal: what changed in that version."""

    version: int
    summary: str
    date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Model:
    """A model activity that members extend (``registers/models/<id>.yml``), resolved."""

    id: str
    version: int
    content: Activity  # the model's own fields, its ancestors included
    sectors: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    journal: tuple[ModelVersion, ...] = ()
    parent: ModelRef | None = None


@dataclass(frozen=True, slots=True)
class Drift:
    """An activity pinned to an older version of its model, and what changed since."""

    model_id: str
    latest: int
    member_id: str
    activity_id: str
    pinned: int
    position: Position
    changed_fields: tuple[str, ...] = ()
    journal: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    kind: Term
    position: Position
    rights_contact: Contact
    dpo: Person | None
    dpo_shared: bool
    publication: str = "complete"
    description: str = ""
    siren: str = ""
    insee_code: str = ""
    town: str = ""
    parent_id: str = ""
    population: int | None = None
    staff: int | None = None
    address: str = ""
    website: str = ""
    joined: dt.date | None = None
    training_last: dt.date | None = None
    training_participants: int | None = None
    #: The end of the latest session of the Maison's calendar the member attended (registers/formations.yml).
    training_attended: dt.date | None = None
    activities: tuple[Activity, ...] = ()
    unlisted_activities: int = 0  # kept off the public site by the member's choice
    internal: Internal | None = None
    #: Rights requests per year the member chose to publish (publier_statistiques_demandes):
    #: (year, received, answered, answered in time), counts only (see dote.dpo_registers).
    request_statistics: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def sector(self) -> str:
        return str(self.kind.attr("secteur", "public"))

    @property
    def activity_count(self) -> int:
        """How many activities it publishes (without making them: see :class:`LazyMember`)."""
        return len(activity_ids(self))


class _Pending:
    """The activities of a :class:`LazyMember`, not made yet."""

    __slots__ = ("data", "ids", "make", "stated", "summaries")

    def __init__(
        self,
        make: Callable[[], tuple[Activity, ...]],
        ids: tuple[str, ...],
        data: Callable[[], Iterable[Mapping[str, Any]]],
    ) -> None:
        self.make = make  # makes the records
        self.ids = ids  # their ids, in order
        self.data = data  # the data each is made from (what Converter.activity reads)
        self.summaries: list[ActivitySummary] | None = None  # made once: see activity_summaries
        self.stated: frozenset[str] | None = None  # the fields any of them states: see may_state


_ACTIVITIES_SLOT: Any = Member.__dict__["activities"]
#: The ids of the members whose activities were made in this process since the last
#: :func:`dote.pipeline.run` began (for tests and profiling: which records a build made).
made_on_demand: list[str] = []


class LazyMember(Member):
    """A :class:`Member` whose activities are made when first read; it is then a plain
    ``Member`` (its class is changed back: equal to one made whole).

    A build makes a territory of these: the records of a member whose results are all kept
    (its label, page, open data, figures…) are then never made. What needs no more than ids,
    counts, names or themes reads them without making the records (:func:`activity_ids`,
    :func:`activity_summaries`, :func:`may_state`)."""

    __slots__ = ()

    @property
    def activities(self) -> tuple[Activity, ...]:
        value = _ACTIVITIES_SLOT.__get__(self, Member)
        if value.__class__ is _Pending:
            # No garbage collection while they are made: thousands of records that all live
            # until the end of the build (see pipeline.collection_paused).
            collecting = gc.isenabled()
            gc.disable()
            try:
                value = value.make()
            finally:
                if collecting:
                    gc.enable()
            _ACTIVITIES_SLOT.__set__(self, value)
            object.__setattr__(self, "__class__", Member)
            made_on_demand.append(self.id)
        return value  # type: ignore[no-any-return]

    @activities.setter
    def activities(self, value: Any) -> None:  # the dataclass's __init__ sets it
        _ACTIVITIES_SLOT.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        self.activities  # noqa: B018 - made: the object is now a Member
        return self == other

    __hash__ = Member.__hash__

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickled or copied as the plain ``Member`` it becomes once its activities are made."""
        self.activities  # noqa: B018 - made: the object is now a Member
        return self.__reduce_ex__(protocol)


def lazy_member(
    member: Member,
    make: Callable[[], tuple[Activity, ...]],
    ids: tuple[str, ...],
    data: Callable[[], Iterable[Mapping[str, Any]]],
) -> Member:
    """``member`` (made without activities), whose activities (``ids``) ``make`` makes from
    ``data`` when they are first read."""
    object.__setattr__(member, "__class__", LazyMember)
    _ACTIVITIES_SLOT.__set__(member, _Pending(make, ids, data))
    return member


def may_state(member: Member, key: str) -> bool:
    """``False`` when no activity of ``member`` states ``key`` in its data (a field of the register
    format), known without making the activities; ``True`` otherwise (then ask the records)."""
    value = _ACTIVITIES_SLOT.__get__(member, Member)
    if value.__class__ is _Pending:
        if value.stated is None:
            value.stated = frozenset(k for data in value.data() for k, v in data.items() if v)
        return key in value.stated
    return True


def member_outline(member: Member) -> tuple[Any, ...] | None:
    """What lists and checks read of ``member``'s activities without making them (their
    summaries, the fields they state: :func:`activity_summaries`, :func:`may_state`), as plain
    values (marshal-able): kept between builds, and given back by :func:`restore_outline`.
    ``None`` once its activities are made (there is nothing to keep then: they are read)."""
    value = _ACTIVITIES_SLOT.__get__(member, Member)
    if value.__class__ is not _Pending:
        return None
    may_state(member, "")  # finds the fields stated
    summaries = tuple(
        (s.id, s.name, s.purpose, s.processors, s.themes, s.newest.isoformat() if s.newest else None)
        for s in activity_summaries(member)
    )
    return summaries, tuple(sorted(value.stated or ()))


def restore_outline(member: Member, outline: Any) -> bool:
    """Give ``member`` (whose activities are not made) the outline :func:`member_outline` kept,
    if it is one for the same activities; whether it did."""
    value = _ACTIVITIES_SLOT.__get__(member, Member)
    if value.__class__ is not _Pending or not (isinstance(outline, tuple) and len(outline) == 2):
        return False
    summaries, stated = outline
    if tuple(s[0] for s in summaries) != value.ids:
        return False
    value.summaries = [
        ActivitySummary(
            i, name, purpose, processors, themes, dt.date.fromisoformat(newest) if newest else None
        )
        for i, name, purpose, processors, themes, newest in summaries
    ]
    value.stated = frozenset(stated)
    return True


def processor_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The processors an activity's data names (``Recipients.processors``)."""
    recipients = data.get("destinataires") or {}
    return _texts(recipients.get("sous_traitants"))


class ActivitySummary(NamedTuple):
    """What lists of a whole territory's activities show of each, known without making it."""

    id: str
    name: str
    purpose: str  # Activity.purpose
    processors: tuple[str, ...]  # Activity.recipients.processors
    themes: frozenset[str]  # the codes of Activity.themes
    newest: dt.date | None  # Activity.dates.updated, else .created


def _summary(activity_id: str, data: Mapping[str, Any]) -> ActivitySummary:
    """:class:`ActivitySummary` from the data :meth:`Converter.activity` reads (the same fields,
    read the same way)."""
    dates = data.get("dates") or {}
    return ActivitySummary(
        activity_id,
        data["nom"],
        (data.get("finalites") or {}).get("principale", ""),
        processor_ids(data),
        frozenset(str(code) for code in data.get("thematiques") or ()),
        _date(dates.get("mise_a_jour")) or _date(dates.get("creation")),
    )


def activity_summaries(member: Member) -> list[ActivitySummary]:
    """A summary of each of ``member``'s activities, without making them (see :class:`LazyMember`)."""
    value = _ACTIVITIES_SLOT.__get__(member, Member)
    if value.__class__ is _Pending:
        if value.summaries is None:
            value.summaries = [_summary(i, data) for i, data in zip(value.ids, value.data(), strict=True)]
        return value.summaries
    return [
        ActivitySummary(
            a.id,
            a.name,
            a.purpose,
            a.recipients.processors,
            frozenset(t.code for t in a.themes),
            a.dates.updated or a.dates.created,
        )
        for a in value
    ]


def activity_ids(member: Member) -> tuple[str, ...]:
    """The ids of ``member``'s activities, in order, without making them."""
    value = _ACTIVITIES_SLOT.__get__(member, Member)
    if value.__class__ is _Pending:
        return value.ids
    return tuple(a.id for a in value)


@dataclass(frozen=True, slots=True)
class Hosting:
    country: Term
    provider: str = ""
    details: str = ""


@dataclass(frozen=True, slots=True)
class Processor:
    id: str
    name: str
    position: Position
    services: tuple[str, ...] = ()
    siren: str = ""
    website: str = ""
    member_id: str = ""
    contact: Contact | None = None
    dpo: Person | None = None
    hosting: tuple[Hosting, ...] = ()
    contract_status: Term | None = None
    contract_date: dt.date | None = None
    contract_details: str = ""
    transfers: tuple[Transfer, ...] | None = None
    certifications: tuple[str, ...] = ()
    internal: Internal | None = None

    @property
    def countries_outside_eea(self) -> tuple[Term, ...]:
        found = [h.country for h in self.hosting] + [t.country for t in self.transfers or ()]
        seen: dict[str, Term] = {}
        for country in found:
            if country.attr("zone") == "pays-tiers":
                seen.setdefault(country.code, country)
        return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Maison:
    name: str
    territory: str
    contact: Contact
    dpo: Person
    licence: Term
    publication_director: str
    host_name: str
    host_address: str
    host_phone: str = ""
    description: str = ""
    fictional: bool = False
    website: str = ""
    siren: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # for page macros


def _default_dpia_policy() -> DpiaPolicy:
    from dote.dpia import DEFAULT_POLICY

    return DEFAULT_POLICY


@dataclass(frozen=True)
class Territory:
    """A whole territory, validated and resolved: what every output is made from."""

    maison: Maison
    members: tuple[Member, ...]
    processors: Mapping[str, Processor]
    vocabularies: Vocabularies
    models: Mapping[str, Model] = field(default_factory=dict)
    drift: tuple[Drift, ...] = ()
    dpia_policy: DpiaPolicy = field(default_factory=_default_dpia_policy)

    def models_for(self, sector: str) -> list[Model]:
        """The models meant for a sector (``public`` or ``prive``), by name."""
        return sorted(
            (m for m in self.models.values() if sector in m.sectors), key=lambda m: slugify(m.content.name)
        )

    def users_of_model(self, model_id: str) -> tuple[Activity, ...]:
        return self._users["model"].get(model_id, ())

    def processors_outside_eea(self, activity: Activity) -> tuple[Processor, ...]:
        """The activity's processors that host or send data outside the EEA (derived transfers)."""
        found = (self.processors.get(pid) for pid in activity.recipients.processors)
        return tuple(p for p in found if p is not None and p.countries_outside_eea)

    def users_of_processor(self, processor_id: str) -> tuple[Activity, ...]:
        return self._users["processor"].get(processor_id, ())

    @cached_property
    def processor_users(self) -> dict[str, list[tuple[str, str, str]]]:
        """``(member id, activity id, activity name)`` of each activity naming each processor, in
        the order of :meth:`users_of_processor`, without making the activities."""
        found: dict[str, list[tuple[str, str, str]]] = {}
        for member in self.members:
            for summary in activity_summaries(member):
                for pid in summary.processors:
                    found.setdefault(pid, []).append((member.id, summary.id, summary.name))
        return found

    @cached_property
    def activity_count(self) -> int:
        """How many activities its members publish (without making them)."""
        return sum(m.activity_count for m in self.members)

    # Computed once per territory: pages ask these for every model, processor and member.
    @cached_property
    def activities(self) -> tuple[Activity, ...]:
        return tuple(a for m in self.members for a in m.activities)

    @cached_property
    def _users(self) -> dict[str, dict[str, tuple[Activity, ...]]]:
        by_model: dict[str, list[Activity]] = {}
        by_processor: dict[str, list[Activity]] = {}
        for a in self.activities:
            if a.model is not None:
                by_model.setdefault(a.model.id, []).append(a)
            for pid in a.recipients.processors:
                by_processor.setdefault(pid, []).append(a)
        return {
            "model": {k: tuple(v) for k, v in by_model.items()},
            "processor": {k: tuple(v) for k, v in by_processor.items()},
        }

    @cached_property
    def members_by_id(self) -> dict[str, Member]:
        return {m.id: m for m in self.members}

    def member(self, member_id: str) -> Member:
        return self.members_by_id[member_id]


# --- from the French format ----------------------------------------------------------

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_UNITS = (("an", "ans"), ("mois", "mois"), ("semaine", "semaines"), ("jour", "jours"))


def _duration_parts(iso: str) -> tuple[int, int, int, int] | None:
    match = _DURATION.match(iso)
    if not match:
        return None
    years, months, weeks, days = (int(n) if n else 0 for n in match.groups())
    return years, months, weeks, days


def add_durations(durations: Iterable[str]) -> str:
    """``P1Y`` + ``P4Y6M`` → ``P5Y6M``: ISO 8601 durations added unit by unit (twelve months make
    a year); a duration of another shape is left out."""
    years = months = weeks = days = 0
    for iso in durations:
        parts = _duration_parts(iso)
        if parts is None:
            continue
        years, months, weeks, days = (a + b for a, b in zip((years, months, weeks, days), parts, strict=True))
    years, months = years + months // 12, months % 12
    text = "".join(f"{n}{unit}" for n, unit in zip((years, months, weeks, days), "YMWD", strict=True) if n)
    return "P" + (text or "0D")


def add_duration(day: dt.date, iso: str) -> dt.date | None:
    """``day`` plus an ISO 8601 duration (a month later on the 31st: the month's last day)."""
    parts = _duration_parts(iso)
    if parts is None:
        return None
    years, months, weeks, days = parts
    month_index = day.month - 1 + months + 12 * years
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last)) + dt.timedelta(weeks=weeks, days=days)


def duration_in_words(iso: str) -> str:
    """``P1Y6M`` → « 1 an et 6 mois »; unknown shapes are returned unchanged."""
    match = _DURATION.match(iso)
    if not match:
        return iso
    parts = [
        f"{int(n)} {unit[0] if int(n) == 1 else unit[1]}"
        for n, unit in zip(match.groups(), _UNITS, strict=True)
        if n and int(n)
    ]
    if not parts:
        return "aucune conservation"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


_SECURITY_HEADINGS = {
    "controle_acces": "Contrôle d'accès des utilisateurs",
    "tracabilite": "Traçabilité",
    "protection_logiciels": "Protection des logiciels",
    "sauvegarde": "Sauvegarde des données",
    "chiffrement": "Chiffrement",
    "controle_sous_traitants": "Contrôle des sous-traitants",
    "autres": "Autres mesures",
}


def model_journal(data: Mapping[str, Any], after: int = 0) -> tuple[ModelVersion, ...]:
    """A model's ``journal`` entries newer than version ``after``, oldest first."""
    return tuple(
        ModelVersion(int(e["version"]), e["resume"], _date(e.get("date")))
        for e in sorted(data.get("journal") or (), key=lambda e: int(e["version"]))
        if int(e["version"]) > after
    )


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def _volume(value: Any) -> Mapping[str, Any]:
    """``volume`` is a number of persons, or a mapping of the scale's facts."""
    if isinstance(value, Mapping):
        return value
    return {"personnes": value} if value is not None else {}


def _texts(value: Any) -> tuple[str, ...]:
    return tuple([str(v) for v in value]) if value else ()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def quick_builder(cls: Callable[_P, _R]) -> Callable[_P, _R]:
    """A constructor of the frozen, slotted record class ``cls`` that gives the same records
    about three times as fast (CPython 3.11 sets each field of a frozen dataclass through
    ``object.__setattr__``: for the 30,000 activities of a large territory, with their
    categories, retentions and dates, about half a second).

    It is a mutable twin of ``cls`` (same fields, defaults and slots) whose ``__post_init__``
    makes the new object a ``cls``: what comes out is an ordinary, frozen record of ``cls``
    (equal to one made by ``cls(...)``, same hash, same errors on a missing field). Only for
    a class without ``__post_init__``, base class, keyword-only or non-init field, which the
    twin does not mirror.
    """
    record: Any = cls
    params = getattr(record, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or "__slots__" not in vars(record)
        or record.__bases__ != (object,)
        or hasattr(record, "__post_init__")
        or any(not f.init or f.kw_only is True for f in dataclasses.fields(record))
    ):
        raise TypeError(
            f"{record.__name__}: not a frozen, slotted dataclass without base, __post_init__,"
            " keyword-only or non-init field"
        )
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in dataclasses.fields(record):
        if f.default is not dataclasses.MISSING:
            spec.append((f.name, f.type, field(default=f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            spec.append((f.name, f.type, field(default_factory=f.default_factory)))
        else:
            spec.append((f.name, f.type))

    def become_record(self: Any) -> None:
        self.__class__ = record

    twin = dataclasses.make_dataclass(
        record.__name__,
        spec,
        namespace={"__post_init__": become_record, "__module__": record.__module__},
        eq=False,
        repr=False,
        slots=True,
    )
    if getattr(twin, "__slots__", None) != record.__slots__:  # pragma: no cover - dataclasses' own layout
        raise TypeError(f"{record.__name__}: the twin's slots differ")
    return cast(Callable[_P, _R], twin)


_ACTIVITY = quick_builder(Activity)
_CATEGORY = quick_builder(DataCategory)
_RETENTION = quick_builder(Retention)
_PHASE = quick_builder(RetentionPhase)
_RECIPIENTS = quick_builder(Recipients)
_DATES = quick_builder(Dates)
_DPIA = quick_builder(Dpia)
_LEGAL_BASIS = quick_builder(LegalBasis)
_TRANSFER = quick_builder(Transfer)


class Converter:
    """Builds records from schema-valid French data, looking codes up once."""

    def __init__(self, vocabularies: Vocabularies, *, internal: bool = False) -> None:
        self.vocabularies = vocabularies
        self.internal = internal
        #: Each vocabulary's terms by code, looked up directly (a territory looks up millions).
        self._codes = {name: vocabulary.terms for name, vocabulary in vocabularies.items()}

    def internal_notes(self, data: Mapping[str, Any]) -> Internal | None:
        """The overlay's content, only in internal mode (public records never carry it)."""
        if not self.internal:
            return None
        measures = data.get("mesures_securite") or {}
        referent = data.get("referent")
        return Internal(
            security_measures=tuple((_SECURITY_HEADINGS.get(k, k), str(v)) for k, v in measures.items()),
            notes=data.get("notes_internes", ""),
            dpo_recommendations=_texts(data.get("recommandations_dpo")),
            referent=self.person(referent) if isinstance(referent, Mapping) else None,
        )

    def term(self, vocabulary: str, code: Any) -> Term:
        try:
            return self._codes[vocabulary][code]
        except (KeyError, TypeError):  # a code written as a number, or no such code
            return self.vocabularies[vocabulary][str(code)]

    def legal_basis(self, data: Any, framework: Term) -> LegalBasis | None:
        """A ``base_legale`` block; under the police directive its term is the framework's own."""
        if not isinstance(data, Mapping):
            return None
        if framework.code == "directive-police":
            term = Term(
                "bases-legales",
                framework.code,
                str(framework.attr("libelle_base", framework.label)),
                framework.label_en,
                framework.description,
                str(framework.attr("reference_base", framework.reference)),
            )
        elif "code" in data:
            term = self.term("bases-legales", data["code"])
        else:
            return None
        return _LEGAL_BASIS(
            term,
            data.get("reference", ""),
            data.get("precisions", ""),
            bool(data.get("hors_missions_publiques", False)),
        )

    def maybe_term(self, vocabulary: str, code: Any) -> Term | None:
        return self.term(vocabulary, code) if code is not None else None

    def terms(self, vocabulary: str, codes: Any) -> tuple[Term, ...]:
        if not codes:
            return ()
        found = self._codes[vocabulary]
        try:
            return tuple([found[c] for c in codes])
        except (KeyError, TypeError):
            return tuple([self.term(vocabulary, c) for c in codes])

    def contact(self, data: Mapping[str, Any] | None) -> Contact:
        data = data or {}
        return Contact(
            data.get("courriel", ""),
            data.get("adresse", ""),
            data.get("telephone", ""),
            data.get("formulaire", ""),
        )

    def person(self, data: Mapping[str, Any]) -> Person:
        return Person(
            data["nom"],
            data.get("courriel", ""),
            data.get("adresse", ""),
            data.get("telephone", ""),
            data.get("numero_designation", ""),
        )

    def transfers(self, value: Any) -> tuple[Transfer, ...] | None:
        if value is None:
            return None
        if value == "aucun":
            return ()
        return tuple(
            _TRANSFER(
                self.term("pays", t["pays"]),
                t["destinataire"],
                self.maybe_term("garanties-transfert", t.get("garantie")),
                t.get("precisions", ""),
            )
            for t in value
        )

    def maison(self, data: Mapping[str, Any]) -> Maison:
        publication = data["publication"]
        host = publication["hebergeur"]
        return Maison(
            name=data["nom"],
            territory=data["territoire"],
            contact=self.contact(data["contact"]),
            dpo=self.person(data["dpo"]),
            licence=self.term("licences", publication["licence"]),
            publication_director=publication["directeur_publication"],
            host_name=host["nom"],
            host_address=host["adresse"],
            host_phone=host.get("telephone", ""),
            description=data.get("description", ""),
            fictional=bool(data.get("fictive", False)),
            website=data.get("site", ""),
            siren=data.get("siren", ""),
            raw=data,
        )

    def member(
        self,
        member_id: str,
        data: Mapping[str, Any],
        position: Position,
        maison: Maison | None,
        activities: tuple[Activity, ...],
        unlisted: int = 0,
        attended: dt.date | None = None,
    ) -> Member:
        dpo_data = data.get("dpo")
        shared = dpo_data == "mutualise"
        dpo = (
            (maison.dpo if maison else None)
            if shared
            else (self.person(dpo_data) if isinstance(dpo_data, Mapping) else None)
        )
        kind = self.term("types-membres", data["type"])
        default_publication = "complete" if kind.attr("secteur") == "public" else "choix"
        training = data.get("formation") or {}
        return Member(
            id=member_id,
            name=data["nom"],
            kind=kind,
            position=position,
            rights_contact=self.contact(data.get("exercice_des_droits")),
            dpo=dpo,
            dpo_shared=shared,
            publication=data.get("publication", default_publication),
            description=data.get("description", ""),
            siren=data.get("siren", ""),
            insee_code=data.get("code_insee", ""),
            town=data.get("commune", ""),
            parent_id=data.get("rattachement", ""),
            population=data.get("population"),
            staff=data.get("effectif"),
            address=data.get("adresse", ""),
            website=data.get("site", ""),
            joined=_date(data.get("adhesion")),
            training_last=_date(training.get("derniere_session")),
            training_participants=training.get("participants"),
            request_statistics=tuple(
                (int(f["annee"]), int(f["recues"]), int(f["repondues"]), int(f["repondues_dans_les_delais"]))
                for f in (data.get("statistiques_demandes") or ())
            )
            if data.get("publier_statistiques_demandes") is True
            else (),
            activities=activities,
            unlisted_activities=unlisted,
            training_attended=attended,
            internal=self.internal_notes(data),
        )

    def activity(
        self,
        activity_id: str,
        member_id: str,
        data: Mapping[str, Any],
        position: Position,
        withheld: bool = False,
    ) -> Activity:
        purposes = data.get("finalites") or {}
        framework = self.term("cadres-juridiques", data.get("cadre", "rgpd"))
        secondary = purposes.get("secondaires") or ()
        secondary_bases = tuple(
            self.legal_basis(p.get("base_legale"), framework) if isinstance(p, Mapping) else None
            for p in secondary
        )
        prospecting = data.get("prospection")
        recipients = data.get("destinataires") or {}
        rights = data.get("droits") or {}
        algorithm = data.get("traitement_algorithmique") or {}
        dates = data.get("dates") or {}
        dpia = data.get("aipd")
        notice = data.get("mention_information")
        volume = _volume(data.get("volume"))
        return _ACTIVITY(
            id=activity_id,
            member_id=member_id,
            name=data["nom"],
            status=self.term("statuts-activite", data["statut"]) if "statut" in data else None,
            role=self.term("roles", data.get("role", "responsable")),
            position=position,
            description=data.get("description", ""),
            joint_controllers=tuple(self.person(p) for p in data.get("responsables_conjoints") or ()),
            controllers_served=tuple(
                c if isinstance(c, str) else self.person(c) for c in data.get("pour_le_compte_de") or ()
            ),
            department=data.get("service", ""),
            purpose=purposes.get("principale", ""),
            secondary_purposes=tuple(str(p["libelle"] if isinstance(p, Mapping) else p) for p in secondary),
            legal_basis=self.legal_basis(data.get("base_legale"), framework),
            secondary_bases=secondary_bases if any(b is not None for b in secondary_bases) else (),
            framework=framework,
            prospecting=Prospecting(
                self.terms("canaux-prospection", prospecting.get("canaux")),
                bool(prospecting.get("clients_produits_analogues", False)),
                bool(prospecting.get("professionnels", False)),
            )
            if isinstance(prospecting, Mapping)
            else None,
            conditions=tuple(
                Condition(self.term("conditions-sensibles", c["code"]), c.get("reference", ""))
                for c in data.get("conditions_sensibles") or ()
            ),
            authorisations=tuple(
                Authorisation(
                    self.term("natures-autorisation", x["nature"]),
                    x.get("reference", ""),
                    _date(x.get("date")),
                    x.get("duree_validite", ""),
                    x.get("precisions", ""),
                )
                for x in data.get("autorisations") or ()
            ),
            subjects=self.terms("personnes-concernees", data.get("personnes_concernees")),
            subjects_details=data.get("personnes_precisions", ""),
            categories=tuple(self._category(c) for c in data.get("categories_donnees") or ()),
            sources=self.terms("sources-donnees", data.get("sources")),
            sources_details=data.get("sources_precisions", ""),
            mandatory_collection=data.get("collecte_obligatoire"),
            recipients=_RECIPIENTS(
                _texts(recipients.get("internes")),
                _texts(recipients.get("externes")),
                processor_ids(data),
            ),
            transfers=self.transfers(data.get("transferts")),
            tools=_texts(data.get("outils")),
            volume=volume.get("personnes"),
            records_per_year=volume.get("enregistrements_par_an"),
            population_share=volume.get("part_population"),
            extent=self.maybe_term("etendues", volume.get("etendue")),
            means=self.terms("moyens-traitement", data.get("moyens")),
            monitoring=self.terms("lieux-surveillance", data.get("surveillance")),
            purpose_kinds=self.terms("types-finalites", purposes.get("types")),
            combined_data=data.get("croisement_donnees"),
            exclusion=data.get("exclusion"),
            innovative=data.get("usage_innovant"),
            rights_not_applicable=self.terms("droits", rights.get("non_applicables")),
            rights_details=rights.get("precisions", ""),
            automated_decision=data.get("decision_automatisee"),
            profiling=data.get("profilage"),
            algorithm_rules=algorithm.get("regles", ""),
            algorithm_link=algorithm.get("lien", ""),
            algorithm_individual_decisions=algorithm.get("decisions_individuelles"),
            algorithm_decisions=algorithm.get("decisions", ""),
            algorithm_mention=algorithm.get("mention", ""),
            algorithm_contribution=algorithm.get("contribution", ""),
            algorithm_data=algorithm.get("donnees", ""),
            algorithm_parameters=tuple(
                AlgorithmParameter(str(x["libelle"]), x.get("ponderation", ""))
                for x in algorithm.get("parametres") or ()
            ),
            algorithm_operations=algorithm.get("operations", ""),
            dpia=_DPIA(
                criteria=self.terms("criteres-aipd", dpia.get("criteres")),
                cnil_types=self.terms("liste-cnil-aipd", dpia.get("liste_cnil")),
                criteria_set_aside=tuple(
                    SetAside(self.term("criteres-aipd", x["code"]), x["justification"])
                    for x in dpia.get("criteres_ecartes") or ()
                ),
                cnil_types_set_aside=tuple(
                    SetAside(self.term("liste-cnil-aipd", x["code"]), x["justification"])
                    for x in dpia.get("liste_cnil_ecartes") or ()
                ),
                exemption=self.maybe_term("exemptions-aipd", dpia.get("exemption")),
                status=self.maybe_term("statuts-aipd", dpia.get("statut")),
                date=_date(dpia.get("date")),
                summary=dpia.get("resume", ""),
                link=dpia.get("lien", ""),
            )
            if dpia
            else None,
            information_notice=notice or "",
            themes=self.terms("thematiques", data.get("thematiques")),
            dates=_DATES(
                _date(dates.get("creation")),
                _date(dates.get("mise_a_jour")),
                _date(dates.get("revue")),
                _date(dates.get("prochaine_revue")),
            ),
            model=ModelRef.parse(data["modele"]) if data.get("modele") else None,
            withheld=withheld,
            internal=self.internal_notes(data),
        )

    def model(self, model_id: str, data: Mapping[str, Any], position: Position) -> Model:
        return Model(
            id=model_id,
            version=int(data.get("version", 1)),
            content=self.activity(model_id, "", data, position),
            sectors=_texts(data.get("secteurs")),
            references=_texts(data.get("references")),
            journal=model_journal(data),
            parent=ModelRef.parse(data["modele"]) if data.get("modele") else None,
        )

    def _category(self, data: Mapping[str, Any]) -> DataCategory:
        retention = data.get("conservation")
        return _CATEGORY(
            kind=self.term("categories-donnees", data["code"]),
            details=data.get("precisions", ""),
            retention=_RETENTION(
                duration=retention.get("duree", ""),
                criteria=retention.get("criteres", ""),
                start=retention.get("depart", ""),
                final_fate=self.maybe_term("sorts-finaux", retention.get("sort_final")),
                reference=retention.get("reference", ""),
                details=retention.get("precisions", ""),
                phases=tuple(
                    _PHASE(
                        self.term("phases-conservation", ph["phase"]),
                        ph.get("duree", ""),
                        ph.get("criteres", ""),
                        ph.get("depart", ""),
                        ph.get("precisions", ""),
                    )
                    for ph in retention.get("phases") or ()
                ),
            )
            if retention
            else None,
        )

    def processor(self, processor_id: str, data: Mapping[str, Any], position: Position) -> Processor:
        contract = data.get("contrat_article_28") or {}
        return Processor(
            id=processor_id,
            name=data["nom"],
            position=position,
            services=_texts(data.get("services")),
            siren=data.get("siren", ""),
            website=data.get("site", ""),
            member_id=data.get("membre", ""),
            contact=self.contact(data["contact"]) if data.get("contact") else None,
            dpo=self.person(data["dpo"]) if data.get("dpo") else None,
            hosting=tuple(
                Hosting(self.term("pays", h["pays"]), h.get("prestataire", ""), h.get("precisions", ""))
                for h in data.get("hebergement") or ()
            ),
            contract_status=self.maybe_term("statuts-contrat", contract.get("statut")),
            contract_date=_date(contract.get("date")),
            contract_details=contract.get("precisions", ""),
            transfers=self.transfers(data.get("transferts")),
            certifications=_texts(data.get("certifications")),
            internal=self.internal_notes(data),
        )
