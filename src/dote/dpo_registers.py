"""The DPO's registers of each member: rights requests and personal data breaches.

Both live in the confidential overlay only, beside the member's confidential fields:

* ``registers/members/<id>/demandes.yml`` (schema ``demandes.schema.json``): each rights
  request, its receipt, the right, the channel, the identity check, a possible extension,
  the answer and its outcome. The answer is due one month after receipt, extended by two
  further months when the extension is recorded with its reason and the person was told
  within the first month (GDPR art. 12(3)); the month is counted as Regulation 1182/71
  counts it (see :mod:`dote.deadlines`).
* ``registers/members/<id>/violations.yml`` (schema ``violations.schema.json``): the
  breach register of GDPR art. 33(5): facts, effects, measures, the risk assessment, the
  notification to the CNIL (within 72 hours of awareness, art. 33(1)) or why not, the
  communication to the persons (art. 34) or why not.

Nothing here is ever read by a public build: :func:`load` is called by the pipeline only
with an overlay. The only figures a public page may show are the yearly counts a member
chose to publish in its public ``member.yml`` (``publier_statistiques_demandes`` and
``statistiques_demandes``), which :func:`statistics` computes for the DPO to copy there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dote.deadlines import BREACH_HOURS, date_fr, hours_deadline, moment_fr, month_deadline, paris
from dote.layout import MEMBERS, REGISTERS
from dote.load import Document, load_file
from dote.notices import Block
from dote.problems import Position, Problem, relative_name
from dote.schema import validate_document
from dote.vocabulary import load_vocabularies

REQUESTS_FILE = "demandes.yml"
BREACHES_FILE = "violations.yml"
#: Open requests whose deadline is this close are listed as due soon (days).
DUE_SOON_DAYS = 10

CHANNELS = {
    "courrier": "courrier",
    "courriel": "courriel",
    "formulaire": "formulaire en ligne",
    "guichet": "guichet",
    "telephone": "téléphone",
    "autre": "autre",
}
OUTCOMES = {
    "satisfaite": "satisfaite",
    "partiellement-satisfaite": "partiellement satisfaite",
    "refusee": "refusée",
    "sans-objet": "sans objet (aucune donnée)",
    "retiree": "retirée par la personne",
}
IDENTITY = {"faite": "faite", "en-attente": "en attente", "non-necessaire": "non nécessaire"}
RISKS = {
    "aucun": "risque improbable",
    "risque": "risque pour les droits et libertés",
    "risque-eleve": "risque élevé pour les droits et libertés",
}
NATURES = {"confidentialite": "confidentialité", "integrite": "intégrité", "disponibilite": "disponibilité"}

REQUEST_STATUSES = {
    "en-retard": "en retard",
    "echeance-proche": "échéance proche",
    "en-cours": "en cours",
    "repondue": "répondue dans les délais",
    "repondue-en-retard": "répondue en retard",
}
BREACH_STATUSES = {
    "en-retard": "notification en retard (72 heures dépassées)",
    "a-notifier": "à notifier",
    "notifiee": "notifiée dans les 72 heures",
    "notifiee-en-retard": "notifiée après 72 heures",
    "non-notifiee": "non notifiée (motif consigné)",
}


# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One rights request and its deadline (GDPR art. 12(3))."""

    id: str
    position: Position
    received: dt.date
    right: str  # the French label of the right
    right_reference: str
    channel: str
    subject: str = ""
    identity: str = ""
    identity_date: dt.date | None = None
    extension_reason: str = ""
    extension_informed: dt.date | None = None
    extended: bool = False  # the extension counts: recorded with its reason, told in the first month
    answered: dt.date | None = None
    outcome: str = ""
    refusal_reason: str = ""
    notes: str = ""

    @property
    def deadline(self) -> dt.date:
        """The calendar last day: one month (three when extended) after receipt."""
        return month_deadline(self.received, 3 if self.extended else 1)[0]

    @property
    def legal_deadline(self) -> dt.date:
        """The calendar last day moved past a weekend or public holiday (1182/71, art. 3(4))."""
        return month_deadline(self.received, 3 if self.extended else 1)[1]

    def status(self, today: dt.date, within: int = DUE_SOON_DAYS) -> str:
        if self.answered is not None:
            return "repondue" if self.answered <= self.legal_deadline else "repondue-en-retard"
        if today > self.legal_deadline:
            return "en-retard"
        if (self.deadline - today).days <= within:
            return "echeance-proche"
        return "en-cours"

    def deadline_text(self) -> str:
        text = date_fr(self.deadline, weekday=True)
        if self.legal_deadline != self.deadline:
            text += (
                f" (reportée au {date_fr(self.legal_deadline, weekday=True)}, règlement 1182/71, art. 3(4))"
            )
        return text + (" — prolongée de deux mois (RGPD, art. 12(3))" if self.extended else "")


@dataclass(frozen=True)
class Breach:
    """One personal data breach (GDPR art. 33(5)) and its 72-hour deadline (art. 33(1))."""

    id: str
    position: Position
    facts: str
    occurred: str  # AAAA-MM-JJ or AAAA-MM-JJTHH:MM, as written
    known: dt.datetime  # aware, Europe/Paris
    consequences: str
    measures: tuple[str, ...]
    risk: str
    nature: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # French labels
    persons: tuple[str, ...] = ()
    persons_count: int | None = None
    records_count: int | None = None
    approximate: bool = False
    notified: dt.datetime | None = None
    reference: str = ""
    late_reason: str = ""
    absence_reason: str = ""
    communicated: str = ""
    communication_means: str = ""
    communication_absence_reason: str = ""
    notes: str = ""

    @property
    def deadline(self) -> dt.datetime:
        """72 hours after awareness (GDPR art. 33(1)), in Paris time."""
        return hours_deadline(self.known, BREACH_HOURS)

    @property
    def late(self) -> bool:
        return self.notified is not None and self.notified > self.deadline

    def status(self, now: dt.datetime) -> str:
        if self.notified is not None:
            return "notifiee-en-retard" if self.late else "notifiee"
        if self.risk == "aucun" or self.absence_reason:
            return "non-notifiee"
        return "en-retard" if paris(now) > self.deadline else "a-notifier"


@dataclass(frozen=True)
class MemberRegisters:
    """A member's rights requests and breaches (from the overlay)."""

    member_id: str
    requests: tuple[Request, ...] = ()
    breaches: tuple[Breach, ...] = ()
    requests_file: str = ""
    breaches_file: str = ""


@dataclass(frozen=True)
class YearFigures:
    """What a member may publish about its requests of one year: counts, nothing else."""

    year: int
    received: int
    answered: int
    in_time: int

    @property
    def share_in_time(self) -> int | None:
        """The share of answered requests answered in time, in percent (None: none answered)."""
        return round(100 * self.in_time / self.answered) if self.answered else None


def reference_moment(today: dt.date) -> dt.datetime:
    """The moment breaches are judged at: now on the day itself, else the end of that day."""
    if today == dt.date.today():
        return paris(dt.datetime.now(dt.UTC))
    return paris(dt.datetime.combine(today, dt.time(23, 59)))


def page_context(registers: MemberRegisters, today: dt.date) -> dict[str, Any]:
    """What ``_registres_dpo.html`` needs, for the internal member page."""
    return {
        "dpo": registers,
        "dpo_today": today,
        "dpo_now": reference_moment(today),
        "date_fr": date_fr,
        "moment_fr": moment_fr,
        "outcomes": OUTCOMES,
        "risks": RISKS,
        "request_statuses": REQUEST_STATUSES,
        "breach_statuses": BREACH_STATUSES,
    }


# --- reading and checking ----------------------------------------------------------------


def load(
    overlay: Path, members: Mapping[str, Document], today: dt.date
) -> tuple[dict[str, MemberRegisters], list[Problem]]:
    """Every member's registers in the overlay, checked; French problems at their lines."""
    problems: list[Problem] = []
    found: dict[str, MemberRegisters] = {}
    folder = overlay / REGISTERS / MEMBERS
    if not folder.is_dir():
        return found, problems
    for member_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        paths = [member_folder / n for n in (REQUESTS_FILE, BREACHES_FILE) if (member_folder / n).is_file()]
        if not paths:
            continue
        member_id = member_folder.name
        if member_id not in members:
            for path in paths:
                problems.append(
                    Problem(
                        Position(_name(path, overlay)),
                        f"registre d'un membre « {member_id} » inconnu du dépôt public",
                        "le dossier du dépôt confidentiel porte le même nom que celui du membre dans registers/members/",
                    )
                )
            continue
        requests: tuple[Request, ...] = ()
        breaches: tuple[Breach, ...] = ()
        names = {"requests": "", "breaches": ""}
        for path in paths:
            doc, found_problems = load_file(path, _name(path, overlay), within=overlay)
            problems.extend(found_problems)
            if doc is None:
                continue
            kind = "demandes" if path.name == REQUESTS_FILE else "violations"
            schema_problems = validate_document(doc, kind)
            problems.extend(schema_problems)
            if any(p.is_error for p in found_problems + schema_problems):
                continue
            if kind == "demandes":
                requests, more = _requests(doc, today)
                names["requests"] = doc.name
            else:
                breaches, more = _breaches(doc, today)
                names["breaches"] = doc.name
            problems.extend(more)
        found[member_id] = MemberRegisters(
            member_id, requests, breaches, names["requests"], names["breaches"]
        )
    return found, problems


def _name(path: Path, overlay: Path) -> str:
    return f"[confidentiel] {relative_name(path, overlay)}"


def _day(text: Any) -> dt.date:
    return dt.date.fromisoformat(str(text)[:10])


def _moment(text: str) -> dt.datetime:
    """``AAAA-MM-JJTHH:MM`` (or a day, read as its midnight) as an aware Paris time."""
    value = dt.datetime.fromisoformat(text) if "T" in text else dt.datetime.combine(_day(text), dt.time())
    return paris(value)


def _valid_day(text: Any) -> bool:
    try:
        _day(text)
    except ValueError:
        return False
    return True


def _duplicates(doc: Document, key: str) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for i, item in enumerate(doc.data.get(key) or ()):
        ident = str(item.get("id"))
        if ident in seen:
            problems.append(
                Problem(
                    doc.position((key, i, "id")),
                    f"identifiant « {ident} » déjà utilisé dans ce registre",
                    "chaque entrée a son identifiant propre",
                )
            )
        seen.add(ident)
    return problems


def _requests(doc: Document, today: dt.date) -> tuple[tuple[Request, ...], list[Problem]]:
    rights = load_vocabularies()["droits"]
    problems = _duplicates(doc, "demandes")
    out = []
    for i, item in enumerate(doc.data.get("demandes") or ()):
        at = ("demandes", i)
        received = _day(item["recue_le"])
        if received > today:
            problems.append(
                Problem(
                    doc.position((*at, "recue_le")), f"demande reçue le {received.isoformat()}, dans le futur"
                )
            )
        identity = item.get("verification_identite") or {}
        identity_date = _day(identity["le"]) if "le" in identity else None
        if identity.get("statut") == "faite" and identity_date is None:
            problems.append(
                Problem(
                    doc.key_position((*at, "verification_identite")),
                    "vérification d'identité « faite » sans sa date",
                    "ajoutez « le: AAAA-MM-JJ »",
                )
            )
        if identity_date is not None and identity_date < received:
            problems.append(
                Problem(
                    doc.position((*at, "verification_identite", "le")),
                    f"identité vérifiée le {identity_date.isoformat()}, avant la réception de la demande "
                    f"({received.isoformat()})",
                )
            )
        extension = item.get("prolongation") or {}
        informed = _day(extension["personne_informee_le"]) if extension else None
        extended = False
        if informed is not None:
            first_month = month_deadline(received, 1)[1]
            if informed < received:
                problems.append(
                    Problem(
                        doc.position((*at, "prolongation", "personne_informee_le")),
                        f"prolongation annoncée le {informed.isoformat()}, avant la réception de la demande "
                        f"({received.isoformat()})",
                    )
                )
            elif informed > first_month:
                problems.append(
                    Problem(
                        doc.position((*at, "prolongation", "personne_informee_le")),
                        f"prolongation annoncée le {informed.isoformat()}, après le premier mois "
                        f"(échéance du {first_month.isoformat()}) : elle ne prolonge pas le délai",
                        "la personne est informée de la prolongation et de ses motifs dans le mois qui suit "
                        "la réception de la demande (RGPD, art. 12(3))",
                        "avertissement",
                    )
                )
            else:
                extended = True
            if informed > today:
                problems.append(
                    Problem(
                        doc.position((*at, "prolongation", "personne_informee_le")),
                        f"date {informed.isoformat()} dans le futur",
                    )
                )
        answered = _day(item["repondue_le"]) if "repondue_le" in item else None
        outcome = str(item.get("issue", ""))
        if answered is not None:
            if answered < received:
                problems.append(
                    Problem(
                        doc.position((*at, "repondue_le")),
                        f"réponse du {answered.isoformat()} antérieure à la réception de la demande "
                        f"({received.isoformat()})",
                    )
                )
            if answered > today:
                problems.append(
                    Problem(
                        doc.position((*at, "repondue_le")),
                        f"réponse datée du {answered.isoformat()}, dans le futur",
                    )
                )
            if not outcome:
                problems.append(
                    Problem(
                        doc.key_position((*at, "repondue_le")),
                        "demande répondue sans son issue",
                        "ajoutez « issue » : " + ", ".join(OUTCOMES),
                    )
                )
        elif outcome and outcome != "retiree":
            problems.append(
                Problem(
                    doc.key_position((*at, "issue")),
                    f"issue « {outcome} » sans date de réponse",
                    "ajoutez « repondue_le: AAAA-MM-JJ »",
                )
            )
        if outcome in ("refusee", "partiellement-satisfaite") and not item.get("motif_refus"):
            problems.append(
                Problem(
                    doc.key_position((*at, "issue")),
                    "refus (total ou partiel) sans son motif",
                    "ajoutez « motif_refus » : la réponse donne les motifs du refus et la possibilité de saisir "
                    "la CNIL ou un juge (RGPD, art. 12(4))",
                    "avertissement",
                )
            )
        right = rights[str(item["droit"])]
        out.append(
            Request(
                id=str(item["id"]),
                position=doc.position(at),
                received=received,
                right=right.label,
                right_reference=right.reference,
                channel=CHANNELS.get(str(item["canal"]), str(item["canal"])),
                subject=str(item.get("objet", "")),
                identity=str(identity.get("statut", "")),
                identity_date=identity_date,
                extension_reason=str(extension.get("motif", "")),
                extension_informed=informed,
                extended=extended,
                answered=answered,
                outcome=outcome,
                refusal_reason=str(item.get("motif_refus", "")),
                notes=str(item.get("notes", "")),
            )
        )
    out.sort(key=lambda r: (r.received, r.id))
    return tuple(out), problems


def _breaches(doc: Document, today: dt.date) -> tuple[tuple[Breach, ...], list[Problem]]:
    vocab = load_vocabularies()
    problems = _duplicates(doc, "violations")
    out = []
    end_of_today = paris(dt.datetime.combine(today, dt.time(23, 59)))
    for i, item in enumerate(doc.data.get("violations") or ()):
        at = ("violations", i)
        occurred = str(item["survenue_le"])
        if not _valid_day(occurred) or not _valid_day(item["connue_le"]):
            bad = "survenue_le" if not _valid_day(occurred) else "connue_le"
            problems.append(Problem(doc.position((*at, bad)), "cette date n'existe pas"))
            continue
        known = _moment(str(item["connue_le"]))
        start = _moment(occurred)
        if known < start:
            problems.append(
                Problem(
                    doc.position((*at, "connue_le")),
                    f"prise de connaissance ({moment_fr(known)}) antérieure à la violation ({occurred})",
                    "la violation survient avant que le membre en ait connaissance",
                )
            )
        if known > end_of_today:
            problems.append(Problem(doc.position((*at, "connue_le")), "prise de connaissance dans le futur"))
        notification = item.get("notification_cnil") or {}
        notified = None
        if "faite_le" in notification:
            if not _valid_day(notification["faite_le"]):
                problems.append(
                    Problem(doc.position((*at, "notification_cnil", "faite_le")), "cette date n'existe pas")
                )
            else:
                notified = _moment(str(notification["faite_le"]))
        deadline = hours_deadline(known)
        risk = str(item["risque"])
        if notified is not None:
            if notified < known:
                problems.append(
                    Problem(
                        doc.position((*at, "notification_cnil", "faite_le")),
                        f"notification ({moment_fr(notified)}) antérieure à la prise de connaissance "
                        f"({moment_fr(known)})",
                    )
                )
            elif notified > deadline and not notification.get("motif_retard"):
                problems.append(
                    Problem(
                        doc.position((*at, "notification_cnil", "faite_le")),
                        f"notification faite après 72 heures (échéance : {moment_fr(deadline)}) sans le motif "
                        "du retard",
                        "ajoutez « motif_retard » : une notification tardive est accompagnée des motifs du "
                        "retard (RGPD, art. 33(1), deuxième phrase)",
                    )
                )
            if notified > end_of_today:
                problems.append(
                    Problem(
                        doc.position((*at, "notification_cnil", "faite_le")), "notification dans le futur"
                    )
                )
            if notification.get("motif_absence"):
                problems.append(
                    Problem(
                        doc.key_position((*at, "notification_cnil", "motif_absence")),
                        "violation notifiée et motif de non-notification à la fois",
                        "gardez l'un ou l'autre",
                    )
                )
        elif risk != "aucun":
            if notification.get("motif_absence"):
                problems.append(
                    Problem(
                        doc.key_position((*at, "notification_cnil", "motif_absence")),
                        f"violation évaluée « {RISKS[risk]} » mais non notifiée",
                        "seule une violation qui n'est pas susceptible d'engendrer un risque échappe à la "
                        "notification (RGPD, art. 33(1)) : notifiez-la, ou revoyez l'évaluation du risque",
                    )
                )
            elif end_of_today > deadline:
                problems.append(
                    Problem(
                        doc.key_position((*at, "risque")),
                        f"violation à notifier à la CNIL : les 72 heures ont expiré le {moment_fr(deadline)}",
                        "notifiez-la sans attendre, avec les motifs du retard (RGPD, art. 33(1)), puis "
                        "indiquez « notification_cnil: faite_le »",
                        "avertissement",
                    )
                )
        elif not notification.get("motif_absence"):
            problems.append(
                Problem(
                    doc.key_position((*at, "risque")),
                    "violation non notifiée sans le motif de l'absence de notification",
                    "ajoutez « notification_cnil: motif_absence » : le registre documente pourquoi la "
                    "violation n'est pas susceptible d'engendrer un risque (RGPD, art. 33(5))",
                )
            )
        communication = item.get("communication_personnes") or {}
        communicated = str(communication.get("faite_le", ""))
        if (
            communicated
            and _valid_day(communicated)
            and _moment(communicated) < known.replace(hour=0, minute=0)
        ):
            problems.append(
                Problem(
                    doc.position((*at, "communication_personnes", "faite_le")),
                    f"communication aux personnes ({communicated}) antérieure à la prise de connaissance",
                )
            )
        if risk == "risque-eleve" and not communicated and not communication.get("motif_absence"):
            problems.append(
                Problem(
                    doc.key_position((*at, "risque")),
                    "risque élevé : la violation est communiquée aux personnes, ou le motif de ne pas le faire "
                    "est consigné",
                    "ajoutez « communication_personnes » avec « faite_le » et « moyen », ou « motif_absence » "
                    "(une exception de l'art. 34(3) du RGPD)",
                )
            )
        persons = item.get("personnes") or {}
        out.append(
            Breach(
                id=str(item["id"]),
                position=doc.position(at),
                facts=str(item["faits"]),
                occurred=occurred,
                known=known,
                consequences=str(item["consequences"]),
                measures=tuple(str(m) for m in item["mesures"]),
                risk=risk,
                nature=tuple(NATURES.get(str(n), str(n)) for n in item.get("nature") or ()),
                categories=tuple(
                    vocab["categories-donnees"][str(c)].label for c in item.get("categories_donnees") or ()
                ),
                persons=tuple(
                    vocab["personnes-concernees"][str(c)].label for c in persons.get("categories") or ()
                ),
                persons_count=persons.get("nombre"),
                records_count=persons.get("enregistrements"),
                approximate=bool(persons.get("approximatif")),
                notified=notified,
                reference=str(notification.get("reference", "")),
                late_reason=str(notification.get("motif_retard", "")),
                absence_reason=str(notification.get("motif_absence", "")),
                communicated=communicated,
                communication_means=str(communication.get("moyen", "")),
                communication_absence_reason=str(communication.get("motif_absence", "")),
                notes=str(item.get("notes", "")),
            )
        )
    out.sort(key=lambda b: (b.known, b.id))
    return tuple(out), problems


# --- figures a member may publish ----------------------------------------------------------


def statistics(requests: Iterable[Request]) -> tuple[YearFigures, ...]:
    """Requests per year of receipt: received, answered, answered in time (counts only)."""
    years: dict[int, list[int]] = {}
    for r in requests:
        counts = years.setdefault(r.received.year, [0, 0, 0])
        counts[0] += 1
        if r.answered is not None:
            counts[1] += 1
            counts[2] += r.answered <= r.legal_deadline
    return tuple(YearFigures(y, *years[y]) for y in sorted(years))


def statistics_yaml(figures: Sequence[YearFigures]) -> str:
    """The block to copy into a member's public member.yml (with ``publier_statistiques_demandes``)."""
    lines = ["publier_statistiques_demandes: true", "statistiques_demandes:"]
    lines += [
        f"  - {{annee: {f.year}, recues: {f.received}, repondues: {f.answered}, "
        f"repondues_dans_les_delais: {f.in_time}}}"
        for f in figures
    ]
    return "\n".join(lines) + "\n"


def published_statistics(member: Mapping[str, Any]) -> tuple[YearFigures, ...]:
    """The figures a member's public member.yml publishes: none unless it opted in."""
    if member.get("publier_statistiques_demandes") is not True:
        return ()
    return tuple(
        YearFigures(
            int(f["annee"]), int(f["recues"]), int(f["repondues"]), int(f["repondues_dans_les_delais"])
        )
        for f in member.get("statistiques_demandes") or ()
    )


def check_published(
    registers: Mapping[str, MemberRegisters], members: Mapping[str, Document]
) -> list[Problem]:
    """A member's published figures that differ from its register (with the overlay only)."""
    problems = []
    for member_id, doc in members.items():
        published = published_statistics(doc.data)
        if not published or member_id not in registers:
            continue
        computed = {f.year: f for f in statistics(registers[member_id].requests)}
        for i, figures in enumerate(published):
            if computed.get(figures.year) != figures:
                problems.append(
                    Problem(
                        doc.position(("statistiques_demandes", i)),
                        f"statistiques des demandes de {figures.year} différentes du registre des demandes",
                        "recopiez les chiffres que donne « dote demandes --statistiques --member "
                        f"{member_id} »",
                        "avertissement",
                    )
                )
    return problems


# --- listings --------------------------------------------------------------------------------


def request_data(r: Request, today: dt.date) -> dict[str, Any]:
    return {
        "id": r.id,
        "file": r.position.file,
        "line": r.position.line,
        "column": r.position.column,
        "recue_le": r.received.isoformat(),
        "droit": r.right,
        "canal": r.channel,
        "echeance": r.deadline.isoformat(),
        "echeance_legale": r.legal_deadline.isoformat(),
        "prolongee": r.extended,
        "repondue_le": r.answered.isoformat() if r.answered else None,
        "issue": r.outcome or None,
        "statut": r.status(today),
        "jours_restants": None if r.answered else (r.deadline - today).days,
    }


def breach_data(b: Breach, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": b.id,
        "file": b.position.file,
        "line": b.position.line,
        "column": b.position.column,
        "survenue_le": b.occurred,
        "connue_le": b.known.isoformat(),
        "echeance_notification": b.deadline.isoformat(),
        "risque": b.risk,
        "notifiee_le": b.notified.isoformat() if b.notified else None,
        "statut": b.status(now),
        "motif_retard": b.late_reason or None,
        "motif_absence": b.absence_reason or None,
    }


def requests_text(r: Request, today: dt.date) -> str:
    status = r.status(today)
    line = f"  {r.position.file}:{r.position.line}:{r.position.column} {r.id} — {r.right}, reçue le {date_fr(r.received)}"
    if r.answered is not None:
        return (
            f"{line} : {REQUEST_STATUSES[status]} le {date_fr(r.answered)} (échéance : {r.deadline_text()})"
        )
    days = (r.deadline - today).days
    when = f"dans {days} jour{'s' if days > 1 else ''}" if days > 0 else "aujourd'hui" if days == 0 else ""
    late = f", dépassée de {(today - r.legal_deadline).days} jour(s)" if status == "en-retard" else ""
    return (
        f"{line} : {REQUEST_STATUSES[status].upper()} — échéance {r.deadline_text()}"
        + (f" {when}" if when else "")
        + late
    )


def breach_text(b: Breach, now: dt.datetime) -> str:
    status = b.status(now)
    line = (
        f"  {b.position.file}:{b.position.line}:{b.position.column} {b.id} — connue le {moment_fr(b.known)}, "
        f"{RISKS[b.risk]} : {BREACH_STATUSES[status]}"
    )
    if b.notified is not None:
        line += f" le {moment_fr(b.notified)}"
    line += f" (échéance des 72 heures : {moment_fr(b.deadline)})"
    if status == "notifiee-en-retard":
        line += f" ; motif du retard : {b.late_reason or 'NON CONSIGNÉ'}"
    if status == "non-notifiee":
        line += f" ; motif : {b.absence_reason or 'NON CONSIGNÉ'}"
    return line


# --- the notification draft -----------------------------------------------------------------


def notification_blocks(member_name: str, dpo: str, b: Breach) -> list[Block]:
    """A draft of the notification to the CNIL (GDPR art. 33(3)), pre-filled from the register.

    The CNIL takes notifications on its online service: this draft gathers what it asks,
    to copy there and to keep with the register.
    """

    def count(n: int | None) -> str:
        if n is None:
            return "[à compléter]"
        return f"{'environ ' if b.approximate else ''}{n}"

    out = [
        Block("titre", f"Notification d'une violation de données à la CNIL — projet ({b.id})"),
        Block(
            "paragraphe",
            "Document interne et confidentiel : projet prérempli à partir du registre des violations "
            "(RGPD, art. 33(5)). La notification se fait sur le service en ligne de la CNIL "
            "(https://notifications.cnil.fr/notifications/index) ; ce projet rassemble ce qu'elle demande "
            "(RGPD, art. 33(3)). Vérifiez et complétez les passages entre crochets.",
        ),
        Block("section", "Responsable du traitement"),
        Block("paragraphe", f"Organisme : {member_name}"),
        Block("paragraphe", f"Délégué à la protection des données : {dpo or '[à compléter]'}"),
        Block("section", "Chronologie"),
        Block("paragraphe", f"Violation survenue le : {b.occurred.replace('T', ' à ')}"),
        Block("paragraphe", f"Prise de connaissance : {moment_fr(b.known)}"),
        Block(
            "paragraphe",
            f"Échéance de la notification (72 heures, RGPD, art. 33(1)) : {moment_fr(b.deadline)}",
        ),
    ]
    if b.notified is not None:
        out.append(Block("paragraphe", f"Notifiée le : {moment_fr(b.notified)}"))
    if b.late or (b.notified is None and b.risk != "aucun"):
        out.append(
            Block(
                "paragraphe",
                "Motifs du retard (RGPD, art. 33(1), deuxième phrase) : "
                + (b.late_reason or "[à compléter si la notification est faite après l'échéance]"),
            )
        )
    out += [
        Block("section", "Nature de la violation (art. 33(3)(a))"),
        Block("paragraphe", b.facts),
    ]
    if b.nature:
        out.append(Block("paragraphe", "Atteinte à la " + ", à la ".join(b.nature) + " des données."))
    out.append(Block("sous-section", "Catégories de données concernées"))
    out += [Block("puce", c) for c in b.categories] or [Block("paragraphe", "[à compléter]")]
    out.append(Block("sous-section", "Personnes concernées"))
    out += [Block("puce", p) for p in b.persons]
    out += [
        Block("paragraphe", f"Nombre de personnes concernées : {count(b.persons_count)}"),
        Block("paragraphe", f"Nombre d'enregistrements concernés : {count(b.records_count)}"),
        Block("section", "Conséquences probables (art. 33(3)(c))"),
        Block("paragraphe", b.consequences),
        Block("section", "Mesures prises ou envisagées (art. 33(3)(d))"),
        *[Block("puce", m) for m in b.measures],
        Block("section", "Évaluation du risque"),
        Block("paragraphe", f"{RISKS[b.risk][0].upper()}{RISKS[b.risk][1:]}."),
        Block("section", "Information des personnes concernées (art. 34)"),
    ]
    if b.communicated:
        out.append(
            Block(
                "paragraphe",
                f"Personnes informées le {b.communicated.replace('T', ' à ')}"
                + (f" ({b.communication_means})" if b.communication_means else "")
                + ".",
            )
        )
    elif b.communication_absence_reason:
        out.append(Block("paragraphe", f"Personnes non informées : {b.communication_absence_reason}"))
    else:
        out.append(
            Block("paragraphe", "[à compléter : information des personnes, ou pourquoi elle n'est pas due]")
        )
    return out


def draft_bytes(root: Path, member_name: str, dpo: str, breach: Breach, fmt: str) -> bytes:
    """The notification draft as DOCX or ODT (:func:`dote.documents.filled_document`)."""
    from dote import documents

    return documents.filled_document(
        root, notification_blocks(member_name, dpo, breach), "docx" if fmt == "docx" else "odt"
    )


def command(args: Any) -> int:
    """``dote demandes`` and ``dote violations`` (exit 0, 1 when something is late, 2 on errors)."""
    import json
    import sys

    from dote import pipeline
    from dote.confidential import OVERLAY_ENV, overlay_location, private_location_refusal
    from dote.problems import format_problems

    def fail(message: str) -> int:
        print(f"dote : erreur : {message}", file=sys.stderr)
        return 2

    root = Path(args.root).resolve()
    try:
        today = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
    except ValueError:
        return fail(f"date « {args.date} » invalide (format AAAA-MM-JJ)")
    location = overlay_location(args.overlay, None, root)
    if location is None or not location.is_dir():
        return fail(
            f"ces registres sont dans le dépôt confidentiel : indiquez-le (--overlay DOSSIER ou la variable {OVERLAY_ENV})"
            + (f" ; {location} est introuvable" if location is not None else "")
        )
    if refusal := private_location_refusal(location, root, "le dépôt confidentiel"):
        return fail(refusal)
    drafting = args.command == "violations" and args.brouillon is not None
    if drafting:
        if args.output is None or args.output.suffix.lower() not in (".docx", ".odt"):
            return fail(
                "le projet de notification s'écrit dans un fichier .docx ou .odt : indiquez -o FICHIER"
            )
        if args.member is None:
            return fail("indiquez le membre de la violation : --member ID")
        if refusal := private_location_refusal(args.output.parent, root, f"le projet ({args.output})"):
            return fail(
                refusal
                + " ; ce projet est confidentiel : écrivez-le ailleurs (par exemple dans le dépôt confidentiel)"
            )
        if Path(args.output).resolve().is_relative_to(root):
            return fail(
                f"{args.output} est dans le dépôt public ; ce projet est confidentiel : écrivez-le ailleurs "
                "(par exemple dans le dépôt confidentiel)"
            )
    result = pipeline.run(root, today=today, overlay=location)
    if not result.ok or result.territory is None:
        print(format_problems(result.errors, "text"))
        return 2
    members = result.territory.members_by_id
    if args.member is not None and args.member not in members:
        return fail(f"membre « {args.member} » inconnu (membres : {', '.join(sorted(members))})")
    chosen = [
        m
        for m in result.territory.members
        if m.id == args.member or (args.member is None and m.id in result.dpo_registers)
    ]
    registers = result.dpo_registers
    now = reference_moment(today)
    if drafting:
        found = registers.get(args.member)
        breach = next((b for b in found.breaches if b.id == args.brouillon), None) if found else None
        if breach is None:
            known = ", ".join(b.id for b in found.breaches) if found else ""
            return fail(
                f"violation « {args.brouillon} » inconnue pour ce membre (violations : {known or 'aucune'})"
            )
        member = members[args.member]
        dpo = member.dpo.name if member.dpo is not None else ""
        from dote.documents import DocumentError
        from dote.files import write_atomic_bytes

        try:
            content = draft_bytes(root, member.name, dpo, breach, args.output.suffix.lower()[1:])
        except DocumentError as err:
            return fail(str(err))
        write_atomic_bytes(args.output, content)
        print(f"Projet de notification de la violation {breach.id} écrit dans {args.output}", file=sys.stderr)
        return 0
    late = False
    if args.command == "demandes":
        if args.statistiques:
            for m in chosen:
                figures = statistics(registers[m.id].requests) if m.id in registers else ()
                print(f"# {m.name} ({m.id}) : à recopier dans registers/members/{m.id}/member.yml")
                print(statistics_yaml(figures))
            return 0
        data = {
            m.id: [request_data(r, today) for r in registers[m.id].requests] if m.id in registers else []
            for m in chosen
        }
        late = any(item["statut"] == "en-retard" for items in data.values() for item in items)
        if args.format == "json":
            print(json.dumps({"date": today.isoformat(), "membres": data}, ensure_ascii=False, indent=2))
        else:
            print(f"Demandes d'exercice des droits au {date_fr(today)}")
            for m in chosen:
                requests = registers[m.id].requests if m.id in registers else ()
                order = {"en-retard": 0, "echeance-proche": 1, "en-cours": 2}
                open_ones = sorted(
                    (r for r in requests if r.answered is None),
                    key=lambda r: (order[r.status(today)], r.deadline),
                )
                answered = [r for r in requests if r.answered is not None]
                print(f"\n{m.name} ({m.id}) : {len(requests)} demande(s), {len(open_ones)} en cours")
                for r in open_ones + answered:
                    print(requests_text(r, today))
        return 1 if late else 0
    data = {
        m.id: [breach_data(b, now) for b in registers[m.id].breaches] if m.id in registers else []
        for m in chosen
    }
    late = any(item["statut"] == "en-retard" for items in data.values() for item in items)
    if args.format == "json":
        print(json.dumps({"date": now.isoformat(), "membres": data}, ensure_ascii=False, indent=2))
    else:
        print(f"Violations de données au {moment_fr(now)}")
        for m in chosen:
            breaches = registers[m.id].breaches if m.id in registers else ()
            print(f"\n{m.name} ({m.id}) : {len(breaches)} violation(s)")
            for b in breaches:
                print(breach_text(b, now))
    return 1 if late else 0
