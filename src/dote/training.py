"""Training: the Maison's modules, the calendar of its sessions, and who attended.

Two sources, both in the territory:

- the **modules** are hand-written pages of ``docs/formation/`` (one page per module, its
  handout); a page is a module when its front matter has a ``module:`` block (objectives,
  duration in minutes, audiences). The page's file name is the module's id;
  ``docs/formation/index.md``, without that block, is the introduction and no module;
- the **sessions** are data, in ``registers/formations.yml`` (schema
  ``formations.schema.json``): module, start and end (local time, Europe/Paris), place,
  audiences, places left, registration link, and once the session is over, the members
  whose staff attended (``presences``).

:func:`load_training` reads both and reports every problem in French at its file, line
and column, never raising: a file that breaks the schema, an end that does not follow the
start, a module that has no page, a member that does not exist, a session id used twice,
a module page whose ``module:`` block is incomplete or mistyped.

Attendance written on a session that has not ended yet is *not* an error: validation
does not depend on the day it runs (the same registers give the same problems), and the
list may be prepared in advance. Such attendance counts for nothing until the session
has ended: :func:`last_attended` and the calendar page only look at sessions that have
ended. When ``load_training`` is given ``today``, it says so with a warning.

Attendance feeds the label: :func:`last_attended` gives the latest session a member
attended, which the label's training criterion (rule ``formation-recente``) can use
beside the date a member states itself (``formation.derniere_session`` in member.yml).

Outputs: an iCalendar file (:func:`calendar`, RFC 5545, at :data:`ICS_PATH`), the
calendar page (:func:`calendar_page`) and the block shown at the top of each module page
(:func:`module_block`). Every register text is untrusted: the page is an autoescaped
template, the block is escaped for HTML *and* Markdown (:func:`dote.safe.markdown_text`),
links go through :func:`dote.safe.safe_url`, and the iCalendar file carries text without
control characters (the ``icalendar`` library escapes the rest).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from dote import render
from dote.fragments import date_fr
from dote.load import Document, JsonPath, load_bytes, load_file
from dote.problems import Position, Problem, relative_name
from dote.safe import html_text, markdown_text, safe_url
from dote.schema import validate_document

#: The register of sessions, relative to the territory's root.
SESSIONS_FILE = "registers/formations.yml"
#: The folder of module pages, relative to the docs folder (and the site).
MODULES_FOLDER = "formation"
#: The iCalendar file of the sessions, relative to the site.
ICS_PATH = f"{MODULES_FOLDER}/sessions.ics"
#: The calendar page, as a Markdown file of docs/ would be, and its address.
CALENDAR_SRC_URI = f"{MODULES_FOLDER}/calendrier.md"
CALENDAR_URL = f"{MODULES_FOLDER}/calendrier/"
CALENDAR_TITLE = "Calendrier des formations"
#: The time zone of every date and time of the register.
TIMEZONE = "Europe/Paris"

#: The audiences a module or a session may name, and how the site says them.
AUDIENCES: Mapping[str, str] = {
    "elus": "élus",
    "agents": "agents des collectivités",
    "salaries": "salariés",
    "dirigeants": "dirigeants d'entreprise",
    "referents": "référents RGPD",
}
#: The keys of a module page's ``module:`` block.
MODULE_KEYS = ("objectifs", "duree_minutes", "public")

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
#: Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: A front matter: the file's first line is ``---``, up to the next line that is ``---`` or ``...``.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_NBSP = "\u00a0"
#: A local date and time as the register writes it (the same pattern as the schema).
_DATETIME = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True)
class Module:
    """A training module: a page of ``docs/formation/`` with a ``module:`` front matter."""

    id: str
    title: str
    description: str
    objectives: tuple[str, ...]
    duration_minutes: int
    audiences: tuple[str, ...]
    src_uri: str  # "formation/<id>.md"

    @property
    def url(self) -> str:
        """The page's address with directory URLs (``formation/<id>/``)."""
        return f"{MODULES_FOLDER}/{self.id}/"

    @property
    def duration_text(self) -> str:
        return duration_fr(self.duration_minutes)

    @property
    def audience_text(self) -> str:
        return audiences_fr(self.audiences)


@dataclass(frozen=True)
class Session:
    """One session of a module, at a time and place (times are aware, Europe/Paris)."""

    id: str
    module_id: str
    start: dt.datetime
    end: dt.datetime
    place: str
    audiences: tuple[str, ...]
    places_left: int | None  # None: the register does not say
    registration: str  # an https URL, or ""
    attendance: tuple[str, ...]  # member ids
    position: Position

    def ended(self, today: dt.date) -> bool:
        """Whether the session is over on ``today`` (it ended that day or before)."""
        return self.end.date() <= today

    @property
    def full(self) -> bool:
        return self.places_left == 0

    @property
    def when_text(self) -> str:
        return when_fr(self.start, self.end)

    @property
    def audience_text(self) -> str:
        return audiences_fr(self.audiences)

    @property
    def places_text(self) -> str:
        return places_fr(self.places_left)


@dataclass(frozen=True)
class Training:
    """The modules (by id) and the sessions, sorted by start."""

    modules: Mapping[str, Module] = field(default_factory=dict)
    sessions: tuple[Session, ...] = ()

    def upcoming(self, today: dt.date) -> list[Session]:
        """Sessions not over before ``today`` (today's included), soonest first."""
        return [s for s in self.sessions if s.end.date() >= today]

    def past(self, today: dt.date) -> list[Session]:
        """Sessions over before ``today``, most recent first."""
        return [s for s in reversed(self.sessions) if s.end.date() < today]


# --- French words ---------------------------------------------------------------------


def duration_fr(minutes: int) -> str:
    """120 → « 2 h », 90 → « 1 h 30 », 45 → « 45 min »."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}{_NBSP}min"
    return f"{hours}{_NBSP}h" + (f"{_NBSP}{rest:02d}" if rest else "")


def time_fr(value: dt.datetime) -> str:
    """09:00 → « 9 h », 14:30 → « 14 h 30 »."""
    return f"{value.hour}{_NBSP}h" + (f"{_NBSP}{value.minute:02d}" if value.minute else "")


def day_fr(value: dt.date) -> str:
    """2027-01-14 → « jeudi 14 janvier 2027 » (« 1er » for the first day of a month)."""
    return f"{_WEEKDAYS[value.weekday()]} {date_fr(value)}"


def when_fr(start: dt.datetime, end: dt.datetime) -> str:
    """« jeudi 14 janvier 2027, 9 h – 12 h », or from one day to another."""
    if start.date() == end.date():
        return f"{day_fr(start.date())}, {time_fr(start)} – {time_fr(end)}"
    return f"du {day_fr(start.date())}, {time_fr(start)}, au {day_fr(end.date())}, {time_fr(end)}"


def audiences_fr(codes: Sequence[str]) -> str:
    """``["elus", "agents"]`` → « élus, agents des collectivités »."""
    return ", ".join(AUDIENCES.get(code, code) for code in codes)


def places_fr(places_left: int | None) -> str:
    """« Complet », « 1 place restante », « 8 places restantes », or "" when unknown."""
    if places_left is None:
        return ""
    if places_left == 0:
        return "Complet"
    return f"{places_left} place restante" if places_left == 1 else f"{places_left} places restantes"


# --- reading ---------------------------------------------------------------------------


def load_training(
    root: Path,
    docs_dir: Path | None = None,
    member_ids: Collection[str] | None = None,
    *,
    today: dt.date | None = None,
) -> tuple[Training, list[Problem]]:
    """The modules of ``docs_dir/formation/`` and the sessions of ``registers/formations.yml``.

    No register of sessions is an empty calendar, without problem. ``member_ids``, when
    given, are the members a session's attendance may name. ``today``, when given, adds a
    warning for attendance written on a session that has not ended yet (see the module's
    docstring). Sessions come back sorted by start; the training returned beside errors
    keeps only what could be read.
    """
    docs = docs_dir if docs_dir is not None else root / "docs"
    modules, broken, problems = _load_modules(root, docs)
    path = root / SESSIONS_FILE
    if not path.is_file():
        return Training(modules, ()), problems
    doc, found = load_file(path, SESSIONS_FILE, within=root)
    problems += found
    if doc is None:
        return Training(modules, ()), problems
    schema_problems = validate_document(doc, "formations")
    problems += schema_problems
    sessions, found = _sessions(doc, modules, broken, member_ids, today)
    problems += found
    if schema_problems:
        return Training(modules, ()), problems
    return Training(modules, tuple(sorted(sessions, key=lambda s: (s.start, s.end, s.id)))), problems


def _sessions(
    doc: Document,
    modules: Mapping[str, Module],
    broken: Collection[str],
    member_ids: Collection[str] | None,
    today: dt.date | None,
) -> tuple[list[Session], list[Problem]]:
    """The sessions that are well formed, and the problems the schema cannot see."""
    problems: list[Problem] = []
    entries = doc.data.get("sessions") if isinstance(doc.data, Mapping) else None
    if not isinstance(entries, list):
        return [], problems
    timezone = zoneinfo.ZoneInfo(TIMEZONE)
    sessions: list[Session] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        at: JsonPath = ("sessions", index)
        ident = entry.get("id")
        if isinstance(ident, str) and ident:
            if ident in seen:
                problems.append(
                    Problem(
                        doc.position((*at, "id")),
                        f"session « {ident} » déclarée deux fois (déjà à la ligne {seen[ident]})",
                        "chaque session a son propre identifiant : changez-le ou supprimez le doublon",
                    )
                )
            else:
                seen[ident] = doc.position((*at, "id")).line
        module_id = entry.get("module")
        if isinstance(module_id, str) and module_id and module_id not in modules and module_id not in broken:
            problems.append(_unknown_module(doc, (*at, "module"), module_id, modules))
        start = _local_time(entry.get("debut"), timezone)
        end = _local_time(entry.get("fin"), timezone)
        for key, raw, value in (("debut", entry.get("debut"), start), ("fin", entry.get("fin"), end)):
            if value is None and isinstance(raw, str) and _DATETIME.fullmatch(raw):
                problems.append(
                    Problem(
                        doc.position((*at, key)),
                        f"« {key} » : la date {raw[:10]} n'existe pas",
                        "une date s'écrit AAAA-MM-JJTHH:MM et doit exister (exemple : 2027-01-14T09:00)",
                    )
                )
        if start is not None and end is not None and end <= start:
            problems.append(
                Problem(
                    doc.position((*at, "fin")),
                    f"la fin de la session ({entry['fin']}) doit suivre son début ({entry['debut']})",
                    "vérifiez le jour et l'heure de « debut » et de « fin »",
                )
            )
            start = end = None
        attendance = entry.get("presences") or []
        attendance = attendance if isinstance(attendance, list) else []
        if member_ids is not None:
            known = set(member_ids)
            for j, member in enumerate(attendance):
                if isinstance(member, str) and member not in known:
                    close = difflib.get_close_matches(member, sorted(known), n=1, cutoff=0.6)
                    problems.append(
                        Problem(
                            doc.position((*at, "presences", j)),
                            f"membre « {member} » inconnu dans les présences",
                            f"vouliez-vous dire « {close[0]} » ?"
                            if close
                            else "un membre présent est le nom d'un dossier de registers/members/",
                        )
                    )
        if today is not None and attendance and end is not None and end.date() > today:
            problems.append(
                Problem(
                    doc.key_position((*at, "presences")),
                    "des présences sont indiquées pour une session qui n'est pas encore terminée",
                    "elles ne compteront pour le label qu'une fois la session passée",
                    "avertissement",
                )
            )
        session = _session(entry, doc.position(at), start, end, attendance)
        if session is not None:
            sessions.append(session)
    return sessions, problems


def _session(
    entry: Mapping[str, Any],
    position: Position,
    start: dt.datetime | None,
    end: dt.datetime | None,
    attendance: list[Any],
) -> Session | None:
    """A session from a well-typed entry (the schema says what is wrong with the others)."""
    ident, module_id, place = entry.get("id"), entry.get("module"), entry.get("lieu")
    audiences = entry.get("public")
    places = entry.get("places_restantes")
    registration = entry.get("inscription", "")
    if not (isinstance(ident, str) and isinstance(module_id, str) and isinstance(place, str)):
        return None
    if start is None or end is None or not isinstance(audiences, list):
        return None
    if places is not None and (isinstance(places, bool) or not isinstance(places, int)):
        return None
    return Session(
        id=ident,
        module_id=module_id,
        start=start,
        end=end,
        place=place,
        audiences=tuple(str(a) for a in audiences),
        places_left=places,
        registration=safe_url(registration) if isinstance(registration, str) else "",
        attendance=tuple(str(m) for m in attendance),
        position=position,
    )


def _local_time(value: object, timezone: dt.tzinfo) -> dt.datetime | None:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=timezone)
    except ValueError:
        return None


def _unknown_module(doc: Document, path: JsonPath, module_id: str, modules: Mapping[str, Module]) -> Problem:
    close = difflib.get_close_matches(module_id, sorted(modules), n=1, cutoff=0.6)
    if close:
        hint = f"vouliez-vous dire « {close[0]} » ?"
    elif modules:
        hint = "modules existants : " + ", ".join(sorted(modules))
    else:
        hint = f"un module est une page docs/{MODULES_FOLDER}/<module>.md avec un bloc « module: »"
    return Problem(
        doc.position(path),
        f"module « {module_id} » inconnu : aucune page docs/{MODULES_FOLDER}/{module_id}.md ne le décrit",
        hint,
    )


def _load_modules(root: Path, docs: Path) -> tuple[dict[str, Module], set[str], list[Problem]]:
    """The modules of ``docs/formation/``, the ids of module pages with problems, and those problems."""
    folder = docs / MODULES_FOLDER
    modules: dict[str, Module] = {}
    broken: set[str] = set()
    problems: list[Problem] = []
    if not folder.is_dir():
        return modules, broken, problems
    for path in sorted(folder.glob("*.md")):
        if path.name == "index.md" or path.name.startswith("."):
            continue
        module, found = _module(path, relative_name(path, root))
        problems += found
        if module is not None:
            modules[module.id] = module
        elif found:
            broken.add(path.stem)
    return modules, broken, problems


def _module(path: Path, name: str) -> tuple[Module | None, list[Problem]]:
    """The module a page describes, or ``None`` (not a module page, or with problems)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(Position(name), f"page illisible : {error}", "enregistrez-la en UTF-8")]
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, []  # no front matter: a page of the folder, not a module
    doc, problems = load_bytes((match[1] or "").encode("utf-8"), path, name)
    problems = [_shifted(p, name) for p in problems]
    if doc is None:
        return None, problems
    data = doc.data
    if not isinstance(data, Mapping) or "module" not in data:
        return None, problems  # not a module page

    def at(path: JsonPath) -> Position:
        return _below(doc.position(path))

    def key_at(path: JsonPath) -> Position:
        return _below(doc.key_position(path))

    block = data["module"]
    for key in ("title", "description"):
        if key not in data:
            problems.append(
                Problem(
                    Position(name, 1, 1), f"champ obligatoire « {key} » manquant dans l'en-tête de la page"
                )
            )
        elif not isinstance(data[key], str) or not data[key].strip():
            problems.append(Problem(at((key,)), f"« {key} » : un texte non vide est attendu"))
    if not isinstance(block, Mapping):
        problems.append(
            Problem(
                at(("module",)),
                "« module » : un bloc de clés (objectifs, duree_minutes, public) est attendu",
            )
        )
        return None, problems
    for key in block:
        if key not in MODULE_KEYS and not str(key).startswith("x_"):
            close = difflib.get_close_matches(str(key), MODULE_KEYS, n=1, cutoff=0.6)
            hint = (
                f"vouliez-vous dire « {close[0]} » ?"
                if close
                else "clés possibles : " + ", ".join(MODULE_KEYS)
            )
            problems.append(
                Problem(key_at(("module", key)), f"clé inconnue « {key} » dans le bloc « module »", hint)
            )
    for key in MODULE_KEYS:
        if key not in block:
            problems.append(
                Problem(key_at(("module",)), f"champ obligatoire « {key} » manquant dans le bloc « module »")
            )
    objectives = block.get("objectifs")
    if "objectifs" in block:
        if not isinstance(objectives, list) or not objectives:
            problems.append(
                Problem(
                    at(("module", "objectifs")),
                    "« objectifs » : une liste d'objectifs non vide est attendue",
                    "une liste s'écrit [a, b] ou avec une ligne « - élément » par élément",
                )
            )
        else:
            for i, objective in enumerate(objectives):
                if not isinstance(objective, str) or not objective.strip():
                    problems.append(
                        Problem(
                            at(("module", "objectifs", i)),
                            f"« objectifs » (élément {i + 1}) : un texte non vide est attendu",
                        )
                    )
    duration = block.get("duree_minutes")
    if "duree_minutes" in block and (
        isinstance(duration, bool) or not isinstance(duration, int) or duration < 1
    ):
        problems.append(
            Problem(
                at(("module", "duree_minutes")),
                "« duree_minutes » : un nombre entier de minutes, au moins 1, est attendu",
                "exemple : 120 pour une session de deux heures",
            )
        )
    audiences = block.get("public")
    if "public" in block:
        if not isinstance(audiences, list) or not audiences:
            problems.append(
                Problem(
                    at(("module", "public")),
                    "« public » : une liste non vide de publics est attendue",
                    "publics possibles : " + ", ".join(AUDIENCES),
                )
            )
        else:
            for i, code in enumerate(audiences):
                if code not in AUDIENCES or audiences.index(code) != i:
                    what = "apparaît deux fois" if code in AUDIENCES else "public inconnu"
                    problems.append(
                        Problem(
                            at(("module", "public", i)),
                            f"« public » (élément {i + 1}) : {what}",
                            "publics possibles : " + ", ".join(AUDIENCES),
                        )
                    )
    if problems or not (
        isinstance(objectives, list) and isinstance(duration, int) and isinstance(audiences, list)
    ):
        return None, problems
    return (
        Module(
            id=path.stem,
            title=data["title"].strip(),
            description=data["description"].strip(),
            objectives=tuple(o.strip() for o in objectives),
            duration_minutes=duration,
            audiences=tuple(audiences),
            src_uri=f"{MODULES_FOLDER}/{path.name}",
        ),
        [],
    )


def _below(position: Position) -> Position:
    """A position in the front matter, as a position in the page (below its ``---`` line)."""
    return Position(position.file, position.line + 1, position.column)


def _shifted(problem: Problem, name: str) -> Problem:
    """A problem of the front matter's YAML, at its place in the page."""
    return Problem(_below(problem.position), problem.message, problem.hint, problem.severity)


# --- attendance and the label -------------------------------------------------------------


def last_attended(training: Training, member_id: str, today: dt.date) -> Session | None:
    """The latest session ended on or before ``today`` that ``member_id`` attended."""
    found = [s for s in training.sessions if member_id in s.attendance and s.ended(today)]
    return max(found, key=lambda s: (s.end, s.id)) if found else None


# --- the iCalendar file ----------------------------------------------------------------------


def plain(value: object) -> str:
    """One line of text: control characters and line breaks become spaces, runs of spaces one."""
    return " ".join(_CONTROL.sub(" ", str(value)).split())


def _site_base(site_url: str) -> str:
    url = safe_url(site_url or "")
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return ""
    return url if url.endswith("/") else url + "/"


def calendar(
    training: Training, site_url: str, maison_name: str, *, stamp: dt.datetime | None = None
) -> bytes:
    """The sessions as an iCalendar file (RFC 5545): one event per session, in Europe/Paris.

    Each event's UID is the session's id and the site's host (``id@host``): it never
    changes while the id stays, so that a calendar client updates the event instead of
    adding another. Without an absolute ``site_url``, the host is ``maison-dote.invalid``
    and the events carry no link. ``stamp`` (DTSTAMP, when the file is made) defaults to now.
    """
    import icalendar  # type: ignore[import-untyped]

    base = _site_base(site_url)
    host = plain(urlsplit(base).hostname or "") if base else ""
    stamp = (stamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    name = plain(maison_name)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Maison DOTE//Formations//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Formations — {name}" if name else "Formations")
    cal.add("x-wr-timezone", TIMEZONE)
    for session in training.sessions:
        module = training.modules.get(session.module_id)
        event = icalendar.Event()
        event.add("uid", f"{plain(session.id)}@{host or 'maison-dote.invalid'}")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.start)
        event.add("dtend", session.end)
        event.add("summary", plain(module.title if module else session.module_id))
        event.add("location", plain(session.place))
        lines = [f"Public : {plain(session.audience_text)}"]
        if session.places_text:
            lines.append(f"Places : {plain(session.places_text)}")
        if session.registration and not session.full:
            lines.append(f"Inscription : {plain(session.registration)}")
        if module is not None:
            lines.append(f"Module : {plain(module.description)}")
        if base:
            lines.append(f"Programme : {base}{module.url if module else CALENDAR_URL}")
            event.add("url", f"{base}{module.url if module else CALENDAR_URL}")
        event.add("description", "\n".join(lines))
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    if training.sessions:
        first = min(s.start for s in training.sessions).date().replace(month=1, day=1)
        last = max(s.end for s in training.sessions).date().replace(month=1, day=1)
        cal.add_missing_timezones(first_date=first, last_date=last.replace(year=last.year + 1))
    data: bytes = cal.to_ical()
    return data


# --- the calendar page and the module block ---------------------------------------------------


def calendar_page(
    training: Training,
    env: jinja2.Environment,
    today: dt.date,
    ics_url: str,
    *,
    member_names: Mapping[str, str] | None = None,
    modules_page: bool = True,
) -> render.GeneratedPage:
    """The page of every session (:data:`CALENDAR_URL`): upcoming, past, and the iCalendar file.

    ``modules_page``: whether the site has the modules' page (``docs/formation/index.md``); the
    calendar names the modules and links to it only then, and when there are modules.

    ``ics_url`` is the iCalendar file's address: site-relative (:data:`ICS_PATH`) or
    absolute (``https://…/formation/sessions.ics``, then also shown to copy into a calendar
    client). ``member_names`` (id → name), when given, names the members present at each
    past session with a link to their register; without it, only their number is shown.
    """
    checked = safe_url(ics_url)
    absolute = checked if urlsplit(checked).scheme.lower() in ("http", "https") else ""

    def html(url: str) -> str:
        def href_module(module_id: str) -> str:
            return render.doc_url(url, f"{MODULES_FOLDER}/{module_id}")

        return env.get_template("formation-calendrier.html").render(
            t=training,
            upcoming=training.upcoming(today),
            past=training.past(today),
            today=today,
            day=day_fr(today),
            href_ics=absolute or render.relative_url(url, ics_url),
            ics_address=absolute,
            href_module=href_module,
            href_index=render.relative_url(url, f"{MODULES_FOLDER}/")
            if modules_page and training.modules
            else "",
            member_names=member_names,
            href_label=render.relative_url(url, render.LABEL_URL),
            **render.links(url),
        )

    return render.GeneratedPage(CALENDAR_SRC_URI, CALENDAR_URL, CALENDAR_TITLE, html, "*")


def module_block(module: Module, sessions: Sequence[Session], page_url: str, today: dt.date) -> str:
    """The block shown under a module page's title: objectives, duration, audience, next sessions.

    Raw HTML for a Markdown page: every text is escaped for HTML and for Markdown (and
    template) syntax, every link re-checked. ``sessions`` may be all sessions: only the
    module's, not over before ``today``, are listed.
    """
    upcoming = sorted(
        (s for s in sessions if s.module_id == module.id and s.end.date() >= today),
        key=lambda s: (s.start, s.id),
    )
    href_calendar = html_text(render.relative_url(page_url, CALENDAR_URL))
    lines = [
        '<div class="dote-formation-module">',
        "<dl>",
        "<dt>Objectifs</dt>",
        "<dd><ul>",
        *(f"<li>{markdown_text(o)}</li>" for o in module.objectives),
        "</ul></dd>",
        f"<dt>Durée</dt><dd>{markdown_text(module.duration_text)}</dd>",
        f"<dt>Public</dt><dd>{markdown_text(module.audience_text)}</dd>",
        "</dl>",
    ]
    if upcoming:
        lines.append("<p><strong>Prochaines sessions</strong></p>")
        lines.append("<ul>")
        for s in upcoming:
            item = f"{markdown_text(s.when_text)}, {markdown_text(s.place)}"
            if s.places_text:
                item += f" ({markdown_text(s.places_text)})"
            if s.registration and not s.full:
                label = markdown_text(f"S'inscrire à la session du {day_fr(s.start.date())}")
                item += f' : <a href="{html_text(s.registration)}" rel="noopener">{label}</a>'
            lines.append(f"<li>{item}</li>")
        lines.append("</ul>")
    else:
        lines.append("<p>Aucune session de ce module n'est programmée pour l'instant.</p>")
    lines.append(f'<p><a href="{href_calendar}">Calendrier de toutes les sessions de formation</a></p>')
    lines.append("</div>")
    return "\n".join(lines) + "\n"
