"""Safe publication: one regression test per defect found by a hostile or careless editor."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from dote import pipeline
from dote.cli import main
from dote.load import MAX_BYTES, load_file
from dote.safe import markdown_text, markdown_values, safe_email, safe_url
from dote.scaffold import init_territory

MEMBER = Path("registers/members/exemple/member.yml")
ACTIVITY = Path("registers/members/exemple/listes-electorales.yml")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} absent de {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def territory(tmp_path: Path) -> Path:
    return init_territory(tmp_path / "public", name="Maison DOTE du Test")


# --- 1. titles --------------------------------------------------------------------------


def test_a_member_name_never_becomes_script_in_titles(territory: Path, tmp_path: Path) -> None:
    member = territory / MEMBER
    data = yaml.safe_load(member.read_text(encoding="utf-8"))
    _edit(member, f"nom: {data['nom']}", 'nom: "X </title><script>alert(1)</script>"')
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    page = (site / "registres" / "exemple" / "index.html").read_text(encoding="utf-8")
    assert "<title>X &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; - " in page
    assert "<script>alert" not in page
    assert (site / "pagefind" / "pagefind-entry.json").is_file()  # searched by the hostile-text test


# --- 2. values offered to hand-written pages -------------------------------------------


def test_maison_values_reach_pages_escaped_and_links_checked(territory: Path, tmp_path: Path) -> None:
    maison = territory / "registers" / "maison.yml"
    _edit(maison, "territoire: ", "site: https://x.example/)[clic](javascript:alert(1)\nterritoire: ")
    _edit(
        maison,
        "  adresse: Adresse postale de la Maison",
        "  adresse: '<img src=x onerror=alert(1)> [a](javascript:b)'",
    )
    (territory / "docs" / "liens.md").write_text(
        '[site]({{ maison.site }}) — {{ maison.contact.adresse }} — <a href="{{ maison.site }}">x</a>\n',
        encoding="utf-8",
    )
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    page = (site / "liens" / "index.html").read_text(encoding="utf-8")
    assert 'href="javascript' not in page and "(javascript:" not in page
    assert 'href="https://x.example/%29%5Bclic%5D%28javascript:alert%281%29"' in page
    assert "<img" not in page and "&lt;img src=x onerror=alert&#40;1&#41;&gt;" in page


def test_an_email_that_carries_markup_is_refused_at_its_line(territory: Path) -> None:
    maison = territory / "registers" / "maison.yml"
    _edit(maison, "  courriel: contact@example.org", "  courriel: x@y.fr<img/src=x/onerror=alert(1)>")
    errors = pipeline.run(territory).errors
    assert [(e.position.file, e.position.line) for e in errors] == [("registers/maison.yml", 6)]
    assert "adresse électronique" in errors[0].message


def test_safe_text_helpers() -> None:
    assert safe_url("javascript:alert(1)") == "" and safe_url("data:text/html,x") == ""
    assert safe_url(" JaVaScRiPt:alert(1)") == "" and safe_url("https:///x") == ""
    assert safe_url("https://a.fr/x?y=1&z=(2)") == "https://a.fr/x?y=1&z=%282%29"
    assert safe_url("https://a.fr/\"onmouseover='x'") == "https://a.fr/%22onmouseover=%27x%27"
    assert safe_email("dpo@exemple.fr") == "dpo@exemple.fr" and safe_email('a@b.fr"><x') == ""
    text = markdown_text("[a](javascript:b) <i> {{ 7*7 }} {% raw %} *x* _y_ | `c`")
    for live in ("[", "]", "(", ")", "<", "{", "}", "*", "_", "|", "`", "%}"):
        assert live not in text.replace("&#", "").replace(";", ""), live
    offered = markdown_values(
        {"site": "javascript:x", "contact": {"courriel": "a@b.fr<x>", "adresse": "<b>"}, "n": 3},
        urls=frozenset({"site"}),
        emails=frozenset({"courriel"}),
    )
    assert offered == {"site": "", "contact": {"courriel": "", "adresse": "&lt;b&gt;"}, "n": 3}


# --- 3. symbolic links ------------------------------------------------------------------


def test_a_symlink_out_of_the_territory_is_refused_unread(territory: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("mot de passe : hunter2 : ligne illisible [\n", encoding="utf-8")
    link = territory / "registers" / "processors" / "x.yml"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(secret, link.parent))
    result = pipeline.run(territory)
    [error] = [e for e in result.errors if e.position.file == "registers/processors/x.yml"]
    assert "lien symbolique" in error.message and "hunter2" not in error.text()
    assert all("hunter2" not in p.text() for p in result.problems)
    assert main(["build", str(territory), "--site-dir", str(tmp_path / "site")]) == 1


def test_a_symlink_in_docs_out_of_the_territory_is_refused(territory: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2", encoding="utf-8")
    (territory / "docs" / "fuite.txt").symlink_to(secret)
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 1
    assert not site.exists()


# --- 4. a company's unpublished fields --------------------------------------------------


def _company(territory: Path) -> Path:
    folder = territory / "registers" / "members" / "societe"
    folder.mkdir()
    (folder / "member.yml").write_text(
        "version_schema: 1\nnom: Société\ntype: entreprise\nexercice_des_droits:\n"
        "  courriel: dpo@societe.example.org\ndpo: mutualise\npublication: choix\n"
        "champs_publies: [nom, finalites]\n",
        encoding="utf-8",
    )
    activity = folder / "clients.yml"
    activity.write_text(
        "# Clients de la société\nversion_schema: 1\nnom: Clients\nstatut: valide\n"
        "finalites:\n  principale: Commandes\n"
        "outils:  # logiciels\n  - Logiciel de caisse\n"
        "personnes_concernees: [clients]\ncategories_donnees:\n  - code: etat-civil-identite\n",
        encoding="utf-8",
    )
    return activity


def test_unpublished_company_fields_are_refused_in_registers_then_moved(
    territory: Path, tmp_path: Path
) -> None:
    activity = _company(territory)
    errors = pipeline.run(territory).errors
    found = sorted((e.position.line, e.message.split("»")[0]) for e in errors)
    assert found == [
        (7, "champ « outils "),
        (9, "champ « personnes_concernees "),
        (10, "champ « categories_donnees "),
    ]
    assert all("dote overlay move" in e.hint for e in errors)
    overlay = tmp_path / "prive"
    before = activity.read_text(encoding="utf-8")
    assert main(["overlay", "move", str(territory), "--overlay", str(overlay), "--dry-run"]) == 0
    assert activity.read_text(encoding="utf-8") == before and not overlay.exists()
    assert main(["overlay", "move", str(territory), "--overlay", str(overlay)]) == 0
    moved = (overlay / "registers" / "members" / "societe" / "clients.yml").read_text(encoding="utf-8")
    assert "outils:  # logiciels\n  - Logiciel de caisse\npersonnes_concernees: [clients]\n" in moved
    assert "outils" not in activity.read_text(encoding="utf-8")
    assert activity.read_text(encoding="utf-8").startswith("# Clients de la société\n")
    assert pipeline.run(territory).ok
    internal = pipeline.run(territory, overlay=overlay)
    assert internal.ok and internal.territory is not None
    clients = internal.territory.members_by_id["societe"].activities[0]
    assert clients.tools == ("Logiciel de caisse",)


def test_overlay_move_never_overwrites(territory: Path, tmp_path: Path) -> None:
    activity = _company(territory)
    overlay = tmp_path / "prive"
    target = overlay / "registers" / "members" / "societe" / "clients.yml"
    target.parent.mkdir(parents=True)
    target.write_text("outils: [Autre]\n", encoding="utf-8")
    before = activity.read_text(encoding="utf-8")
    assert main(["overlay", "move", str(territory), "--overlay", str(overlay)]) == 1
    assert activity.read_text(encoding="utf-8") == before
    assert target.read_text(encoding="utf-8") == "outils: [Autre]\n"


def test_overlay_move_refuses_an_overlay_inside_the_public_repository(territory: Path) -> None:
    _company(territory)
    assert main(["overlay", "move", str(territory), "--overlay", str(territory / "docs" / "prive")]) == 2
    assert not (territory / "docs" / "prive").exists()


# --- 5. archived model versions ---------------------------------------------------------


def test_a_confidential_field_in_an_archived_version_is_refused_at_its_line(territory: Path) -> None:
    models = territory / "registers" / "models"
    (models / "versions").mkdir(parents=True)
    model = (
        "version_schema: 1\nnom: Modèle\nversion: {v}\nfinalites:\n  principale: Gérer\n"
        "personnes_concernees: [usagers]\n"
    )
    (models / "m.yml").write_text(model.format(v=2), encoding="utf-8")
    (models / "versions" / "m@1.yml").write_text(
        model.format(v=1) + "mesures_securite:\n  sauvegarde: quotidienne\n", encoding="utf-8"
    )
    errors = pipeline.run(territory).errors
    assert [(e.position.file, e.position.line) for e in errors] == [("registers/models/versions/m@1.yml", 7)]
    assert "mesures_securite" in errors[0].message


# --- 6. internal outputs and the overlay inside the public repository -------------------


def _overlay(tmp_path: Path) -> Path:
    overlay = tmp_path / "prive"
    (overlay / "registers" / "members" / "exemple").mkdir(parents=True)
    (overlay / "registers" / "members" / "exemple" / "member.yml").write_text(
        "referent:\n  nom: Jeanne Agent\n  adresse: 1 rue Secrète\n  numero_designation: DPO-4242\n",
        encoding="utf-8",
    )
    return overlay


def test_internal_site_inside_the_repository_must_be_ignored(
    territory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = _overlay(tmp_path)
    code = main(
        [
            "build",
            str(territory),
            "--internal",
            "--overlay",
            str(overlay),
            "--site-dir",
            str(territory / "interne"),
        ]
    )
    assert code == 2 and not (territory / "interne").exists()
    assert "sans être ignoré par git" in capsys.readouterr().err
    # The default folder is ignored by the territory's .gitignore.
    assert main(["build", str(territory), "--internal", "--overlay", str(overlay)]) == 0
    page = (territory / "site-interne" / "registres" / "exemple" / "index.html").read_text(encoding="utf-8")
    # 8. the internal site shows the whole referent.
    assert "1 rue Secrète" in page and "DPO-4242" in page


def test_an_overlay_where_it_would_be_published_is_refused(
    territory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = territory / "docs" / "confidentiel"
    (overlay / "registers").mkdir(parents=True)
    site = tmp_path / "interne"
    assert (
        main(["build", str(territory), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]) == 2
    )
    assert "docs/" in capsys.readouterr().err
    assert main(["validate", str(territory), "--overlay", str(overlay)]) == 1
    # The plugin option too, even in a public build.
    _edit(territory / "mkdocs.yml", "  - dote", "  - dote:\n      overlay: docs/confidentiel")
    assert main(["build", str(territory), "--site-dir", str(tmp_path / "site")]) == 1


# --- 9. smaller ------------------------------------------------------------------------


def test_a_page_at_the_address_of_a_generated_page_is_refused(
    territory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (territory / "docs" / "registres").mkdir()
    (territory / "docs" / "registres" / "exemple.md").write_text("# Faux\n", encoding="utf-8")
    assert main(["build", str(territory), "--site-dir", str(tmp_path / "site")]) == 1
    assert "docs/registres/exemple.md a la même adresse" in capsys.readouterr().err


def test_sigterm_during_a_build_leaves_no_temporary_folder(
    territory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mkdocs.commands.build

    def terminated(config: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(mkdocs.commands.build, "build", terminated)
    site = tmp_path / "out" / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 128 + signal.SIGTERM
    assert list((tmp_path / "out").iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yml"
    with huge.open("wb") as stream:
        stream.truncate(64 * 1024**3)  # sparse: reading it whole would exhaust memory
    doc, problems = load_file(huge, "huge.yml", within=tmp_path)
    assert doc is None and "trop volumineux" in problems[0].message
    assert MAX_BYTES < 64 * 1024**3


def test_the_threat_model_page_shows_the_codeowners_file_as_it_is() -> None:
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "guide" / "securite.md").read_text(encoding="utf-8")
    block = page.split("```text\n", 1)[1].split("```", 1)[0]
    assert block == (root / ".github" / "CODEOWNERS").read_text(encoding="utf-8")


def test_label_level_counts_are_escaped_but_found_by_their_title() -> None:
    from dote.macros import _TextKeys

    counts = _TextKeys({markdown_text("Niveau <b>(1)</b>"): 3})
    assert counts["Niveau <b>(1)</b>"] == 3 and counts.get("autre", 0) == 0
    assert all("<" not in key for key in counts)


def test_a_symlinked_folder_out_of_the_territory_is_not_listed(territory: Path, tmp_path: Path) -> None:
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    (outside / "Nom Secret.yml").write_text("nom: x\n", encoding="utf-8")
    (territory / "registers" / "members" / "intrus").symlink_to(outside, target_is_directory=True)
    result = pipeline.run(territory)
    assert [(e.position.file, "dossier hors du territoire" in e.message) for e in result.errors] == [
        ("registers/members/intrus", True)
    ]
    assert all("Secret" not in p.text() for p in result.problems)


def test_an_unreadable_member_folder_is_reported_not_skipped(
    territory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = territory / "registers" / "members"
    member = sorted(p for p in members.iterdir() if p.is_dir())[0]
    real_scandir = os.scandir

    def refusing(path: str | os.PathLike[str]) -> object:
        if Path(path) == member:
            raise PermissionError(13, "Permission non accordée")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    result = pipeline.run(territory)
    name = member.relative_to(territory).as_posix()
    assert any(e.position.file == name and "dossier illisible" in e.message for e in result.errors)


def test_escaped_values_read_as_written(territory: Path, tmp_path: Path) -> None:
    """Escaping must not show: a name with quotes, brackets and ampersands reads as typed."""
    from html.parser import HTMLParser

    name = "Maison d'Exemple (A & B) [x] *y* #1 <z>"
    _edit(
        territory / "registers" / "maison.yml",
        'nom: "Maison DOTE du Test"',
        f"nom: '{name.replace(chr(39), chr(39) * 2)}'",
    )
    (territory / "docs" / "nom.md").write_text(
        "# {{ maison.nom }}\n\nNom : {{ maison.nom }}.\n", encoding="utf-8"
    )
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tag, self.found = "", list[str]()

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tag = tag

        def handle_data(self, data: str) -> None:
            if self.tag in ("h1", "p") and data.strip():
                self.found.append(data)

    parser = Text()
    parser.feed((site / "nom" / "index.html").read_text(encoding="utf-8"))
    assert name in parser.found and f"Nom : {name}." in parser.found


def test_search_filter_values_cannot_become_markup() -> None:
    from dote.safe import pagefind_value

    value = pagefind_value("A & B <img src=x onerror=alert(1)> &lt;b&gt;")
    assert "<" not in value and ">" not in value and "&" not in value
    assert value == "A ＆ B ‹img src=x onerror=alert(1)› ＆lt;b＆gt;"


def test_every_page_carries_a_policy_with_its_own_inline_scripts(built_demo: Path) -> None:
    import base64
    import hashlib
    import re

    from dote.csp import inline_hashes, with_policy

    page = '<html><head><meta charset="utf-8"></head><body><script>a()</script>'
    page += '<script type="application/json">{"x": 1}</script><script src="b.js"></script></body></html>'
    digest = base64.b64encode(hashlib.sha256(b"a()").digest()).decode()
    assert inline_hashes(page) == [f"'sha256-{digest}'"]
    result = with_policy(page)
    assert result.startswith('<html><head><meta http-equiv="Content-Security-Policy" content="default-src')
    assert with_policy(result) == result
    pages = list(built_demo.rglob("*.html"))
    for path in pages:
        html = path.read_text(encoding="utf-8")
        meta = re.search(r'<head>\s*<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
        assert meta is not None, path
        assert all(h in meta[1] for h in inline_hashes(html)), path
        assert "'unsafe-inline'" not in meta[1].split("script-src", 1)[1].split(";", 1)[0], path


def test_a_policy_allows_the_theme_scripts_and_not_the_content_ones() -> None:
    from dote.csp import inline_hashes, with_policy, without_content

    theme_script, content_script = "<script>theme()</script>", "<script>evil()</script>"
    content = f"<p>Texte</p>{content_script}"
    page = f"<html><head></head><body>{theme_script}<article>{content}</article></body></html>"
    theme = without_content(page, content)
    assert theme is not None and "evil" not in theme and "theme()" in theme
    meta = with_policy(page, theme).split('content="', 1)[1].split('"', 1)[0]
    theme_hash, content_hash = inline_hashes(page)
    assert theme_hash in meta and content_hash not in meta
    assert content_hash in with_policy(page)  # the page itself, when it has no outside content
    assert without_content(page, "<p>Autre</p>") is None
    assert without_content(page, "") == page


def test_a_script_slipped_into_a_page_content_is_not_allowed_by_its_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were escaping ever to let a script through (a register value on a generated page, a
    Markdown page's text), the page's policy allows the theme's inline scripts only."""
    import base64
    import hashlib
    import re

    from tests.conftest import copy_demo

    from dote import render
    from dote.csp import inline_hashes

    root = copy_demo(tmp_path / "territoire")
    evil = "<script>evil()</script>"
    (root / "docs" / "essai.md").write_text(f"# Essai\n\nUn texte.\n\n{evil}\n", encoding="utf-8")
    real = render.GeneratedPage.kept_html
    monkeypatch.setattr(render.GeneratedPage, "kept_html", lambda self, url: real(self, url) + evil)
    monkeypatch.setenv("DOTE_PROCESSUS", "1")  # the pages rendered in this process, as patched
    monkeypatch.setenv("DOTE_CACHE", "0")
    site = tmp_path / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    evil_hash = "'sha256-" + base64.b64encode(hashlib.sha256(b"evil()").digest()).decode() + "'"
    pages = [site / "essai" / "index.html", *sorted((site / "registres").glob("*/index.html"))[:3]]
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert evil in html, path  # the test's script is there
        policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
        assert policy is not None, path
        assert evil_hash not in policy[1], path
        theme_hashes = [h for h in inline_hashes(html) if h != evil_hash]
        assert theme_hashes and all(h in policy[1] for h in theme_hashes), path


def test_the_threat_model_page_gives_the_header_the_engine_expects() -> None:
    from dote.csp import HEADERS

    page = (Path(__file__).resolve().parent.parent / "docs" / "guide" / "securite.md").read_text(
        encoding="utf-8"
    )
    assert page.count(f"Content-Security-Policy: {HEADERS}") == 2
    assert page.count(f'"{HEADERS}"') == 2  # nginx, Apache


def _markup_joins(source: str, methods: set[str]) -> list[int]:
    """The lines of ``source`` where a literal holding markup or quotes is joined to a value
    that is :class:`markupsafe.Markup` — with ``+``, with ``+=``, or by ``Markup.join`` —: the
    literal is escaped then (``Markup.__radd__``, ``__add__`` and ``join`` escape a str), so its
    tags show as text. A value is Markup when it is a call of what returns Markup, or a name
    its function binds to one (assigned from such a call, or annotated ``Markup``).
    ``methods``: the names of the package's methods that return Markup."""
    import ast

    tree = ast.parse(source)
    local = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module == "markupsafe" or (node.module or "").startswith("dote"))
        for alias in node.names
        if alias.name in ("Markup", "escape") or alias.name in methods
    }
    local |= {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and ast.unparse(node.returns or ast.Constant(None)) == "Markup"
    }

    def is_markup(node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in local
        return isinstance(func, ast.Attribute) and (
            func.attr in methods
            or (isinstance(func.value, ast.Name) and func.value.id in ("self", "cls") and func.attr in local)
            or (
                isinstance(func.value, ast.Name)
                and func.value.id == "markupsafe"
                and func.attr in ("Markup", "escape")
            )
        )

    def literal_text(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(literal_text(v) for v in node.values if isinstance(v, ast.Constant))
        return ""

    def operands(node: ast.expr) -> list[ast.expr]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return operands(node.left) + operands(node.right)
        return [node]

    def has_markup_text(node: ast.expr) -> bool:
        return bool(set(literal_text(node)) & set("<>&'\""))

    found = set()
    # Each function (and the module) on its own: the names it binds to Markup values (assigned
    # from a call that returns Markup, or annotated so), then what it joins to them.
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope in scopes:
        body = _own_nodes(scope)
        names = {
            target.id
            for n in body
            if isinstance(n, ast.Assign) and is_markup(n.value)
            for target in n.targets
            if isinstance(target, ast.Name)
        }
        names |= {
            n.target.id
            for n in body
            if isinstance(n, ast.AnnAssign)
            and isinstance(n.target, ast.Name)
            and ast.unparse(n.annotation) == "Markup"
        }

        def markup(node: ast.expr, names: set[str] = names) -> bool:
            return is_markup(node) or (isinstance(node, ast.Name) and node.id in names)

        for node in body:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                parts = operands(node)
                if any(markup(p) for p in parts) and any(has_markup_text(p) for p in parts):
                    found.add(node.lineno)
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
                # html += "<p>": Markup.__add__ escapes the literal
                if markup(node.target) and any(has_markup_text(p) for p in operands(node.value)):
                    found.add(node.lineno)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "join"
                and markup(node.func.value)
                and node.args
            ):
                # Markup("").join(["<p>", text]): Markup.join escapes each str it joins
                items = node.args[0]
                elements = (
                    items.elts
                    if isinstance(items, ast.List | ast.Tuple | ast.Set)
                    else [items.elt]
                    if isinstance(items, ast.GeneratorExp | ast.ListComp)
                    else []
                )
                if any(has_markup_text(p) for e in elements for p in operands(e)):
                    found.add(node.lineno)
    return sorted(found)


def _own_nodes(scope: Any) -> list[Any]:
    """The nodes of a module or function, not those of the functions defined in it (a lambda's
    are its enclosing function's: it binds no name of its own but its parameters)."""
    import ast

    found, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _markup_methods(sources: list[str]) -> set[str]:
    """The names of the package's functions and methods that return Markup, each of its
    definitions (a name also defined to return something else, such as ``render``, is left
    out: called as a method, it could be either)."""
    import ast

    returns: dict[str, set[str]] = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                returns.setdefault(node.name, set()).add(ast.unparse(node.returns) if node.returns else "")
    return {name for name, kinds in returns.items() if kinds == {"Markup"}}


def test_no_literal_markup_is_added_to_escaped_text() -> None:
    """No module of the package joins a literal holding markup or quotes to an escaped value
    with ``+`` (the slip that showed 4,200 DPIA statements as tags, commit 94f2038); the check
    finds both slips fixed so far in their earlier versions."""
    import subprocess

    package = Path(__file__).resolve().parent.parent / "src" / "dote"
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(package.rglob("*.py"))}
    methods = _markup_methods(list(sources.values()))
    assert {"missing", "markdown_text", "blocks_html"} <= methods and not {"render", "link"} & methods
    assert {
        name: lines for name, source in sources.items() if (lines := _markup_joins(source, methods))
    } == {}

    def earlier(commit: str, path: str) -> str:
        done = subprocess.run(
            ["git", "show", f"{commit}^:{path}"], capture_output=True, text=True, cwd=package
        )
        if done.returncode != 0:
            pytest.skip("l'historique git n'est pas disponible")
        return done.stdout

    assert _markup_joins(earlier("94f2038", "src/dote/fragments.py"), methods) != []
    assert _markup_joins(earlier("88c0de6", "src/dote/dpia.py"), methods) != []
    assert _markup_joins('from markupsafe import escape\nx = "<b>" + escape(y)\n', methods) == [2]
    assert _markup_joins('from html import escape\nx = "<b>" + escape(y)\n', methods) == []
    assert _markup_joins('from markupsafe import escape\nx = "a " + escape(y)\n', methods) == []
    method = "from markupsafe import Markup\nclass F:\n    def link(self) -> Markup: ...\n"
    assert _markup_joins(method + '    def f(self): return "<p>" + self.link()\n', methods) == [4]
    assert _markup_joins('x = "<p>" + page.link()\n', methods) == []  # another link: a str
    # Through a name bound to Markup, with +=, and in Markup.join.
    header = "from markupsafe import Markup, escape\ndef f(y):\n"
    assert _markup_joins(header + '    x = escape(y)\n    return x + "</p>"\n', methods) == [4]
    assert _markup_joins(header + '    x = escape(y)\n    x += "<br>"\n', methods) == [4]
    assert _markup_joins(header + '    x: Markup = g(y)\n    x += f"<b>{y}</b>"\n', methods) == [4]
    assert _markup_joins(header + '    x = "a"\n    x += "<br>"\n', methods) == []  # a str
    other = header + '    x = escape(y)\n    return x\ndef g():\n    x = "a"\n    x += "<br>"\n'
    assert _markup_joins(other, methods) == []  # another function's x
    assert _markup_joins(header + '    return map(lambda v: "<b>" + escape(v), y)\n', methods) == [3]
    assert _markup_joins(header + '    return Markup("").join(["<p>", y])\n', methods) == [3]
    assert _markup_joins(header + '    return Markup("<br>").join(escape(v) for v in y)\n', methods) == []
    assert _markup_joins(header + '    return ", ".join(["<p>", y])\n', methods) == []  # str.join
