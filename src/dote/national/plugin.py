"""The MkDocs plugin of the national site (``dote-national``), driven by :func:`dote.national.site.build`.

Like the territory plugin (:mod:`dote.mkdocs_plugin`), it adds generated pages as tiny
virtual files whose HTML, rendered by Jinja, replaces their (empty) content; adds the
package's theme overrides, stylesheet and scripts; puts the Content-Security-Policy in
every page; and indexes the search documents with Pagefind at the end of the build.
:func:`dote.national.site.build` hands it the national view (:attr:`NationalPlugin.national`)
before the build: a plugin named in a ``mkdocs.yml`` alone has nothing to show.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from mkdocs.config import base
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from dote import csp, explorer, search
from dote.national import site
from dote.render import GeneratedPage
from dote.safe import html_text
from dote.schema import published_schemas

_STUB = "---\nrender_macros: false\n---\n"
ASSETS = Path(__file__).parent.parent / "assets"


class NationalPluginConfig(base.Config):  # type: ignore[no-untyped-call]  # MkDocs' untyped base
    """No options: :func:`dote.national.site.build` hands the plugin what it shows."""


class NationalPlugin(BasePlugin[NationalPluginConfig]):  # type: ignore[no-untyped-call]
    """Adds the national view of a harvest to an MkDocs site."""

    def __init__(self) -> None:
        #: Set by :func:`dote.national.site.build` before the build.
        self.national: site.National | None = None
        self._pages: dict[str, GeneratedPage] = {}
        self._shards = 0
        #: Why the build failed (French), for :func:`dote.national.site.build`: MkDocs only
        #: says "Aborted with a BuildError!" once it has logged a plugin's error.
        self.failure = ""

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if self.national is None:
            raise PluginError("dote-national : ce greffon est utilisé par « dote national », pas seul")
        with tempfile.TemporaryDirectory(prefix="dote-national-gabarits-") as empty:
            env = site.template_environment(Path(empty))
        self._shards = site.shard_count(len(self.national.members))
        self._pages = {p.src_uri: p for p in site.pages(self.national, env, self._shards)}
        config.extra["dote"] = {
            "fictive": False,
            "interne": False,
            "nom": self.national.config.name,
            "recherche": site.SEARCH_URL,
        }
        theme_dir = str(Path(__file__).parent.parent / "theme")
        if theme_dir not in config.theme.dirs:
            config.theme.dirs.insert(0, theme_dir)
        if site.STYLESHEET not in [str(s) for s in config.extra_css]:
            config.extra_css.append(site.STYLESHEET)
        return config

    def on_files(self, files: Files, /, *, config: MkDocsConfig) -> Files | None:
        assert self.national is not None
        for src_uri in self._pages:
            files.append(File.generated(config, src_uri, content=_STUB))
        config.extra["dote"]["liens"] = {
            key: found.url
            for key, path in (
                ("donnees_personnelles", "donnees-personnelles/index.md"),
                ("accessibilite", "accessibilite/index.md"),
            )
            if (found := files.get_file_from_path(path)) is not None
        }
        added = {
            site.STYLESHEET: (ASSETS / "dote.css").read_bytes(),
            site.DASHBOARD_STYLESHEET: (ASSETS / "tableau-de-bord.css").read_bytes(),
            explorer.SCRIPT_PATH: (ASSETS / "explorer.js").read_bytes(),
            explorer.STYLESHEET_PATH: (ASSETS / "explorer.css").read_bytes(),
            site.SEARCH_SCRIPT: search.page_script("recherche-nationale.js"),
            site.EXPLORER_DATA: explorer.json_bytes(site.explorer_data(self.national)),
        }
        # The footer links to the registers' format: the same schemas as the Maisons publish.
        added.update({f"schemas/{name}": text.encode("utf-8") for name, text in published_schemas().items()})
        for path, content in added.items():
            files.append(File.generated(config, path, content=content))
        return files

    def on_page_markdown(
        self, markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        generated = self._pages.get(page.file.src_uri)
        if generated is None:
            return markdown
        page.meta["title"] = html_text(generated.title)
        return ""

    def on_page_content(self, html: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        generated = self._pages.get(page.file.src_uri)
        return generated.render(page.url) if generated is not None else html

    def on_post_page(self, output: str, /, *, page: Page, config: MkDocsConfig) -> str | None:
        # The theme's inline scripts are allowed, not the content's (see dote.csp).
        theme = csp.without_content(output, page.content)
        if theme is None:
            raise PluginError(
                f"dote : le contenu de la page {page.file.src_uri} a été modifié avant le plugin de la vue "
                "nationale : placez-le en premier dans la liste « plugins » de mkdocs.yml"
            )
        return csp.with_policy(output, theme)

    def on_post_template(
        self, output_content: str, /, *, template_name: str, config: MkDocsConfig
    ) -> str | None:
        return csp.with_policy(output_content) if template_name.endswith(".html") else output_content

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Index the harvest's search documents with Pagefind, into the built site."""
        assert self.national is not None
        started = time.perf_counter()
        documents = site.search_documents(self.national)
        try:
            site.index_search(Path(config.site_dir), documents, self._shards)
        except (OSError, RuntimeError, subprocess.SubprocessError) as err:
            raise PluginError(
                f"dote-national : l'indexation de la recherche (Pagefind) a échoué :\n{err}"
            ) from err
        site.log.info(
            f"dote-national : recherche : {len(documents)} documents indexés en {time.perf_counter() - started:.1f} s"
        )

    def on_build_error(self, *, error: Exception) -> None:
        self.failure = self.failure or str(error)
