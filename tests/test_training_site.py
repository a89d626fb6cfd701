"""Training on the built site: module pages, handouts, the calendar page and file, the label.

The modules and the calendar themselves are tested in test_training.py; here, what the
plugin makes of them in the demo's site, and attendance counting for the label.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import icalendar
import yaml
from lxml import etree

from dote import pipeline, training
from dote.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return " ".join(str(t) for t in etree.fromstring(archive.read("word/document.xml")).itertext())


def test_each_module_page_shows_its_block_and_offers_its_handout(built_demo: Path) -> None:
    result = pipeline.run(ROOT)
    assert len(result.training.modules) == 7
    for module in result.training.modules.values():
        html = (built_demo / module.url / "index.html").read_text(encoding="utf-8")
        assert 'class="dote-formation-module"' in html
        assert module.objectives[0].replace("'", "&#39;") in html or module.objectives[0] in html
        assert f"{module.id}.docx" in html and f"{module.id}.pdf" in html
        handout = _text(built_demo / f"formation/{module.id}.docx")
        assert "Objectifs :" in handout and module.objectives[0] in handout
        words = " ".join(handout.split())  # runs of spaces, no-break ones included, made one
        assert " ".join(f"Durée : {module.duration_text} · Public : {module.audience_text}".split()) in words


def test_the_calendar_page_and_file(built_demo: Path) -> None:
    result = pipeline.run(ROOT)
    page = (built_demo / training.CALENDAR_URL / "index.html").read_text(encoding="utf-8")
    for session in result.training.sessions:
        assert training.when_fr(session.start, session.end).split(",")[0] in page
    data = (built_demo / training.ICS_PATH).read_bytes()
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == len(result.training.sessions) > 0
    assert {str(e["uid"]) for e in events} == {f"{s.id}@dote.example.org" for s in result.training.sessions}
    assert calendar.walk("VTIMEZONE")[0]["tzid"] == "Europe/Paris"
    # The module index links the calendar page and its file.
    index = (built_demo / "formation/index.html").read_text(encoding="utf-8")
    assert 'href="calendrier/"' in index and 'href="sessions.ics"' in index


def _member_file(root: Path, member_id: str) -> Path:
    return root / "registers/members" / member_id / "member.yml"


def test_attendance_counts_for_the_label(territory_copy: Path) -> None:
    """A member whose file declares an old training, but who attended a session this year."""
    today = dt.date(2026, 12, 1)
    member_id = "valmont"
    path = _member_file(territory_copy, member_id)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["formation"] = {"derniere_session": "2024-01-10", "participants": 3}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    sessions = territory_copy / "registers/formations.yml"
    text = sessions.read_text(encoding="utf-8")
    attending = [s.get("presences", []) for s in yaml.safe_load(text)["sessions"]]
    assert not any(member_id in names for names in attending)

    def failures() -> list[str]:
        result = pipeline.run(territory_copy, today=today)
        assert result.ok and result.label is not None, [p.text() for p in result.errors]
        return [f.criterion.id for f in result.label.members[member_id].failures]

    sessions.write_text(text, encoding="utf-8")
    assert "formation-annuelle" in failures()  # the declared date is too old, no attendance
    attended = text.replace("presences: [cc-val-exemple]", "presences: [cc-val-exemple, valmont]", 1)
    assert attended != text
    sessions.write_text(attended, encoding="utf-8")
    assert "formation-annuelle" not in failures()  # the session of May 2026 counts
    result = pipeline.run(territory_copy, today=today)
    assert result.territory is not None
    assert result.territory.members_by_id[member_id].training_attended == dt.date(2026, 5, 20)


def test_a_session_ending_before_it_starts_fails_the_build(
    territory_copy: Path, tmp_path: Path, capsys: object
) -> None:
    sessions = territory_copy / "registers/formations.yml"
    text = sessions.read_text(encoding="utf-8")
    broken = text.replace("fin: 2026-05-20T12:30", "fin: 2026-05-20T08:30", 1)
    assert broken != text
    sessions.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index("    fin: 2026-05-20T08:30") + 1
    assert main(["validate", str(territory_copy)]) == 1
    assert main(["build", str(territory_copy), "--site-dir", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert f"registers/formations.yml:{line}:" in err and "fin" in err
    assert not (tmp_path / "site").exists()
