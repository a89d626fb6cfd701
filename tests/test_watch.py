"""The watch's files: sources and items checked like the registers, written atomically."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dote import pipeline
from dote.cli import main
from dote.watch import FeedEntry, ItemStore, clean_html, load_watch, plain_text

ITEMS = Path("watch/elements")


def _item(root: Path, source: str, name: str, text: str) -> Path:
    path = root / ITEMS / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _messages(root: Path) -> list[str]:
    return [p.text() for p in pipeline.run(root).problems]


def test_demo_watch_is_valid_and_has_published_items(demo_root: Path) -> None:
    watch, problems = load_watch(demo_root)
    assert problems == []
    assert {"cnil-actualites", "certfr-avis", "cnil-deliberations"} <= set(watch.sources)
    assert not watch.sources["cnil-deliberations"].flux  # Légifrance: followed by hand
    published = watch.published()
    assert len(published) >= 2
    assert [i.date for i in published] == sorted((i.date for i in published), reverse=True)


def test_a_published_item_needs_a_comment_and_a_theme(territory_copy: Path) -> None:
    _item(
        territory_copy,
        "cnil-actualites",
        "a.yml",
        "version_schema: 1\nstatut: publie\nsource: cnil-actualites\ntitre: Un titre\ndate: 2026-11-02\n"
        "thematiques: []\n",
    )
    messages = _messages(territory_copy)
    assert (
        "watch/elements/cnil-actualites/a.yml:2:1: erreur: un élément publié doit avoir un commentaire"
        in " ".join(messages)
    )
    assert any(
        "a.yml:2:1: erreur: un élément publié doit avoir au moins une thématique" in m for m in messages
    )


def test_item_errors_come_with_file_line_and_column(territory_copy: Path) -> None:
    _item(
        territory_copy,
        "cnil-actualites",
        "b.yml",
        "version_schema: 1\nstatut: publié\nsource: cnil-actualites\ntitre: T\ndate: 2026-13-01\n"
        "thematiques: [numériques]\nconcerne:\n  activites: [valmont]\n",
    )
    text = "\n".join(_messages(territory_copy))
    assert "b.yml:2:9: erreur:" in text and "« a-trier », « publie » ou « ecarte »" in text
    assert "b.yml:5:7: erreur:" in text and "AAAA-MM-JJ" in text
    assert "b.yml:6:15: erreur:" in text
    assert "b.yml:8:15: erreur:" in text and "membre/activité" in text


def test_unknown_source_misplaced_item_and_duplicates(territory_copy: Path) -> None:
    body = "version_schema: 1\nstatut: a-trier\nsource: {source}\nid: x-1\ntitre: T\ndate: 2026-11-02\n"
    _item(territory_copy, "inconnue", "c.yml", body.format(source="inconnue"))
    _item(territory_copy, "cnil-actualites", "d.yml", body.format(source="certfr-avis"))
    _item(territory_copy, "certfr-avis", "e.yml", body.format(source="certfr-avis"))
    _item(territory_copy, "certfr-avis", "f.yml", body.format(source="certfr-avis"))
    text = "\n".join(_messages(territory_copy))
    assert "watch/elements/inconnue/c.yml:3:9: erreur: source inconnue « inconnue »" in text
    assert "d.yml:3:9: erreur: cet élément de la source « certfr-avis » est rangé dans le dossier" in text
    assert (
        "f.yml:1:1: erreur: élément en double : même identifiant que watch/elements/certfr-avis/e.yml" in text
    )


def test_concerned_members_and_activities_must_exist(territory_copy: Path) -> None:
    _item(
        territory_copy,
        "cnil-actualites",
        "g.yml",
        "version_schema: 1\nstatut: a-trier\nsource: cnil-actualites\ntitre: T\ndate: 2026-11-02\n"
        "concerne:\n  membres: [valmont, nulle-part]\n  activites: [valmont/etat-civil, valmont/rien]\n",
    )
    text = "\n".join(_messages(territory_copy))
    assert "g.yml:7:22: erreur: membre inconnu « nulle-part »" in text
    assert "g.yml:8:35: erreur: activité inconnue « valmont/rien »" in text
    assert "valmont/etat-civil »" not in text


def test_sources_file_is_checked(territory_copy: Path) -> None:
    path = territory_copy / "watch" / "sources.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "flux: https://www.cnil.fr/fr/rss.xml", "flux: www.cnil.fr/rss"
        ),
        encoding="utf-8",
    )
    text = "\n".join(_messages(territory_copy))
    assert "watch/sources.yml:" in text and "https://" in text


def test_sanitising_keeps_text_and_safe_links_only() -> None:
    dirty = (
        '<p onclick="x()">Bonjour <b>à</b> <a href="javascript:alert(1)">piège</a> '
        '<a href="/relatif">relatif</a> <a href="https://ex.org/a?b=1&c=2">ok</a>'
        '<img src="https://pixel.example/t.gif"><script>alert(1)</script><iframe src="x"></iframe>'
        "<style>p{}</style></p>"
    )
    clean = clean_html(dirty)
    for bad in ("onclick", "javascript:", "<img", "<script", "<iframe", "<style", 'href="/relatif"'):
        assert bad not in clean
    assert 'href="https://ex.org/a?b=1&amp;c=2"' in clean and "noopener" in clean
    assert plain_text(dirty) == "Bonjour à piège relatif ok"


def test_store_adds_once_updates_in_place_and_keeps_the_editors_fields(tmp_path: Path) -> None:
    (tmp_path / "watch").mkdir()
    (tmp_path / "watch" / "sources.yml").write_text(
        "version_schema: 1\nsources:\n  - id: s\n    nom: S\n    editeur: E\n    langue: fr\n"
        "    flux: https://ex.org/feed\n    thematiques: [numerique]\n",
        encoding="utf-8",
    )
    watch, problems = load_watch(tmp_path)
    assert problems == []
    source = watch.sources["s"]
    day1, day2 = dt.date(2026, 11, 1), dt.date(2026, 11, 5)
    entry = FeedEntry(id="guid-1", titre="Avis : mise à jour", lien="https://ex.org/1", resume="r")
    store = ItemStore(tmp_path, source)
    assert store.upsert(entry, day1) == "nouveau"
    assert (
        store.upsert(FeedEntry(id="guid-2", titre="Avis : mise à jour", lien="https://ex.org/2"), day1)
        == "nouveau"
    )
    files = sorted((tmp_path / ITEMS / "s").glob("*.yml"))
    assert [f.name for f in files] == ["2026-11-01-avis-mise-a-jour-2.yml", "2026-11-01-avis-mise-a-jour.yml"]
    first = tmp_path / ITEMS / "s" / "2026-11-01-avis-mise-a-jour.yml"
    # An editor curates the item.
    first.write_text(
        first.read_text(encoding="utf-8")
        .replace("statut: a-trier", "statut: publie")
        .replace("thematiques:", "commentaire: Lu et commenté.\nthematiques:"),
        encoding="utf-8",
    )
    store = ItemStore(tmp_path, source)
    assert store.upsert(entry, day2) == "inchange"
    updated = FeedEntry(id="guid-1", titre="[MàJ] Avis : mise à jour", lien="https://ex.org/1", resume="r")
    assert store.upsert(updated, day2) == "mis-a-jour"
    watch, problems = load_watch(tmp_path)
    assert problems == []
    assert len(watch.items) == 2
    item = next(i for i in watch.items if i.id == "guid-1")
    assert (item.titre, item.statut, item.commentaire) == (
        "[MàJ] Avis : mise à jour",
        "publie",
        "Lu et commenté.",
    )
    assert item.date == day1 and item.date_origine == "premiere-recuperation"  # first seen, not "now"
    # A changed GUID with the same link updates the same file instead of adding one.
    assert ItemStore(tmp_path, source).upsert(
        FeedEntry(id="guid-1b", titre="T", lien="https://ex.org/1"), day2
    ) == ("mis-a-jour")
    assert len(list((tmp_path / ITEMS / "s").glob("*.yml"))) == 2
    assert not list((tmp_path / ITEMS / "s").glob(".*"))  # no temporary file left


def test_store_refuses_to_write_next_to_an_unreadable_item(tmp_path: Path) -> None:
    _item(tmp_path, "s", "casse.yml", "statut: [\n")
    from dote.watch import WatchSource

    store = ItemStore(tmp_path, WatchSource("s", "S", "E", "fr", ()))
    assert store.problems and store.problems[0].position.file == "watch/elements/s/casse.yml"
    with pytest.raises(RuntimeError):
        store.upsert(FeedEntry(id="1", titre="T"), dt.date(2026, 11, 1))


def test_inbox_lists_items_to_review_newest_first(
    territory_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "version_schema: 1\nstatut: {statut}\nsource: cnil-actualites\nid: x{id}\ntitre: {titre}\ndate: {date}\n"
    _item(
        territory_copy,
        "cnil-actualites",
        "h.yml",
        body.format(statut="a-trier", id=1, titre="Ancien", date="2026-01-02"),
    )
    _item(
        territory_copy,
        "cnil-actualites",
        "i.yml",
        body.format(statut="a-trier", id=2, titre="Récent", date="2026-11-02"),
    )
    _item(
        territory_copy,
        "cnil-actualites",
        "j.yml",
        body.format(statut="ecarte", id=3, titre="Écarté", date="2026-11-03"),
    )
    assert main(["watch", "inbox", str(territory_copy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 élément(s) de veille à trier")
    assert out.index("Récent") < out.index("Ancien") and "Écarté" not in out
    assert "watch/elements/cnil-actualites/i.yml" in out
    assert main(["watch", "inbox", str(territory_copy), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["titre"] for i in listed] == ["Récent", "Ancien"]


def test_inbox_on_invalid_watch_files_says_so(
    territory_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _item(territory_copy, "cnil-actualites", "k.yml", "version_schema: 1\nstatut: a-trier\n")
    assert main(["watch", "inbox", str(territory_copy)]) == 1
    err = capsys.readouterr().err
    assert "watch/elements/cnil-actualites/k.yml:1:1: erreur:" in err and "corrigez d'abord" in err


def test_watch_fetch_command_reports_each_source_and_fails_when_one_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from feed_server import serving

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
        b"<item><guid>a-1</guid><title>Premier</title><link>https://ex.org/1</link></item>"
        b"</channel></rss>"
    )
    with serving() as server:
        server.route("/bon.xml", feed, headers={"Content-Type": "application/rss+xml"})
        server.route("/panne.xml", b"", status=503)
        (tmp_path / "watch").mkdir()
        (tmp_path / "watch" / "sources.yml").write_text(
            "version_schema: 1\nsources:\n"
            f"  - {{id: bon, nom: Bon, editeur: E, langue: fr, thematiques: [numerique], flux: '{server.url('/bon.xml')}'}}\n"
            f"  - {{id: panne, nom: Panne, editeur: E, langue: fr, thematiques: [], flux: '{server.url('/panne.xml')}'}}\n",
            encoding="utf-8",
        )
        assert main(["watch", "fetch", str(tmp_path), "--timeout", "5"]) == 1
        captured = capsys.readouterr()
        assert "bon : 1 nouveau" in captured.out and "panne : échec (HTTP 503" in captured.out
        assert "1 source(s) en échec sur 2" in captured.err
        assert main(["watch", "inbox", str(tmp_path)]) == 0
        assert "Premier" in capsys.readouterr().out
        server.route("/panne.xml", feed, headers={"Content-Type": "application/rss+xml"})
        assert main(["watch", "fetch", str(tmp_path)]) == 0
    assert main(["watch", "fetch", str(tmp_path), "--parallele", "0"]) == 2
