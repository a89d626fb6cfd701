"""Member pages share Material's sidebars, rendered once (dote.mkdocs_plugin._SidebarMemo).

The memo must change nothing but the time: a site built with it is byte for byte the site
Material renders page by page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_demo
from dote import mkdocs_plugin
from dote.cache import CACHE_ENV
from dote.cli import main


def _pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*.html"))}


def test_shared_sidebars_change_no_byte_of_the_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setenv(CACHE_ENV, "0")
    kept: list[Any] = []
    original_keep = mkdocs_plugin._SidebarMemo.keep

    def keep(self: mkdocs_plugin._SidebarMemo, html: Any) -> Any:
        kept.append(html)
        return original_keep(self, html)

    monkeypatch.setattr(mkdocs_plugin._SidebarMemo, "keep", keep)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "avec")]) == 0
    assert len(kept) == 1 and 'data-md-type="navigation"' in str(kept[0])

    # The same territory, each page's sidebars rendered by Material itself.
    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_member_sidebars", lambda self, page: None)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "sans")]) == 0

    shared, rendered = _pages(tmp_path / "avec"), _pages(tmp_path / "sans")
    members = [uri for uri in shared if uri.startswith("registres/") and uri.count("/") == 2]
    assert len([uri for uri in members if uri.endswith("/index.html")]) >= 2
    assert shared.keys() == rendered.keys()
    assert [uri for uri in shared if shared[uri] != rendered[uri]] == []


def _member_pages(site: Path) -> dict[str, Path]:
    return {
        path.relative_to(site).as_posix(): path
        for path in sorted((site / "registres").glob("*/index.html"))
        if path.parent.name not in ("explorer", "algorithmes")
    }


def test_unchanged_member_pages_are_linked_from_the_previous_site(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warm build links the member pages whose every input is unchanged (dote.page_links);
    the site is byte for byte the one a build without a previous site makes."""
    root = copy_demo(tmp_path / "territoire")
    site = tmp_path / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    first = {uri: path.stat().st_ino for uri, path in _member_pages(site).items()}
    assert len(first) >= 5

    changed = sorted((root / "registers" / "members" / "valmont").glob("*.yml"))
    activity = next(p for p in changed if p.name != "member.yml")
    text = activity.read_text(encoding="utf-8")
    activity.write_text(
        text.replace("  principale: ", "  principale: Finalité revue — ", 1), encoding="utf-8"
    )
    caplog.clear()
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    second = {uri: path.stat().st_ino for uri, path in _member_pages(site).items()}
    assert [uri for uri in first if second[uri] != first[uri]] == ["registres/valmont/index.html"]
    assert "Finalité revue" in (site / "registres/valmont/index.html").read_text(encoding="utf-8")
    assert "Page skipped" not in caplog.text

    # Another folder: no previous site there, every page themed by Material.
    assert main(["build", str(root), "--site-dir", str(tmp_path / "neuf")]) == 0
    assert _pages(site) == _pages(tmp_path / "neuf")

    # A page of the site changed by hand is themed again, not linked.
    tampered = site / "registres/les-granges/index.html"
    tampered.write_text(
        tampered.read_text(encoding="utf-8").replace("<body", "<body data-x", 1), encoding="utf-8"
    )
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    assert _pages(site) == _pages(tmp_path / "neuf")

    # A previous file that cannot be linked any more: the build fails in French, the site stays.
    def refuse(old: Path, new: Path) -> None:
        raise PermissionError(13, "Permission non accordée")

    monkeypatch.setattr(mkdocs_plugin, "link", refuse)
    capsys.readouterr()
    assert main(["build", str(root), "--site-dir", str(site)]) != 0
    assert "n'a pas pu être reprise du site précédent (permission refusée)" in capsys.readouterr().err
    assert _pages(site) == _pages(tmp_path / "neuf")
    monkeypatch.undo()

    # What every page shows changed (the site's name): no page is linked.
    before = {uri: path.stat().st_ino for uri, path in _member_pages(site).items()}
    config = root / "mkdocs.yml"
    config.write_text(
        re.sub(r"(?m)^site_name: .*$", "site_name: Registres renommés", config.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    after = _member_pages(site)
    assert all(after[uri].stat().st_ino != inode for uri, inode in before.items())
    assert all("Registres renommés" in path.read_text(encoding="utf-8") for path in after.values())


def test_a_page_key_follows_its_content_and_the_shell() -> None:
    from types import SimpleNamespace

    from dote.page_links import page_key

    def page(content: str, title: str = "A") -> SimpleNamespace:
        file = SimpleNamespace(src_uri="registres/a/index.md", dest_uri="registres/a/index.html")
        return SimpleNamespace(
            file=file,
            url="registres/a/",
            title=title,
            edit_url=None,
            canonical_url=None,
            meta={},
            content=content,
        )

    assert page_key("gabarit", page("<p>a</p>")) == page_key("gabarit", page("".join(["<p>", "a", "</p>"])))
    assert page_key("gabarit", page("<p>a</p>")) != page_key("gabarit", page("<p>b</p>"))
    assert page_key("gabarit", page("<p>a</p>")) != page_key("gabarit", page("<p>a</p>", "B"))
    assert page_key("gabarit", page("<p>a</p>")) != page_key("autre gabarit", page("<p>a</p>"))


def test_parked_page_contents_change_no_byte_of_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated pages' contents wait as bytes, a marker in their place, until MkDocs themes
    them (dote.mkdocs_plugin.DotePlugin.PARK_CONTENTS): the site is the one built without."""
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setenv(CACHE_ENV, "0")
    assert mkdocs_plugin.DotePlugin.PARK_CONTENTS
    unparked: list[str] = []
    original = mkdocs_plugin.DotePlugin._unpark

    def unpark(self: mkdocs_plugin.DotePlugin, output: str, page: Any) -> str:
        if page.file.src_uri in self._parked:
            unparked.append(page.file.src_uri)
        return original(self, output, page)

    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_unpark", unpark)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "avec")]) == 0
    assert len(unparked) > 10 and any(uri.startswith("registres/") for uri in unparked)
    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "PARK_CONTENTS", False)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "sans")]) == 0
    with_parking, without = _pages(tmp_path / "avec"), _pages(tmp_path / "sans")
    assert with_parking.keys() == without.keys()
    assert [uri for uri in with_parking if with_parking[uri] != without[uri]] == []
    assert not [uri for uri, html in with_parking.items() if b"<!--dote:" in html]


def _with_main_template(root: Path, template: str) -> Path:
    """The territory at ``root`` with its own theme override ``main.html``."""
    overrides = root / "overrides"
    overrides.mkdir(exist_ok=True)
    (overrides / "main.html").write_text(template, encoding="utf-8")
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    if "custom_dir:" not in text:
        text = text.replace("  name: material\n", "  name: material\n  custom_dir: overrides\n", 1)
    config.write_text(text, encoding="utf-8")
    return root


def test_a_theme_showing_a_page_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _with_main_template(
        copy_demo(tmp_path / "territoire"),
        '{% extends "base.html" %}\n{% block content %}{{ super() }}{{ page.content }}{% endblock %}\n',
    )
    assert main(["build", str(root), "--site-dir", str(tmp_path / "site")]) != 0
    err = capsys.readouterr().err
    assert "doit afficher une fois le contenu de la page" in err and "2 fois" in err, err
    assert not (tmp_path / "site").exists()


def test_a_generated_page_skips_markdown_unless_a_plugin_wrote_some(tmp_path: Path) -> None:
    """A generated page's Markdown is empty: it is given what converting it would give;
    Markdown that another plugin wrote is converted as MkDocs would."""
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import File, Files
    from mkdocs.structure.pages import Page

    config = MkDocsConfig()
    (tmp_path / "docs").mkdir()
    config.load_dict(
        {"site_name": "x", "docs_dir": str(tmp_path / "docs"), "site_dir": str(tmp_path / "site")}
    )
    assert not config.validate()[0]
    results = []
    for markdown in ("", "  \n", "# Titre\n\nTexte *mis en valeur*."):
        file = File("registres/m/index.md", str(tmp_path / "docs"), str(tmp_path / "site"), True)
        files = Files([file])
        expected, generated = Page(None, file, config), Page(None, file, config)
        generated.__class__ = mkdocs_plugin._GeneratedPage
        for page in (expected, generated):
            page.markdown = markdown
            page.render(config, files)
        results.append(generated.content)
        assert generated.content == expected.content
        assert [(a.title, a.id) for a in generated.toc] == [(a.title, a.id) for a in expected.toc]
        assert generated.present_anchor_ids == expected.present_anchor_ids
        assert generated.title == expected.title
    assert results[:2] == ["", ""] and "<em>mis en valeur</em>" in results[2]


def _built_both_ways(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[set[str], dict[str, bytes]]:
    """The member pages filled in when ``root`` is built in ``tmp_path/avec``, and that site's
    pages, checked byte for byte against a build that themes every page with the template."""
    monkeypatch.setenv(CACHE_ENV, "0")
    filled: list[str] = []
    original = mkdocs_plugin.Shell.fill

    def fill(self: mkdocs_plugin.Shell, page: Any) -> str | None:
        output = original(self, page)
        if output is not None:
            filled.append(page.file.src_uri)
        return output

    monkeypatch.setattr(mkdocs_plugin.Shell, "fill", fill)
    written: list[str] = []
    write = mkdocs_plugin.DotePlugin._write_filled

    def write_filled(self: mkdocs_plugin.DotePlugin, page: Any, shell: str) -> bool:
        if write(self, page, shell):
            written.append(page.file.src_uri)
            return True
        return False

    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_write_filled", write_filled)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "avec")]) == 0
    done = set(filled)
    # A page filled in is written by the plugin as bytes (not joined and encoded by MkDocs).
    assert set(written) == done
    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "FILL_MEMBER_PAGES", False)
    filled.clear()
    assert main(["build", str(root), "--site-dir", str(tmp_path / "sans")]) == 0
    assert filled == []
    with_shell, themed = _pages(tmp_path / "avec"), _pages(tmp_path / "sans")
    assert with_shell.keys() == themed.keys()
    assert [uri for uri in with_shell if with_shell[uri] != themed[uri]] == []
    return done, with_shell


def test_member_pages_filled_in_change_no_byte_of_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Member pages themed by filling the template's output for a sample page
    (dote.page_links.Shell) are byte for byte those Material renders page by page; a page whose
    title is shown in a way the shell does not know (two spaces, which ``striptags`` joins) is
    themed by the template."""
    root = copy_demo(tmp_path / "territoire")
    member = root / "registers" / "members" / "valmont" / "member.yml"
    text = member.read_text(encoding="utf-8")
    member.write_text(
        re.sub(r"(?m)^nom: .*$", 'nom: "Valmont & <Fils>  l\'aîné"', text, count=1), encoding="utf-8"
    )
    filled, with_shell = _built_both_ways(root, tmp_path, monkeypatch)
    members = {uri.replace(".html", ".md") for uri in _member_pages(tmp_path / "avec")}
    assert filled == members - {"registres/valmont/index.md"}
    assert "registres/les-granges/index.md" in filled  # « Granges-d&#x27;Exemple »: escaped
    assert len(members) >= 6
    assert "Valmont &amp; &lt;Fils&gt;" in with_shell["registres/valmont/index.html"].decode("utf-8")
    assert "<title>Commune des Granges-d&#x27;Exemple - " in with_shell[
        "registres/les-granges/index.html"
    ].decode("utf-8")


def _built_with_shell_refused(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, bytes]:
    """The pages of ``root`` built in ``tmp_path/avec``, where the shell's check must refuse
    it: the same bytes as a build that themes every page with the template."""
    monkeypatch.setenv(CACHE_ENV, "0")
    assert main(["build", "--verbose", str(root), "--site-dir", str(tmp_path / "avec")]) == 0
    assert "le thème ne se remplit pas comme prévu" in capsys.readouterr().err
    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "FILL_MEMBER_PAGES", False)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "sans")]) == 0
    with_shell, themed = _pages(tmp_path / "avec"), _pages(tmp_path / "sans")
    assert [uri for uri in with_shell if with_shell[uri] != themed[uri]] == []
    return with_shell


def test_a_theme_the_shell_cannot_fill_themes_every_member_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A theme override that shows something of a page's title that the shell cannot fill in
    (here its length): the page checked both ways differs, so no member page is filled in."""
    root = _with_main_template(
        copy_demo(tmp_path / "territoire"),
        '{% extends "base.html" %}\n'
        '{% block extrahead %}<meta name="dote-essai" content="{{ page.title | length }}">{% endblock %}\n',
    )
    with_shell = _built_with_shell_refused(root, tmp_path, monkeypatch, capsys)
    lengths = {
        re.search(rb'name="dote-essai" content="(\d+)"', html)[1]  # type: ignore[index]
        for uri, html in with_shell.items()
        if uri in _member_pages(tmp_path / "avec")
    }
    assert len(lengths) > 1


def test_a_member_page_that_cannot_be_filled_any_more_is_themed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page planned to be filled in that cannot be any more when MkDocs writes it (another
    plugin changed it meanwhile) is themed by the template: the same site."""
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setenv(CACHE_ENV, "0")
    assert main(["build", str(root), "--site-dir", str(tmp_path / "avant")]) == 0
    planned: list[int] = []
    original = mkdocs_plugin.DotePlugin._plan_fills

    def plan_then_spoil(self: mkdocs_plugin.DotePlugin, *args: Any) -> None:
        original(self, *args)
        planned.append(len(self._filled))
        if self._shell is not None:
            self._shell.usable = False  # every fill now refused

    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_plan_fills", plan_then_spoil)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "apres")]) == 0
    assert planned and planned[0] >= 5
    assert _pages(tmp_path / "avant") == _pages(tmp_path / "apres")


@pytest.mark.parametrize("part", ["edit", "blob"])
def test_material_view_source_action_is_filled_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """Material's « voir la source » action (feature ``content.action.view``) shows an address
    made from the edit link (``blob``, or else ``edit``, replaced by ``raw``): the shell fills it
    in as the template does, for both forms of link, byte for byte."""
    root = copy_demo(tmp_path / "territoire")
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        "theme:\n",
        f"repo_url: https://forge.example.org/maison/registres-edition\nedit_uri: {part}/main/docs/\n\ntheme:\n",
        1,
    ).replace(
        "    - toc.follow\n", "    - toc.follow\n    - content.action.edit\n    - content.action.view\n", 1
    )
    config.write_text(text, encoding="utf-8")
    filled, with_shell = _built_both_ways(root, tmp_path, monkeypatch)
    assert filled == {uri.replace(".html", ".md") for uri in _member_pages(tmp_path / "avec")}
    page = with_shell["registres/valmont/index.html"].decode("utf-8")
    # « edit » replaced everywhere in the link (the repository's name too), « blob » once
    repository = "registres-rawion" if part == "edit" else "registres-edition"
    raw = re.findall(rf'href="(https://forge\.example\.org/maison/{repository}/raw/main/[^"]+)"', page)
    assert raw and all("valmont" in link for link in raw)


def test_filled_pages_go_through_a_later_plugin_s_post_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin (here a hook) after « dote » that changes pages: the filled member pages are
    not written by the plugin, they go through its ``on_post_page`` and MkDocs writes them."""
    root = copy_demo(tmp_path / "territoire")
    (root / "crochet.py").write_text(
        "def on_post_page(output, page, config):\n"
        "    return output.replace('</body>', '<!--crochet--></body>')\n",
        encoding="utf-8",
    )
    config = root / "mkdocs.yml"
    config.write_text(config.read_text(encoding="utf-8") + "\nhooks:\n  - crochet.py\n", encoding="utf-8")
    monkeypatch.setenv(CACHE_ENV, "0")
    written: list[str] = []
    write = mkdocs_plugin.DotePlugin._write_filled

    def write_filled(self: mkdocs_plugin.DotePlugin, page: Any, shell: str) -> bool:
        done = write(self, page, shell)
        if done:
            written.append(page.file.src_uri)
        return done

    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_write_filled", write_filled)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "site")]) == 0
    members = _member_pages(tmp_path / "site")
    assert len(members) >= 6 and written == []
    assert all(b"<!--crochet--></body>" in path.read_bytes() for path in members.values())
