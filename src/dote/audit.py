"""The DPO's audit of a member and its action plan: a questionnaire, answers, scores, actions.

* The questionnaire is public data: ``registers/audit.yml`` (schema ``audit``), domains
  of weighted questions, each with the evidence expected, its legal references and the
  action it recommends.
* A member's answers and action plan are confidential: they live in the overlay only,
  ``registers/members/<id>/audit.yml`` (schema ``audit-reponses``) and ``actions.yml``
  (schema ``actions``). The public pipeline never reads them (:func:`load` is given no
  overlay there) and the public registers refuse them (:mod:`dote.layout`).

Scores: each answer earns its question's weight times 1 (oui), 0.5 (partiel) or 0 (non);
« sans-objet » is left out of the score (neither earned nor possible), as is a question
left unanswered (reported as a warning). A domain's score is earned / possible, the
overall score the same over every domain (so a domain weighs by its questions' weights).
Every gap (non, partiel) becomes a proposed action, its priority given by the weight
(3 haute, 2 moyenne, 1 basse). An action is overdue when neither done nor abandoned and
its due date is before the reference date (the due day itself is not late).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dote.confidential import private_location_refusal, report_output_refusal
from dote.layout import AUDIT_FILE, MEMBERS, REGISTERS, Sources
from dote.load import Document, load_file
from dote.problems import Position, Problem, relative_name
from dote.schema import validate_document

MEMBER_AUDIT = "audit.yml"
MEMBER_ACTIONS = "actions.yml"
CONFIDENTIAL = "[confidentiel]"

#: What each answer earns of its question's weight (« sans-objet » counts for nothing).
CREDIT = {"oui": 1.0, "partiel": 0.5, "non": 0.0}
ANSWER_LABELS = {"oui": "Oui", "partiel": "Partiel", "non": "Non", "sans-objet": "Sans objet"}
GAPS = ("non", "partiel")
PRIORITY_OF_WEIGHT = {3: "haute", 2: "moyenne", 1: "basse"}
PRIORITIES = ("haute", "moyenne", "basse")
PRIORITY_LABELS = {"haute": "haute", "moyenne": "moyenne", "basse": "basse"}
STATUS_LABELS = {"a-faire": "à faire", "en-cours": "en cours", "faite": "faite", "abandonnee": "abandonnée"}
OPEN = ("a-faire", "en-cours")


# --- records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    domain: str  # the domain's id
    text: str
    evidence: str
    weight: int
    references: tuple[str, ...]
    action: str

    @property
    def priority(self) -> str:
        return PRIORITY_OF_WEIGHT.get(self.weight, "basse")


@dataclass(frozen=True)
class Domain:
    id: str
    title: str
    description: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Questionnaire:
    title: str
    description: str
    domains: tuple[Domain, ...]
    position: Position

    @property
    def questions(self) -> dict[str, Question]:
        return {q.id: q for d in self.domains for q in d.questions}


@dataclass(frozen=True)
class Answer:
    question: str
    level: str  # oui, partiel, non, sans-objet
    evidence: str
    comment: str
    position: Position


@dataclass(frozen=True)
class MemberAudit:
    member_id: str
    date: dt.date
    auditor: str
    scope: str
    answers: Mapping[str, Answer]  # by question id
    position: Position


@dataclass(frozen=True)
class Action:
    id: str
    what: str
    activities: tuple[str, ...]
    question: str
    owner: str
    due: dt.date
    status: str
    priority: str
    cost: float | None
    created: dt.date
    done: dt.date | None
    notes: str
    position: Position

    def overdue(self, today: dt.date) -> bool:
        """Neither done nor abandoned, and due before ``today`` (the due day is not late)."""
        return self.status in OPEN and self.due < today

    def days_late(self, today: dt.date) -> int:
        return (today - self.due).days if self.overdue(today) else 0


@dataclass(frozen=True)
class ActionPlan:
    member_id: str
    actions: tuple[Action, ...]
    position: Position

    def overdue(self, today: dt.date, priorities: Iterable[str] = PRIORITIES) -> tuple[Action, ...]:
        wanted = set(priorities)
        return tuple(a for a in self.actions if a.priority in wanted and a.overdue(today))


@dataclass(frozen=True)
class AuditData:
    """The questionnaire (public) and, with the overlay only, members' answers and plans."""

    questionnaire: Questionnaire | None = None
    audits: Mapping[str, MemberAudit] = field(default_factory=dict)
    plans: Mapping[str, ActionPlan] = field(default_factory=dict)
    #: Whether the overlay was read (the plans are then known, even when there are none).
    overlay: bool = False


# --- loading and validation -----------------------------------------------------------


def load(
    root: Path, overlay: Path | None, sources: Sources, today: dt.date
) -> tuple[AuditData, list[Problem]]:
    """The questionnaire of ``root`` and, when ``overlay`` is given, every member's answers and plan.

    Never raises on bad input: a file with errors is left out and its problems returned.
    """
    problems: list[Problem] = []
    questionnaire = None
    path = root / REGISTERS / AUDIT_FILE
    if path.is_file():
        doc, found = load_file(path, relative_name(path, root), within=root)
        problems += found
        if doc is not None:
            schema_problems = validate_document(doc, "audit")
            problems += schema_problems
            problems += _questionnaire_problems(doc)
            if not any(p.is_error for p in [*found, *schema_problems]):
                questionnaire = _questionnaire(doc)
    if overlay is None or private_location_refusal(overlay, root, "le dépôt confidentiel"):
        # A refused overlay is reported by dote.confidential.merge_overlay: never read here.
        return AuditData(questionnaire), problems
    audits: dict[str, MemberAudit] = {}
    plans: dict[str, ActionPlan] = {}
    folder = overlay / REGISTERS / MEMBERS
    members = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for member_dir in members:
        member_id = member_dir.name
        for name in (MEMBER_AUDIT, MEMBER_ACTIONS):
            file = member_dir / name
            if not file.is_file():
                continue
            shown = f"{CONFIDENTIAL} {relative_name(file, overlay)}"
            if member_id not in sources.members:
                problems.append(
                    Problem(
                        Position(shown),
                        f"membre « {member_id} » inconnu : aucun registers/members/{member_id}/member.yml "
                        "valide dans le dépôt public",
                        _close_hint(member_id, sources.members, "membres"),
                    )
                )
                continue
            doc, found = load_file(file, shown, within=overlay)
            problems += found
            if doc is None or any(p.is_error for p in found):
                continue
            kind = "audit-reponses" if name == MEMBER_AUDIT else "actions"
            schema_problems = validate_document(doc, kind)
            problems += schema_problems
            if any(p.is_error for p in schema_problems):
                continue
            if name == MEMBER_AUDIT:
                if questionnaire is None:
                    problems.append(
                        Problem(
                            doc.position(),
                            "réponses d'audit sans questionnaire valide (registers/audit.yml du dépôt public)",
                            "le questionnaire est public : il est dans registers/audit.yml du dépôt public",
                        )
                    )
                    continue
                audit, found = _member_audit(doc, member_id, questionnaire, today)
                problems += found
                audits[member_id] = audit
            else:
                known = set(sources.activities.get(member_id, {}))
                plan, found = _action_plan(doc, member_id, known, questionnaire, today)
                problems += found
                plans[member_id] = plan
    return AuditData(questionnaire, audits, plans, overlay=True), problems


def _close_hint(ref: str, known: Iterable[str], what: str) -> str:
    close = difflib.get_close_matches(ref, sorted(known), n=3, cutoff=0.5)
    return (
        f"{what} proches : {', '.join(close)}"
        if close
        else f"{what} connus : {', '.join(sorted(known)) or 'aucun'}"
    )


def _questionnaire_problems(doc: Document) -> list[Problem]:
    """Identifiers unique across the questionnaire (domains, and questions across domains)."""
    problems: list[Problem] = []
    if not isinstance(doc.data, Mapping) or not isinstance(doc.data.get("domaines"), list):
        return problems
    domains: dict[str, int] = {}
    questions: dict[str, str] = {}
    for i, domain in enumerate(doc.data["domaines"]):
        if not isinstance(domain, Mapping):
            continue
        ident = domain.get("id")
        if isinstance(ident, str):
            if ident in domains:
                problems.append(
                    Problem(
                        doc.position(("domaines", i, "id")),
                        f"domaine « {ident} » défini deux fois",
                        "donnez un identifiant distinct à chaque domaine",
                    )
                )
            domains.setdefault(ident, i)
        for j, question in enumerate(domain.get("questions") or ()):
            qid = question.get("id") if isinstance(question, Mapping) else None
            if not isinstance(qid, str):
                continue
            if qid in questions:
                problems.append(
                    Problem(
                        doc.position(("domaines", i, "questions", j, "id")),
                        f"question « {qid} » définie deux fois (déjà dans le domaine « {questions[qid]} »)",
                        "les réponses des membres désignent une question par son identifiant : il est unique",
                    )
                )
            questions.setdefault(qid, str(ident))
    return problems


def _questionnaire(doc: Document) -> Questionnaire:
    data = doc.data
    domains = []
    for d in data["domaines"]:
        questions = tuple(
            Question(
                q["id"],
                d["id"],
                q["texte"],
                q["preuves_attendues"],
                int(q["poids"]),
                tuple(q["references"]),
                q["action"],
            )
            for q in d["questions"]
        )
        domains.append(Domain(d["id"], d["titre"], d.get("description", ""), questions))
    return Questionnaire(data["titre"], data.get("description", ""), tuple(domains), doc.position())


def _member_audit(
    doc: Document, member_id: str, questionnaire: Questionnaire, today: dt.date
) -> tuple[MemberAudit, list[Problem]]:
    problems: list[Problem] = []
    data = doc.data
    day = dt.date.fromisoformat(data["date"])
    if day > today:
        problems.append(
            Problem(
                doc.position(("date",)),
                f"date d'audit {day.isoformat()} dans le futur",
                "indiquez le jour où l'audit a eu lieu",
            )
        )
    known = questionnaire.questions
    answers: dict[str, Answer] = {}
    for i, item in enumerate(data["reponses"]):
        qid = item["question"]
        if qid not in known:
            problems.append(
                Problem(
                    doc.position(("reponses", i, "question")),
                    f"question « {qid} » inconnue du questionnaire d'audit",
                    _close_hint(qid, known, "questions"),
                )
            )
            continue
        if qid in answers:
            problems.append(
                Problem(
                    doc.position(("reponses", i, "question")),
                    f"deux réponses à la question « {qid} » (déjà à la ligne {answers[qid].position.line})",
                    "gardez une seule réponse par question",
                )
            )
            continue
        level = item["reponse"]
        if level in ("oui", "sans-objet") and not item.get("preuves"):
            problems.append(
                Problem(
                    doc.position(("reponses", i, "reponse")),
                    f"réponse « {level} » sans « preuves » à la question « {qid} »",
                    "notez ce que l'auditeur a vu (ou pourquoi la question ne concerne pas le membre) : "
                    f"{known[qid].evidence}",
                    "avertissement",
                )
            )
        answers[qid] = Answer(
            qid, level, item.get("preuves", ""), item.get("commentaire", ""), doc.position(("reponses", i))
        )
    missing = [q for q in known if q not in answers]
    if missing:
        problems.append(
            Problem(
                doc.position(("reponses",)),
                f"{len(missing)} question{'s' if len(missing) > 1 else ''} du questionnaire sans réponse : "
                + ", ".join(missing),
                "elles ne comptent pas dans le score ; répondez « sans-objet » à celles qui ne concernent pas le membre",
                "avertissement",
            )
        )
    audit = MemberAudit(member_id, day, data["auditeur"], data.get("perimetre", ""), answers, doc.position())
    return audit, problems


def _action_plan(
    doc: Document,
    member_id: str,
    activities: set[str],
    questionnaire: Questionnaire | None,
    today: dt.date,
) -> tuple[ActionPlan, list[Problem]]:
    problems: list[Problem] = []
    actions: list[Action] = []
    seen: dict[str, int] = {}
    questions = questionnaire.questions if questionnaire is not None else {}
    for i, item in enumerate(doc.data["actions"]):
        at = ("actions", i)
        ident = item["id"]
        if ident in seen:
            problems.append(
                Problem(
                    doc.position((*at, "id")),
                    f"action « {ident} » déclarée deux fois (déjà à la ligne {seen[ident]})",
                    "donnez un identifiant distinct à chaque action",
                )
            )
            continue
        seen[ident] = doc.position(at).line
        for j, ref in enumerate(item.get("activites") or ()):
            if ref not in activities:
                problems.append(
                    Problem(
                        doc.position((*at, "activites", j)),
                        f"activité « {ref} » inconnue pour le membre « {member_id} »",
                        _close_hint(ref, activities, "activités"),
                    )
                )
        question = item.get("question", "")
        if question and question not in questions:
            problems.append(
                Problem(
                    doc.position((*at, "question")),
                    f"question d'audit « {question} » inconnue",
                    _close_hint(question, questions, "questions")
                    if questions
                    else "aucun questionnaire valide dans registers/audit.yml du dépôt public",
                )
            )
        created = dt.date.fromisoformat(item["creation"])
        due = dt.date.fromisoformat(item["echeance"])
        done = dt.date.fromisoformat(item["realisation"]) if "realisation" in item else None
        status = item["statut"]
        if created > today:
            problems.append(
                Problem(
                    doc.position((*at, "creation")), f"date de création {created.isoformat()} dans le futur"
                )
            )
        if due < created:
            problems.append(
                Problem(
                    doc.position((*at, "echeance")),
                    f"dates dans le désordre : l'échéance précède la création ({due.isoformat()} < {created.isoformat()})",
                )
            )
        if done is not None:
            if done < created:
                problems.append(
                    Problem(
                        doc.position((*at, "realisation")),
                        "dates dans le désordre : la réalisation précède la création "
                        f"({done.isoformat()} < {created.isoformat()})",
                    )
                )
            if done > today:
                problems.append(
                    Problem(
                        doc.position((*at, "realisation")),
                        f"date de réalisation {done.isoformat()} dans le futur",
                        "une action n'est faite qu'une fois faite : laissez-la « en-cours » d'ici là",
                    )
                )
            if status != "faite":
                problems.append(
                    Problem(
                        doc.position((*at, "realisation")),
                        f"date de réalisation pour une action au statut « {STATUS_LABELS[status]} »",
                        "écrivez « statut: faite », ou retirez « realisation »",
                        "avertissement",
                    )
                )
        elif status == "faite":
            problems.append(
                Problem(
                    doc.position((*at, "statut")),
                    "action « faite » sans date de réalisation",
                    "indiquez « realisation: AAAA-MM-JJ », le jour où elle a été faite",
                )
            )
        cost = item.get("cout")
        actions.append(
            Action(
                ident,
                item["quoi"],
                tuple(item.get("activites") or ()),
                question,
                item["responsable"],
                due,
                status,
                item["priorite"],
                float(cost) if cost is not None else None,
                created,
                done,
                item.get("notes", ""),
                doc.position(at),
            )
        )
    return ActionPlan(member_id, tuple(actions), doc.position()), problems


# --- scores and proposed actions ------------------------------------------------------


@dataclass(frozen=True)
class DomainScore:
    domain: Domain
    earned: float
    possible: int
    counts: Mapping[str, int]  # answers by level, and "sans-reponse"

    @property
    def percent(self) -> int | None:
        """The score in whole percent (rounded half up), None when nothing counts."""
        if not self.possible:
            return None
        return int(self.earned * 100 / self.possible + 0.5)


@dataclass(frozen=True)
class Proposal:
    """A gap of the audit turned into an action to put in the plan."""

    question: Question
    answer: Answer
    priority: str
    planned: tuple[str, ...]  # ids of the plan's actions that name this question


@dataclass(frozen=True)
class Scores:
    audit: MemberAudit
    domains: tuple[DomainScore, ...]
    earned: float
    possible: int
    proposals: tuple[Proposal, ...]

    @property
    def percent(self) -> int | None:
        return int(self.earned * 100 / self.possible + 0.5) if self.possible else None


def score(questionnaire: Questionnaire, audit: MemberAudit, plan: ActionPlan | None = None) -> Scores:
    """Scores by domain and overall, and the proposed action of every gap (highest priority first)."""
    domains = []
    proposals = []
    planned: dict[str, list[str]] = {}
    for action in plan.actions if plan is not None else ():
        if action.question:
            planned.setdefault(action.question, []).append(action.id)
    for domain in questionnaire.domains:
        earned, possible = 0.0, 0
        counts = dict.fromkeys((*ANSWER_LABELS, "sans-reponse"), 0)
        for question in domain.questions:
            answer = audit.answers.get(question.id)
            if answer is None:
                counts["sans-reponse"] += 1
                continue
            counts[answer.level] += 1
            if answer.level == "sans-objet":
                continue
            possible += question.weight
            earned += question.weight * CREDIT[answer.level]
            if answer.level in GAPS:
                proposals.append(
                    Proposal(question, answer, question.priority, tuple(planned.get(question.id, ())))
                )
        domains.append(DomainScore(domain, earned, possible, counts))
    proposals.sort(key=lambda p: PRIORITIES.index(p.priority))  # stable: questionnaire order within
    return Scores(
        audit,
        tuple(domains),
        sum(d.earned for d in domains),
        sum(d.possible for d in domains),
        tuple(proposals),
    )


# --- outputs ---------------------------------------------------------------------------


def percent_text(value: int | None) -> str:
    return "—" if value is None else f"{value} %"


def _date_fr(day: dt.date) -> str:
    from dote.fragments import date_fr  # dote.fragments imports much: at call time

    return date_fr(day)


def scores_data(scores: Scores, plan: ActionPlan | None, today: dt.date) -> dict[str, Any]:
    audit = scores.audit
    return {
        "membre": audit.member_id,
        "date": audit.date.isoformat(),
        "auditeur": audit.auditor,
        "perimetre": audit.scope or None,
        "score": scores.percent,
        "points": round(scores.earned, 2),
        "points_possibles": scores.possible,
        "domaines": [
            {
                "domaine": d.domain.id,
                "titre": d.domain.title,
                "score": d.percent,
                "points": round(d.earned, 2),
                "points_possibles": d.possible,
                "reponses": dict(d.counts),
            }
            for d in scores.domains
        ],
        "actions_proposees": [
            {
                "question": p.question.id,
                "domaine": p.question.domain,
                "reponse": p.answer.level,
                "action": p.question.action,
                "priorite": p.priority,
                "references": list(p.question.references),
                "au_plan": list(p.planned),
            }
            for p in scores.proposals
        ],
        "plan": [action_data(a, today) for a in plan.actions] if plan is not None else [],
    }


def action_data(a: Action, today: dt.date) -> dict[str, Any]:
    return {
        "id": a.id,
        "quoi": a.what,
        "activites": list(a.activities),
        "question": a.question or None,
        "responsable": a.owner,
        "echeance": a.due.isoformat(),
        "statut": a.status,
        "priorite": a.priority,
        "cout": a.cost,
        "creation": a.created.isoformat(),
        "realisation": a.done.isoformat() if a.done else None,
        "en_retard": a.overdue(today),
        "jours_de_retard": a.days_late(today),
        "file": a.position.file,
        "line": a.position.line,
        "column": a.position.column,
    }


def scores_text(scores: Scores, member_name: str) -> str:
    audit = scores.audit
    lines = [
        f"Audit de {member_name} ({audit.member_id}) du {_date_fr(audit.date)}, par {audit.auditor}",
        f"Score global : {percent_text(scores.percent)} ({_points(scores.earned)} / {scores.possible} points)",
        "",
    ]
    for d in scores.domains:
        na = d.counts["sans-objet"]
        missing = d.counts["sans-reponse"]
        extra = "".join(
            (
                f" ; {na} sans objet" if na else "",
                f" ; {missing} sans réponse" if missing else "",
            )
        )
        lines.append(
            f"  {d.domain.title} : {percent_text(d.percent)} ({_points(d.earned)} / {d.possible}{extra})"
        )
    lines.append("")
    if scores.proposals:
        lines.append(f"Actions proposées ({len(scores.proposals)}) :")
        for p in scores.proposals:
            planned = f" [au plan : {', '.join(p.planned)}]" if p.planned else ""
            lines.append(
                f"  {p.answer.position.file}:{p.answer.position.line}:{p.answer.position.column}: "
                f"priorité {p.priority} — {p.question.action} (question « {p.question.id} », "
                f"réponse « {ANSWER_LABELS[p.answer.level].lower()} » ; {', '.join(p.question.references)}){planned}"
            )
    else:
        lines.append("Aucun écart : aucune action proposée.")
    return "\n".join(lines)


def _points(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def actions_text(plans: Sequence[tuple[str, ActionPlan]], today: dt.date, overdue_only: bool) -> str:
    lines = []
    for name, plan in plans:
        shown = [a for a in plan.actions if a.overdue(today)] if overdue_only else list(plan.actions)
        late = len(plan.overdue(today))
        lines.append(
            f"{name} ({plan.member_id}) : {len(plan.actions)} action{'s' if len(plan.actions) > 1 else ''}, "
            f"{late} en retard au {_date_fr(today)}"
        )
        for a in sorted(shown, key=lambda a: (not a.overdue(today), PRIORITIES.index(a.priority), a.due)):
            state = f"EN RETARD de {a.days_late(today)} j" if a.overdue(today) else STATUS_LABELS[a.status]
            if a.status == "faite" and a.done is not None:
                state += f" le {_date_fr(a.done)}"
            lines.append(
                f"  {a.position.file}:{a.position.line}:{a.position.column}: [{a.priority}] {a.id} — {a.what} — "
                f"échéance {_date_fr(a.due)} — {state} — responsable : {a.owner}"
            )
    return "\n".join(lines)


# --- the internal member page ----------------------------------------------------------

#: The chart's geometry (SVG user units): a label above each bar, its score after it.
_WIDTH, _FONT, _LINE, _BAR, _GAP, _VALUE_ROOM = 360, 12, 15, 14, 12, 48


@dataclass(frozen=True)
class Bar:
    lines: tuple[str, ...]
    label_y: float
    bar_y: float
    bar_width: float
    value: str
    value_x: float
    value_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: float
    bar_height: int
    line_height: int
    font_size: int
    bars: tuple[Bar, ...]


def draw(domains: Sequence[DomainScore]) -> Chart:
    """A horizontal bar per domain, the full width being 100 % (text is escaped by the template)."""
    from dote.dashboard import wrap_label

    scale = (_WIDTH - _VALUE_ROOM) / 100
    y = 4.0
    bars = []
    for d in domains:
        lines = wrap_label(d.domain.title)
        bar_y = y + len(lines) * _LINE + 3
        width = round((d.percent or 0) * scale, 1)
        bars.append(
            Bar(
                lines,
                round(y + _FONT, 1),
                round(bar_y, 1),
                width,
                percent_text(d.percent) if d.percent is not None else "sans objet",
                round(width + 6, 1),
                round(bar_y + _BAR - 3, 1),
            )
        )
        y = bar_y + _BAR + _GAP
    return Chart(_WIDTH, round(y, 1), _BAR, _LINE, _FONT, tuple(bars))


def section_renderer(
    data: AuditData, env: jinja2.Environment, today: dt.date
) -> Callable[[Any], Markup] | None:
    """What an internal member page shows of the member's audit and plan (None when nothing)."""
    if not data.overlay or (not data.audits and not data.plans):
        return None

    def render(member: Any) -> Markup:
        audit = data.audits.get(member.id)
        plan = data.plans.get(member.id)
        if audit is None and plan is None:
            return Markup("")
        scores = score(data.questionnaire, audit, plan) if audit and data.questionnaire else None
        activities = {a.id: a.name for a in member.activities}
        return Markup(
            env.get_template("_audit.html").render(
                member=member,
                scores=scores,
                chart=draw(scores.domains) if scores else None,
                plan=plan,
                today=today,
                activities=activities,
                answer_labels=ANSWER_LABELS,
                status_labels=STATUS_LABELS,
                percent_text=percent_text,
                questionnaire=data.questionnaire,
            )
        )

    return render


# --- the report (DOCX, ODT) ------------------------------------------------------------


class ReportError(Exception):
    """The report could not be made (French message)."""


def report_markdown(
    questionnaire: Questionnaire, scores: Scores, plan: ActionPlan | None, member_name: str, today: dt.date
) -> str:
    """The audit report as Markdown for pandoc; every register text made inert."""
    from dote.cnil_model import clean
    from dote.safe import markdown_text

    def md(value: object) -> str:
        return str(markdown_text(clean(value))) or "—"

    def table(headers: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[int]) -> list[str]:
        out = [
            "| " + " | ".join(md(h) for h in headers) + " |",
            "|" + "|".join(":" + "-" * w for w in widths) + "|",
        ]
        out += ["| " + " | ".join(md(v) for v in r) + " |" for r in rows]
        return [*out, ""]

    audit = scores.audit
    lines = [
        "*Document interne et confidentiel : il décrit les écarts de conformité du membre. Ne pas publier.*",
        "",
        "# Synthèse",
        "",
        *table(
            ["Rubrique", "Information"],
            [
                ["Membre", member_name],
                ["Questionnaire", questionnaire.title],
                ["Date de l'audit", _date_fr(audit.date)],
                ["Auditeur", audit.auditor],
                *([["Périmètre", audit.scope]] if audit.scope else []),
                [
                    "Score global",
                    f"{percent_text(scores.percent)} ({_points(scores.earned)} / {scores.possible} points)",
                ],
                ["Actions proposées", str(len(scores.proposals))],
            ],
            [20, 50],
        ),
        md(
            "Calcul du score : chaque réponse « oui » vaut le poids de la question, « partiel » la moitié, "
            "« non » rien ; les questions « sans objet » et celles restées sans réponse ne comptent pas."
        ),
        "",
        "# Score par domaine",
        "",
        *table(
            ["Domaine", "Score", "Points", "Sans objet"],
            [
                [
                    d.domain.title,
                    percent_text(d.percent),
                    f"{_points(d.earned)} / {d.possible}",
                    str(d.counts["sans-objet"]),
                ]
                for d in scores.domains
            ],
            [30, 10, 12, 10],
        ),
        "# Actions proposées",
        "",
    ]
    if scores.proposals:
        lines += table(
            ["Priorité", "Action", "Question", "Références", "Au plan"],
            [
                [
                    p.priority,
                    p.question.action,
                    p.question.id,
                    ", ".join(p.question.references),
                    ", ".join(p.planned) or "non",
                ]
                for p in scores.proposals
            ],
            [8, 34, 12, 16, 8],
        )
    else:
        lines += [md("Aucun écart : aucune action proposée."), ""]
    lines += ["# Réponses", ""]
    for domain in questionnaire.domains:
        lines += [f"## {md(domain.title)}", ""]
        rows = []
        for q in domain.questions:
            answer = audit.answers.get(q.id)
            rows.append(
                [
                    q.text,
                    ANSWER_LABELS[answer.level] if answer else "Sans réponse",
                    (answer.evidence if answer else "") or "—",
                    ", ".join(q.references),
                ]
            )
        lines += table(["Question", "Réponse", "Preuves vues", "Références"], rows, [30, 8, 24, 14])
    if plan is not None:
        lines += ["# Plan d'actions", ""]
        lines += table(
            ["Action", "Priorité", "Responsable", "Échéance", "Statut"],
            [
                [
                    a.what,
                    a.priority,
                    a.owner,
                    _date_fr(a.due),
                    ("en retard" if a.overdue(today) else STATUS_LABELS[a.status])
                    + (f" ({_date_fr(a.done)})" if a.done else ""),
                ]
                for a in plan.actions
            ],
            [30, 8, 16, 10, 10],
        )
    return "\n".join(lines)


def report(
    questionnaire: Questionnaire,
    scores: Scores,
    plan: ActionPlan | None,
    member_name: str,
    fmt: str,
    today: dt.date,
) -> bytes:
    """The audit report as DOCX or ODT bytes (pandoc, like the authority's register)."""
    import tempfile

    import pypandoc  # type: ignore[import-untyped]

    from dote.cnil_model import _PANDOC_MARKDOWN, clean

    if fmt not in ("docx", "odt"):
        raise ReportError(f"format de rapport inconnu : « {fmt} » (docx ou odt)")
    title = f"Rapport d'audit RGPD — {clean(member_name)}"
    with tempfile.TemporaryDirectory(prefix="dote-audit-") as tmp:
        target = Path(tmp) / f"audit.{fmt}"
        try:
            pypandoc.convert_text(
                report_markdown(questionnaire, scores, plan, member_name, today),
                fmt,
                format=_PANDOC_MARKDOWN,
                outputfile=str(target),
                extra_args=[
                    "--columns=1",
                    f"--metadata=title:{title}",
                    f"--metadata=date:{scores.audit.date.isoformat()}",
                    "--metadata=lang:fr-FR",
                ],
                sandbox=True,
            )
            return target.read_bytes()
        except (RuntimeError, OSError) as exc:
            detail = clean(exc)[:300] or type(exc).__name__
            raise ReportError(
                f"le rapport d'audit n'a pas pu être mis en forme en {fmt.upper()} (pandoc a échoué : {detail}) ; "
                "aucun fichier n'a été écrit"
            ) from exc


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


# --- the commands (dote audit, dote actions) -------------------------------------------


def _today(date: str | None) -> dt.date | None:
    """The reference date of ``--date`` (None: invalid, reported by the caller)."""
    if date is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(date)
    except ValueError:
        return None


def _overlay_or_error(root: Path, overlay: Path | None, what: str) -> Path | None:
    import sys

    from dote.confidential import OVERLAY_ENV, overlay_location

    location = overlay_location(overlay, None, root)
    if location is None or not location.is_dir():
        print(
            f"dote : erreur : {what} sont confidentiels : indiquez le dépôt confidentiel "
            f"(--overlay DOSSIER ou la variable {OVERLAY_ENV})"
            + (f" ; {location} est introuvable" if location is not None else ""),
            file=sys.stderr,
        )
        return None
    return location


def overlay_result(root: Path, overlay: Path | None, what: str, invalid: int = 1) -> Any:
    """The registers merged with the overlay and validated as of today (a pipeline Result), or
    the exit code of a command that cannot go on: 2 without an overlay, ``invalid`` when the
    registers are not valid (their errors printed)."""
    from dote import pipeline
    from dote.problems import report_invalid

    location = _overlay_or_error(root, overlay, what)
    if location is None:
        return 2
    result = pipeline.run(root, overlay=location)
    if result.errors or result.territory is None:
        report_invalid(result.errors)
        return invalid
    return result


def command_audit(
    root: Path, overlay: Path | None, member_id: str, output: Path | None, fmt: str, date: str | None
) -> int:
    """``dote audit``: a member's scores and proposed actions; the report with ``-o``."""
    import sys

    from dote.files import write_atomic_bytes

    root = root.resolve()
    today = _today(date)
    if today is None:
        print(f"dote : erreur : date « {date} » invalide (format AAAA-MM-JJ)", file=sys.stderr)
        return 2
    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    if output is not None and (refusal := report_output_refusal(output, root, "le rapport d'audit")):
        print(f"dote : erreur : {refusal}", file=sys.stderr)
        return 2
    # Validation is as of today; --date moves only the date the plans are judged at.
    result = overlay_result(root, overlay, "les réponses d'audit")
    if isinstance(result, int):
        return result
    members = result.territory.members_by_id
    if member_id not in members:
        print(
            f"dote : erreur : membre « {member_id} » inconnu (membres : {', '.join(sorted(members))})",
            file=sys.stderr,
        )
        return 2
    data = result.audit
    audit = data.audits.get(member_id)
    if data.questionnaire is None or audit is None:
        print(
            f"dote : erreur : aucun audit pour « {member_id} » : "
            + (
                "registers/audit.yml (le questionnaire) manque dans le dépôt public"
                if data.questionnaire is None
                else f"écrivez ses réponses dans registers/members/{member_id}/{MEMBER_AUDIT} du dépôt confidentiel"
            ),
            file=sys.stderr,
        )
        return 2
    plan = data.plans.get(member_id)
    scores = score(data.questionnaire, audit, plan)
    name = members[member_id].name
    if output is not None:
        try:
            content = report(data.questionnaire, scores, plan, name, suffix, today)
        except ReportError as err:
            print(f"dote : erreur : {err}", file=sys.stderr)
            return 1
        write_atomic_bytes(output, content)
        print(f"Rapport d'audit de {name} écrit dans {output}", file=sys.stderr)
        return 0
    print(as_json(scores_data(scores, plan, today)) if fmt == "json" else scores_text(scores, name))
    return 0


def command_actions(
    root: Path, overlay: Path | None, member_id: str | None, overdue: bool, fmt: str, date: str | None
) -> int:
    """``dote actions``: the action plans; with ``--overdue``, exit 1 when an action is late."""
    import sys

    root = root.resolve()
    today = _today(date)
    if today is None:
        print(f"dote : erreur : date « {date} » invalide (format AAAA-MM-JJ)", file=sys.stderr)
        return 2
    # Validation is as of today; --date moves only the date the plans are judged at; with
    # --overdue, 1 means late actions, so invalid registers are 2.
    result = overlay_result(root, overlay, "les plans d'actions", invalid=2 if overdue else 1)
    if isinstance(result, int):
        return result
    members = result.territory.members_by_id
    if member_id is not None and member_id not in members:
        print(
            f"dote : erreur : membre « {member_id} » inconnu (membres : {', '.join(sorted(members))})",
            file=sys.stderr,
        )
        return 2
    plans = [
        (members[m].name, plan)
        for m, plan in sorted(result.audit.plans.items())
        if (member_id is None or m == member_id) and m in members
    ]
    late = [a for _, plan in plans for a in plan.actions if a.overdue(today)]
    if fmt == "json":
        print(
            as_json(
                {
                    "date": today.isoformat(),
                    "membres": [
                        {
                            "membre": plan.member_id,
                            "nom": name,
                            "actions": [
                                action_data(a, today) for a in plan.actions if not overdue or a.overdue(today)
                            ],
                        }
                        for name, plan in plans
                    ],
                }
            )
        )
    elif plans:
        print(actions_text(plans, today, overdue))
    else:
        print(
            "Aucun plan d'actions"
            + (f" pour « {member_id} »" if member_id else "")
            + " dans le dépôt confidentiel."
        )
    if overdue and fmt == "text":
        n = len(late)
        print(
            f"{n} action{'s' if n > 1 else ''} en retard au {_date_fr(today)}."
            if n
            else f"Aucune action en retard au {_date_fr(today)}.",
            file=sys.stderr,
        )
    return 1 if overdue and late else 0
