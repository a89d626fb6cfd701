"""The skeleton of ``dote init``: its glossary, and a site without a broken link.

The generated pages link their technical terms to the glossary as soon as the territory
has a ``docs/glossaire.md``; the skeleton ships one, the demo's text but for a sentence
that links a page only the demo has.
"""

from __future__ import annotations

import re
from pathlib import Path

from dote.cli import main
from links import check_links

ROOT = Path(__file__).resolve().parent.parent
SKELETON = ROOT / "src" / "dote" / "skeleton"
TEMPLATES = ROOT / "src" / "dote" / "templates"
#: The one sentence of the demo's glossary that the skeleton's leaves out: it links the
#: demo's page « Comprendre un registre », which a new territory does not have.
DEMO_ONLY = (
    " La page [Comprendre un registre](comprendre/registre.md) présente une fiche\n"
    "de registre rubrique par rubrique."
)


def _anchors(glossary: str) -> set[str]:
    return set(re.findall(r"^## .*\{#([a-z0-9-]+)\}$", glossary, re.M))


def test_the_skeleton_glossary_is_the_demo_s() -> None:
    demo = (ROOT / "docs" / "glossaire.md").read_text(encoding="utf-8")
    skeleton = (SKELETON / "docs" / "glossaire.md").read_text(encoding="utf-8")
    assert demo.count(DEMO_ONLY) == 1
    assert skeleton == demo.replace(DEMO_ONLY, ""), (
        "src/dote/skeleton/docs/glossaire.md doit rester la copie de docs/glossaire.md, "
        "sans la phrase qui renvoie à « Comprendre un registre »"
    )


def test_every_term_the_templates_link_is_defined_in_the_skeleton_glossary() -> None:
    linked: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        linked |= set(re.findall(r'gloss\(href_term, "([^"]+)"', text))
        for roles in re.findall(r"set roles = (\{[^}]*\})", text):  # the role badges' terms
            linked |= set(re.findall(r':\s*"([^"]+)"', roles))
    # The activity section is written in Python (dote/fragments.py): its terms too.
    fragments = (TEMPLATES.parent / "fragments.py").read_text(encoding="utf-8")
    linked |= set(re.findall(r"gloss\((?:href|page\.href_term|href_term), [\"']([^\"']+)[\"']", fragments))
    assert {"aipd", "base-legale", "responsable-de-traitement", "sous-traitant", "sort-final"} <= linked
    defined = _anchors((SKELETON / "docs" / "glossaire.md").read_text(encoding="utf-8"))
    assert linked - defined == set()


def test_an_initialised_territory_has_no_broken_link(tmp_path: Path) -> None:
    root = tmp_path / "territoire"
    assert main(["init", str(root)]) == 0
    assert main(["build", str(root)]) == 0
    site = root / "site"
    report = check_links(site)
    assert report.broken == [], "\n".join(report.broken[:40])
    # The generated pages do link their terms to the glossary, anchors included.
    glossary_links = {link for link in report.followed if re.search(r"glossaire/(index\.html)?#", link)}
    assert len(glossary_links) > 10
    assert (site / "glossaire" / "index.html").is_file()
    nav = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="glossaire/"[^>]*>\s*(<[^>]+>\s*)*Glossaire', nav), "le glossaire manque au menu"
