"""Training: modules in docs/formation/, sessions in registers/formations.yml, the calendar.

The demo territory's training is loaded as it is; every bad input is written into a small
territory of its own (:func:`territory`), so that each problem's line and column are known.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import icalendar
import markdown
import pytest

from dote import render, training
from dote.problems import Problem
from dote.training import Training, load_training
from hostile import MARKER, PAYLOAD

TODAY = dt.date(2026, 12, 1)
PARIS = dt.timezone(dt.timedelta(hours=1))  # Europe/Paris in winter

MODULE_PAGE = """\
---
title: Le RGPD pour les élus
description: Les bases, pour les élus.
telechargement: true
module:
  objectifs:
    - Connaître les principes
    - Savoir qui fait quoi
  duree_minutes: 120
  public: [elus, agents]
---

# Le RGPD pour les élus

Le support.
"""

SESSIONS = """\
# yaml-language-server: $schema=../schemas/formations.schema.json
version_schema: 1
sessions:
  - id: 2027-01-elus
    module: elus
    debut: 2027-01-14T09:00
    fin: 2027-01-14T12:00
    lieu: Salle du conseil
    public: [elus]
    places_restantes: 8
    inscription: https://formulaires.example.org/elus
  - id: 2026-03-elus
    module: elus
    debut: 2026-03-10T18:00
    fin: 2026-03-10T20:30
    lieu: Mairie
    public: [elus, agents]
    presences: [commune-a, commune-b]
"""

MEMBERS = ("commune-a", "commune-b", "entreprise-c")


def territory(tmp_path: Path, sessions: str | None = SESSIONS, **pages: str) -> Path:
    """A territory with module pages (``name=text``; ``elus`` by default) and a register of sessions."""
    root = tmp_path / "territoire"
    folder = root / "docs" / "formation"
    folder.mkdir(parents=True)
    (folder / "index.md").write_text("# Se former\n", encoding="utf-8")
    for name, text in (pages or {"elus": MODULE_PAGE}).items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    (root / "registers").mkdir()
    if sessions is not None:
        (root / "registers" / "formations.yml").write_text(sessions, encoding="utf-8")
    return root


def load(root: Path, today: dt.date | None = None) -> tuple[Training, list[Problem]]:
    return load_training(root, member_ids=MEMBERS, today=today)


def texts(problems: list[Problem]) -> list[str]:
    return [p.text() for p in problems]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def line_is(text: str, line: str) -> int:
    """The 1-based number of the line of ``text`` that is exactly ``line``."""
    return text.splitlines().index(line) + 1


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, texts(problems)
    return problems[0]


# --- the demo territory ----------------------------------------------------------------


def test_the_demo_training_loads_without_problem(demo_root: Path) -> None:
    members = [p.name for p in (demo_root / "registers" / "members").iterdir() if not p.name.startswith(".")]
    found, problems = load_training(demo_root, member_ids=members, today=TODAY)
    assert texts(problems) == []
    assert set(found.modules) == {
        "elus-agents",
        "registre",
        "demandes-droits",
        "securite",
        "aipd",
        "videoprotection",
        "tpe-pme",
    }
    assert 6 <= len(found.sessions) <= 10
    assert [s.start for s in found.sessions] == sorted(s.start for s in found.sessions)
    assert found.upcoming(TODAY) and found.past(TODAY)
    assert all(s.attendance for s in found.past(TODAY))
    assert {s.module_id for s in found.sessions} <= set(found.modules)
    for module in found.modules.values():
        assert 3 <= len(module.objectives) <= 5
        assert module.src_uri == f"formation/{module.id}.md"


@pytest.mark.parametrize("page", sorted((Path(__file__).parent.parent / "docs" / "formation").glob("*.md")))
def test_the_demo_module_pages_are_plain_markdown(page: Path) -> None:
    """The handouts are made with pandoc: no admonition, HTML, attribute list, footnote or Jinja."""
    text = page.read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1]
    assert not re.search(r"(?m)^!!!|^\?\?\?|<[a-zA-Z/]|\{:|\{\{|\{%|\[\^", body), page.name
    if page.name != "index.md":
        assert re.search(r"(?m)^# ", body) and "\n## Références\n" in body, page.name
        words = len(body.split())
        assert 800 <= words <= 1600, (page.name, words)


def test_without_a_register_the_calendar_is_empty(tmp_path: Path) -> None:
    found, problems = load(territory(tmp_path, sessions=None))
    assert problems == []
    assert found.sessions == () and list(found.modules) == ["elus"]


def test_a_module_and_its_sessions(tmp_path: Path) -> None:
    found, problems = load(territory(tmp_path))
    assert problems == []
    module = found.modules["elus"]
    assert module.title == "Le RGPD pour les élus"
    assert module.objectives == ("Connaître les principes", "Savoir qui fait quoi")
    assert module.duration_minutes == 120 and module.audiences == ("elus", "agents")
    assert module.src_uri == "formation/elus.md"
    past, upcoming = found.sessions  # sorted by start
    assert past.id == "2026-03-elus" and upcoming.id == "2027-01-elus"
    assert past.attendance == ("commune-a", "commune-b") and upcoming.attendance == ()
    assert upcoming.start.isoformat() == "2027-01-14T09:00:00+01:00"
    assert upcoming.start.tzinfo is not None and str(upcoming.start.tzinfo) == "Europe/Paris"
    assert upcoming.places_left == 8 and past.places_left is None
    assert upcoming.registration == "https://formulaires.example.org/elus" and past.registration == ""
    assert upcoming.position.file == "registers/formations.yml"
    assert upcoming.position.line == line_of(SESSIONS, "id: 2027-01-elus")


# --- bad sessions -------------------------------------------------------------------------


def test_an_end_before_the_start_is_an_error_at_the_end(tmp_path: Path) -> None:
    text = SESSIONS.replace("fin: 2027-01-14T12:00", "fin: 2027-01-14T08:30")
    found, problems = load(territory(tmp_path, text))
    p = only(problems)
    assert p.position.file == "registers/formations.yml"
    assert (p.position.line, p.position.column) == (line_of(text, "fin: 2027-01-14T08:30"), 10)
    assert "la fin de la session (2027-01-14T08:30) doit suivre son début (2027-01-14T09:00)" in p.message
    assert [s.id for s in found.sessions] == ["2026-03-elus"]


def test_an_end_equal_to_the_start_is_an_error(tmp_path: Path) -> None:
    text = SESSIONS.replace("fin: 2027-01-14T12:00", "fin: 2027-01-14T09:00")
    assert "doit suivre son début" in only(load(territory(tmp_path, text))[1]).message


def test_a_date_that_does_not_exist(tmp_path: Path) -> None:
    text = SESSIONS.replace("debut: 2027-01-14T09:00", "debut: 2027-02-30T09:00")
    p = only(load(territory(tmp_path, text))[1])
    assert p.message == "« debut » : la date 2027-02-30 n'existe pas"
    assert (p.position.line, p.position.column) == (line_of(text, "2027-02-30"), 12)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "debut: 2027-01-14T09:00",
            "debut: 14/01/2027 9h",
            "debut",
            "une date et une heure s'écrivent AAAA-MM-JJTHH:MM",
        ),
        (
            "inscription: https://formulaires.example.org/elus",
            "inscription: javascript:alert(1)",
            "inscription",
            "une adresse web commençant par https:// est attendue",
        ),
        (
            "inscription: https://formulaires.example.org/elus",
            "inscription: http://formulaires.example.org/elus",
            "inscription",
            "une adresse web commençant par https:// est attendue",
        ),
        ("public: [elus]", "public: [maires]", "public", "public inconnu"),
        ("places_restantes: 8", "places_restantes: -1", "places_restantes", "la valeur doit être au moins 0"),
        ("places_restantes: 8", "places_restantes: huit", "places_restantes", "un nombre entier attendu"),
        ("id: 2027-01-elus", "id: 2027 Élus", "id", "un identifiant s'écrit en minuscules"),
        ("lieu: Salle du conseil", "salle: Salle du conseil", "", "clé inconnue « salle »"),
    ],
)
def test_schema_errors_are_french_and_placed(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    text = SESSIONS.replace(old, new)
    found, problems = load(territory(tmp_path, text))
    assert problems and all(p.position.file == "registers/formations.yml" for p in problems)
    assert any(
        p.message.startswith(f"« {field} »" if field else "") and message in p.message for p in problems
    ), texts(problems)
    assert any(p.position.line == line_of(text, new) for p in problems), texts(problems)
    assert found.sessions == ()  # nothing is published from a register that breaks the format


def test_a_missing_field(tmp_path: Path) -> None:
    text = SESSIONS.replace("    lieu: Mairie\n", "")
    p = only(load(territory(tmp_path, text))[1])
    assert p.message == "champ obligatoire « lieu » manquant dans « sessions » (élément 2)"
    assert p.position.line == line_of(text, "id: 2026-03-elus")


def test_an_unknown_module_names_the_closest(tmp_path: Path) -> None:
    text = SESSIONS.replace("module: elus\n    debut: 2026", "module: elu\n    debut: 2026")
    p = only(load(territory(tmp_path, text))[1])
    assert p.message == "module « elu » inconnu : aucune page docs/formation/elu.md ne le décrit"
    assert p.hint == "vouliez-vous dire « elus » ?"
    assert (p.position.line, p.position.column) == (line_is(text, "    module: elu"), 13)


def test_an_unknown_member_in_attendance(tmp_path: Path) -> None:
    text = SESSIONS.replace("presences: [commune-a, commune-b]", "presences: [commune-a, commune-bb]")
    p = only(load(territory(tmp_path, text))[1])
    assert p.message == "membre « commune-bb » inconnu dans les présences"
    assert p.hint == "vouliez-vous dire « commune-b » ?"
    assert (p.position.line, p.position.column) == (line_of(text, "commune-bb"), 28)
    # Without the list of members, attendance is not checked.
    assert load_training(territory(tmp_path / "b", text))[1] == []


def test_a_session_id_used_twice(tmp_path: Path) -> None:
    text = SESSIONS.replace("id: 2026-03-elus", "id: 2027-01-elus")
    p = only(load(territory(tmp_path, text))[1])
    first = line_of(text, "id: 2027-01-elus")
    assert p.message == f"session « 2027-01-elus » déclarée deux fois (déjà à la ligne {first})"
    assert (p.position.line, p.position.column) == (line_of(text, "sessions:") + 9, 9)


def test_attendance_before_the_end_is_a_warning_when_the_date_is_known(tmp_path: Path) -> None:
    text = SESSIONS.replace("    inscription: https", "    presences: [commune-a]\n    inscription: https")
    root = territory(tmp_path, text)
    assert load(root)[1] == []  # validation does not depend on the day it runs
    p = only(load(root, today=TODAY)[1])
    assert not p.is_error and p.severity == "avertissement"
    assert p.message == "des présences sont indiquées pour une session qui n'est pas encore terminée"
    assert p.position.line == line_is(text, "    presences: [commune-a]")
    found, _ = load(root, today=TODAY)
    assert training.last_attended(found, "commune-a", TODAY).id == "2026-03-elus"  # type: ignore[union-attr]


def test_a_yaml_syntax_error(tmp_path: Path) -> None:
    text = SESSIONS.replace("lieu: Mairie", "lieu: [Mairie")
    found, problems = load(territory(tmp_path, text))
    assert problems and problems[0].position.file == "registers/formations.yml"
    assert found.sessions == ()


# --- bad module pages -----------------------------------------------------------------------


def _page_problems(tmp_path: Path, page: str) -> tuple[Training, list[Problem]]:
    return load(territory(tmp_path, SESSIONS, elus=page))


@pytest.mark.parametrize(
    ("old", "new", "message", "needle"),
    [
        (
            "  duree_minutes: 120\n",
            "",
            "champ obligatoire « duree_minutes » manquant dans le bloc « module »",
            "module:",
        ),
        (
            "  objectifs:\n    - Connaître les principes\n    - Savoir qui fait quoi\n",
            "",
            "champ obligatoire « objectifs »",
            "module:",
        ),
        ("  public: [elus, agents]\n", "", "champ obligatoire « public »", "module:"),
        (
            "duree_minutes: 120",
            "duree_minutes: deux heures",
            "« duree_minutes » : un nombre entier de minutes",
            "duree_minutes",
        ),
        (
            "duree_minutes: 120",
            "duree_minutes: 0",
            "« duree_minutes » : un nombre entier de minutes",
            "duree_minutes",
        ),
        (
            "public: [elus, agents]",
            "public: [elus, maires]",
            "« public » (élément 2) : public inconnu",
            "public:",
        ),
        ("public: [elus, agents]", "public: elus", "« public » : une liste non vide de publics", "public:"),
        ("  objectifs:\n", "  objectif:\n", "clé inconnue « objectif » dans le bloc « module »", "objectif:"),
        (
            "    - Savoir qui fait quoi\n",
            "    - 42\n",
            "« objectifs » (élément 2) : un texte non vide est attendu",
            "- 42",
        ),
        ("title: Le RGPD pour les élus\n", "", "champ obligatoire « title » manquant", "---"),
    ],
)
def test_module_front_matter_problems(tmp_path: Path, old: str, new: str, message: str, needle: str) -> None:
    page = MODULE_PAGE.replace(old, new, 1)
    assert page != MODULE_PAGE
    found, problems = _page_problems(tmp_path, page)
    # The page's problems only: the sessions of the broken module are not reported again.
    assert problems and all(p.position.file == "docs/formation/elus.md" for p in problems), texts(problems)
    p = problems[0]
    assert p.message.startswith(message), p.text()
    assert p.position.line == line_of(page, needle)
    assert "elus" not in found.modules


def test_a_page_without_module_block_is_not_a_module(tmp_path: Path) -> None:
    root = territory(
        tmp_path, None, elus=MODULE_PAGE, notes="---\ntitle: Notes\n---\n\n# Notes\n", brut="# Brut\n"
    )
    found, problems = load(root)
    assert problems == [] and list(found.modules) == ["elus"]


# --- French words ----------------------------------------------------------------------------


def test_french_dates_durations_and_places() -> None:
    paris = training.zoneinfo.ZoneInfo("Europe/Paris")
    start = dt.datetime(2027, 1, 14, 9, 0, tzinfo=paris)
    assert training.when_fr(start, start.replace(hour=12)) == "jeudi 14 janvier 2027, 9\u00a0h – 12\u00a0h"
    assert training.when_fr(start.replace(day=1), start.replace(day=1, hour=17, minute=30)) == (
        "vendredi 1er janvier 2027, 9\u00a0h – 17\u00a0h\u00a030"
    )
    assert training.when_fr(start, start.replace(day=15, hour=12)).startswith(
        "du jeudi 14 janvier 2027, 9\u00a0h, au "
    )
    assert [training.duration_fr(n) for n in (120, 90, 45, 420)] == [
        "2\u00a0h",
        "1\u00a0h\u00a030",
        "45\u00a0min",
        "7\u00a0h",
    ]
    assert [training.places_fr(n) for n in (None, 0, 1, 8)] == [
        "",
        "Complet",
        "1 place restante",
        "8 places restantes",
    ]
    assert training.audiences_fr(["elus", "referents"]) == "élus, référents RGPD"


# --- attendance and the label -----------------------------------------------------------------


def test_last_attended(tmp_path: Path) -> None:
    text = SESSIONS + (
        "  - id: 2026-06-elus\n    module: elus\n    debut: 2026-06-02T09:00\n    fin: 2026-06-02T12:00\n"
        "    lieu: Mairie\n    public: [agents]\n    presences: [commune-a]\n"
    )
    found, problems = load(territory(tmp_path, text))
    assert problems == []
    last = training.last_attended(found, "commune-a", TODAY)
    assert last is not None and last.id == "2026-06-elus"
    assert training.last_attended(found, "commune-b", TODAY).id == "2026-03-elus"  # type: ignore[union-attr]
    assert training.last_attended(found, "entreprise-c", TODAY) is None
    # On the day of a session, once it has ended that day, it counts; the day before, not.
    assert training.last_attended(found, "commune-a", dt.date(2026, 6, 2)).id == "2026-06-elus"  # type: ignore[union-attr]
    assert training.last_attended(found, "commune-a", dt.date(2026, 6, 1)).id == "2026-03-elus"  # type: ignore[union-attr]
    assert training.last_attended(found, "commune-a", dt.date(2026, 3, 9)) is None


# --- the iCalendar file ----------------------------------------------------------------------------


def _events(data: bytes) -> list[icalendar.Event]:
    return [c for c in icalendar.Calendar.from_ical(data).walk("VEVENT")]


def test_the_calendar_file(tmp_path: Path) -> None:
    found, _ = load(territory(tmp_path))
    stamp = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    data = training.calendar(found, "https://dote.example.org/", "Maison DOTE du Val", stamp=stamp)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    assert str(cal["X-WR-CALNAME"]) == "Formations — Maison DOTE du Val"
    (timezone,) = cal.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "Europe/Paris"
    events = _events(data)
    assert [str(e["UID"]) for e in events] == [
        "2026-03-elus@dote.example.org",
        "2027-01-elus@dote.example.org",
    ]
    past, upcoming = events
    assert upcoming["DTSTART"].params["TZID"] == "Europe/Paris"
    assert upcoming.decoded("DTSTART") == dt.datetime(2027, 1, 14, 9, 0, tzinfo=PARIS)
    assert upcoming.decoded("DTEND") == dt.datetime(2027, 1, 14, 12, 0, tzinfo=PARIS)
    assert past.decoded("DTSTART").utcoffset() == dt.timedelta(hours=1)
    assert upcoming.decoded("DTSTAMP") == stamp
    assert str(upcoming["SUMMARY"]) == "Le RGPD pour les élus"
    assert str(upcoming["LOCATION"]) == "Salle du conseil"
    assert str(upcoming["URL"]) == "https://dote.example.org/formation/elus/"
    description = str(upcoming["DESCRIPTION"])
    assert "Public : élus" in description and "Places : 8 places restantes" in description
    assert "Inscription : https://formulaires.example.org/elus" in description
    # Stable: the same sessions give the same events, whenever the file is made.
    again = training.calendar(found, "https://dote.example.org", "Maison DOTE du Val")
    assert [str(e["UID"]) for e in _events(again)] == [str(e["UID"]) for e in events]
    assert [e.decoded("DTSTART") for e in _events(again)] == [e.decoded("DTSTART") for e in events]


def test_the_calendar_without_a_site_address(tmp_path: Path) -> None:
    found, _ = load(territory(tmp_path))
    events = _events(training.calendar(found, "", "Maison"))
    assert [str(e["UID"]) for e in events] == [
        "2026-03-elus@maison-dote.invalid",
        "2027-01-elus@maison-dote.invalid",
    ]
    assert all("URL" not in e for e in events)


def test_an_empty_calendar_is_valid(tmp_path: Path) -> None:
    found, _ = load(territory(tmp_path, sessions=None))
    cal = icalendar.Calendar.from_ical(training.calendar(found, "https://dote.example.org/", "Maison"))
    assert cal.walk("VEVENT") == []


def test_a_summer_session_is_in_summer_time(tmp_path: Path) -> None:
    text = SESSIONS.replace("2027-01-14T09:00", "2027-07-01T09:00").replace(
        "2027-01-14T12:00", "2027-07-01T12:00"
    )
    found, _ = load(territory(tmp_path, text))
    (_, summer) = _events(training.calendar(found, "https://dote.example.org/", "Maison"))
    assert summer.decoded("DTSTART").utcoffset() == dt.timedelta(hours=2)


# --- hostile text ---------------------------------------------------------------------------------


HOSTILE_PLACE = (
    "Salle <script>dotexss()</script> {{ 7*7 }} [x](javascript:dotexss())\r\nDTSTART:19700101T000000"
)


def _hostile(tmp_path: Path) -> Training:
    place = HOSTILE_PLACE.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    text = SESSIONS.replace(
        "lieu: Salle du conseil", f'lieu: "{place}{PAYLOAD.replace(chr(34), chr(92) + chr(34))}"'
    )
    found, problems = load(territory(tmp_path, text))
    assert problems == [], texts(problems)
    assert "\r\n" in found.sessions[1].place and MARKER in found.sessions[1].place
    return found


def test_hostile_text_is_plain_text_in_the_calendar_file(tmp_path: Path) -> None:
    data = training.calendar(_hostile(tmp_path), "https://dote.example.org/", "Maison\r\nX-EVIL:1")
    lines = data.decode("utf-8").split("\r\n")
    assert not any(line.startswith(("DTSTART:1970", "X-EVIL")) for line in lines)
    events = _events(data)
    assert len(events) == 2
    location = str(events[1]["LOCATION"])
    assert "\r" not in location and "\n" not in location
    assert location.startswith("Salle <script>dotexss()</script> {{ 7*7 }}")  # text, for a calendar client
    assert str(icalendar.Calendar.from_ical(data)["X-WR-CALNAME"]) == "Formations — Maison X-EVIL:1"


def test_hostile_text_is_escaped_on_the_calendar_page(tmp_path: Path, demo_root: Path) -> None:
    found = _hostile(tmp_path)
    page = training.calendar_page(
        found, render.environment(demo_root), dt.date(2026, 6, 1), training.ICS_PATH
    )
    assert page.src_uri == "formation/calendrier.md" and page.url == "formation/calendrier/"
    html = page.render(page.url)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html).__str__()
    assert 'href="../sessions.ics"' in html
    assert 'rel="noopener"' in html and 'href="https://formulaires.example.org/elus"' in html


def test_hostile_text_is_escaped_in_the_module_block(tmp_path: Path) -> None:
    found = _hostile(tmp_path)
    block = training.module_block(
        found.modules["elus"], found.sessions, "formation/elus/", dt.date(2026, 6, 1)
    )
    assert "<script>" not in block and "{{" not in block and "](javascript" not in block
    page = markdown.markdown(f"# Titre\n\n{block}\nTexte.", extensions=["md_in_html", "attr_list", "tables"])
    assert "<script>" not in page and "onerror=" not in page.replace("onerror=dotexss", "")
    assert not re.search(r'href="javascript:', page)
    assert 'href="../calendrier/"' in block


# --- the calendar page and the module block ----------------------------------------------------------


def test_the_calendar_page(tmp_path: Path, demo_root: Path) -> None:
    found, _ = load(territory(tmp_path))
    env = render.environment(demo_root)
    page = training.calendar_page(
        found,
        env,
        TODAY,
        "https://dote.example.org/formation/sessions.ics",
        member_names={"commune-a": "Commune A"},
    )
    html = page.render(page.url)
    upcoming, past = html.split('id="passees"')
    assert "jeudi 14 janvier 2027, 9\u00a0h – 12\u00a0h" in upcoming and "8 places restantes" in upcoming
    assert '<a href="../elus/">Le RGPD pour les élus</a>' in upcoming
    assert "mardi 10 mars 2026" in past and "2 membres" in past
    assert '<a href="../../registres/commune-a/">Commune A</a>' in past and "commune-b" in past
    assert "<code>https://dote.example.org/formation/sessions.ics</code>" in upcoming
    # Without directory URLs, links name the files.
    html_files = page.render("formation/calendrier/index.html")
    assert 'href="../elus.html"' in html_files and 'href="../sessions.ics"' not in html_files
    # The modules are named, and their page linked, where the site has that page only.
    intro = html.split("</p>", 1)[0]
    assert "par module : Le RGPD pour les élus." in intro and '<a href="../">page de présentation' in intro
    alone = training.calendar_page(found, env, TODAY, training.ICS_PATH, modules_page=False)
    intro = alone.render(alone.url).split("</p>", 1)[0]
    assert "module" not in intro and 'href="../"' not in intro


def test_a_full_session_shows_complet_without_registration(tmp_path: Path, demo_root: Path) -> None:
    text = SESSIONS.replace("places_restantes: 8", "places_restantes: 0")
    found, _ = load(territory(tmp_path, text))
    html = training.calendar_page(found, render.environment(demo_root), TODAY, training.ICS_PATH).render(
        training.CALENDAR_URL
    )
    assert "<strong>Complet</strong>" in html and "formulaires.example.org" not in html
    block = training.module_block(found.modules["elus"], found.sessions, "formation/elus/", TODAY)
    assert "Complet" in block and "formulaires.example.org" not in block


def test_the_module_block(tmp_path: Path) -> None:
    found, _ = load(territory(tmp_path))
    block = training.module_block(found.modules["elus"], found.sessions, "formation/elus/", TODAY)
    assert "<li>Connaître les principes</li>" in block
    assert "<dd>2\u00a0h</dd>" in block and "<dd>élus, agents des collectivités</dd>" in block
    assert "jeudi 14 janvier 2027" in block and "mars 2026" not in block  # upcoming sessions only
    assert 'rel="noopener"' in block
    later = training.module_block(
        found.modules["elus"], found.sessions, "formation/elus/", dt.date(2027, 2, 1)
    )
    assert (
        "Aucune session de ce module n&#39;est programmée" in later or "Aucune session de ce module" in later
    )
