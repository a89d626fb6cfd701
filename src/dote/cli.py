"""The ``dote`` command: validate, build, serve, init, demo.

Messages are French: editors read them. Problems come from the pipeline as values; this
edge prints them and turns them into exit codes (0 valid, 1 problems, 2 usage error).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dote import __version__, pipeline
from dote.confidential import OVERLAY_ENV
from dote.files import NEW_FOLDER_MODE, system_refusal
from dote.problems import format_problems, invalid_summary, relative_name, report_invalid
from dote.watch import Watch, load_watch

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

_ARGPARSE_FR = (
    (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
    (r"unrecognized arguments: (.*)", r"arguments non reconnus : \1"),
    (r"argument (.*): invalid int value: (.*)", r"argument \1 : nombre entier attendu, pas \2"),
    (
        r"argument (.*): invalid choice: (.*) \(choose from (.*)\)",
        r"argument \1 : choix \2 invalide (possibles : \3)",
    ),
    (r"argument (.*): expected one argument", r"argument \1 : une valeur est attendue"),
    (r"invalid choice: (.*) \(choose from (.*)\)", r"choix \1 invalide (possibles : \2)"),
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
        return super().add_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", help="affiche cette aide et quitte")

    def error(self, message: str) -> NoReturn:
        for pattern, french in _ARGPARSE_FR:
            message = re.sub(pattern, french, message)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur : {message}\n")


def _root(value: str) -> Path:
    return Path(value).expanduser()


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "root",
        nargs="?",
        default=".",
        type=_root,
        metavar="RACINE",
        help="dossier du territoire (par défaut : le dossier courant)",
    )


def _add_overlay(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--overlay", type=_root, metavar="DOSSIER", help=help)


def _add_format_and_date(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (par défaut) ou json")
    p.add_argument("--date", metavar="AAAA-MM-JJ", help="date de référence (par défaut : aujourd'hui)")


def _add_report_output(p: argparse.ArgumentParser) -> None:
    """``-o FICHIER``: a confidential report (.docx or .odt), written outside the public repository."""
    p.add_argument(
        "-o",
        "--output",
        type=_root,
        metavar="FICHIER",
        help="rapport à écrire (.docx ou .odt), hors du dépôt public",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dote",
        description="Maison DOTE : registres RGPD d'un territoire, validés et publiés en site web.",
    )
    parser.add_argument(
        "--version", action="version", version=f"dote {__version__}", help="affiche la version et quitte"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "validate",
        help="vérifie les registres d'un territoire",
        description="Vérifie la syntaxe, le format, les codes et les références des registres.",
    )
    _add_root(p)
    p.add_argument(
        "--format",
        choices=["text", "github", "json"],
        default="text",
        help="text (par défaut), github (annotations de pull request) ou json",
    )
    _add_overlay(p, "vérifie aussi ce dépôt confidentiel (champs non publics)")

    p = sub.add_parser(
        "build",
        help="valide puis construit le site",
        description="Valide les registres puis construit le site (mkdocs build --strict). "
        "En cas d'erreur, le site précédent reste intact.",
    )
    _add_root(p)
    p.add_argument(
        "--site-dir",
        type=_root,
        metavar="DOSSIER",
        help="dossier de sortie (par défaut : site/ dans le territoire)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="affiche le détail de la construction")
    p.add_argument(
        "--internal",
        action="store_true",
        help="construit la version interne, avec les champs du dépôt confidentiel "
        "(par défaut dans site-interne/ ; jamais dans le dossier du site public)",
    )
    _add_overlay(
        p,
        "dépôt confidentiel à fusionner (par défaut : $DOTE_CONFIDENTIEL, ou l'option overlay du plugin dote)",
    )

    p = sub.add_parser("serve", help="prévisualise le site en local, mis à jour à chaque modification")
    _add_root(p)
    p.add_argument(
        "-a",
        "--dev-addr",
        default="127.0.0.1:8000",
        metavar="IP:PORT",
        help="adresse d'écoute (par défaut : 127.0.0.1:8000)",
    )

    p = sub.add_parser(
        "export",
        help="exporte le registre complet d'un membre pour l'autorité de contrôle (usage interne)",
        description="Écrit le registre des activités de traitement d'un membre tel que la CNIL peut le "
        "demander (RGPD, art. 30(4)) : toutes les rubriques de l'article 30, mesures de sécurité comprises, "
        "lues dans le dépôt confidentiel. Ce fichier est confidentiel : il s'écrit hors du dépôt public.",
    )
    _add_root(p)
    p.add_argument("--member", required=True, metavar="ID", help="identifiant du membre")
    _add_overlay(p, "dépôt confidentiel (par défaut : $DOTE_CONFIDENTIEL)")
    p.add_argument(
        "--format",
        choices=["csv", "json", "ods", "xlsx", "odt", "docx"],
        default="csv",
        help="csv (par défaut) ou json ; ods ou xlsx (classeur au modèle de la CNIL : organisation, "
        "liste des activités, une fiche par activité) ; odt ou docx (document à remettre)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=_root,
        metavar="FICHIER",
        help="fichier à écrire (par défaut : la sortie standard, pour csv et json seulement)",
    )

    p = sub.add_parser(
        "import",
        help="importe le registre d'un membre tenu dans un tableur (CSV, XLSX, ODS)",
        description="Lit un registre tenu dans un tableur (le modèle de la CNIL, ou le classeur de "
        "« dote export ») et écrit une activité YAML par ligne ou par fiche, au statut « brouillon », dans "
        "le dossier du membre. Ce qui ne correspond à aucun code est signalé par feuille, ligne et colonne ; "
        "rien n'est inventé. Les mesures de sécurité ne sont jamais écrites dans registers/.",
    )
    p.add_argument("file", type=_root, metavar="FICHIER", help="le tableur à importer (.csv, .xlsx, .ods)")
    p.add_argument(
        "--member", required=True, metavar="ID", help="identifiant du membre (son dossier doit exister)"
    )
    _add_root(p)
    p.add_argument("--force", action="store_true", help="remplace les fichiers d'activité qui existent déjà")
    p.add_argument("--dry-run", action="store_true", help="affiche ce qui serait écrit, sans rien écrire")

    p = sub.add_parser("models", help="modèles de traitements : écarts de version, nouvelle version")
    models = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    models.required = True
    q = models.add_parser(
        "drift",
        help="liste les activités restées sur une version antérieure de leur modèle",
        description="Pour chaque modèle : les activités épinglées à une version antérieure et ce qui a changé depuis.",
    )
    _add_root(q)
    q = models.add_parser(
        "bump",
        help="archive la version actuelle d'un modèle et passe à la suivante",
        description="Copie registers/models/ID.yml dans registers/models/versions/ID@N.yml, puis passe le "
        "modèle à la version N+1. Modifiez ensuite le modèle et décrivez le changement dans « journal ».",
    )
    q.add_argument("model", metavar="ID", help="identifiant du modèle (nom du fichier sans .yml)")
    _add_root(q)
    q = models.add_parser(
        "update",
        help="met la bibliothèque de modèles du territoire au niveau de celle de Maison DOTE",
        description="Ajoute les nouveaux modèles de la bibliothèque de Maison DOTE et passe les autres à leur "
        "dernière version (la version actuelle est archivée dans registers/models/versions/, comme le fait "
        "« models bump »), avec le journal des changements et les activités restées sur une version "
        "antérieure. Un modèle modifié dans le territoire n'est jamais remplacé : il est signalé.",
    )
    _add_root(q)
    q.add_argument("--dry-run", action="store_true", help="affiche ce qui changerait, sans rien écrire")

    p = sub.add_parser("new", help="crée une fiche à compléter : membre, activité ou sous-traitant")
    kinds = p.add_subparsers(dest="new_command", metavar="TYPE", parser_class=_Parser)
    kinds.required = True
    q = kinds.add_parser(
        "member",
        help="crée registers/members/ID/member.yml",
        description="Écrit la fiche d'un nouveau membre : chaque rubrique du format, expliquée en commentaire.",
    )
    q.add_argument("id", metavar="ID", help="identifiant du membre (nom de son dossier)")
    _add_root(q)
    q.add_argument("--force", action="store_true", help="remplace la fiche si elle existe déjà")
    q = kinds.add_parser(
        "activity",
        help="crée registers/members/MEMBRE/ID.yml",
        description="Écrit la fiche d'une nouvelle activité de traitement, au statut « brouillon » : chaque "
        "rubrique du format, expliquée en commentaire. Avec --from, l'activité reprend un modèle et "
        "n'écrit que ce qu'un membre ajoute.",
    )
    q.add_argument("member", metavar="MEMBRE", help="identifiant du membre (son dossier doit exister)")
    q.add_argument("id", metavar="ID", help="identifiant de l'activité (nom du fichier sans .yml)")
    _add_root(q)
    q.add_argument("--from", dest="model", metavar="MODELE", help="modèle de registers/models/ à reprendre")
    q.add_argument("--force", action="store_true", help="remplace la fiche si elle existe déjà")
    q = kinds.add_parser(
        "processor",
        help="crée registers/processors/ID.yml",
        description="Écrit la fiche d'un nouveau sous-traitant : chaque rubrique du format, expliquée en "
        "commentaire.",
    )
    q.add_argument("id", metavar="ID", help="identifiant du sous-traitant (nom du fichier sans .yml)")
    _add_root(q)
    q.add_argument("--force", action="store_true", help="remplace la fiche si elle existe déjà")

    p = sub.add_parser(
        "diff",
        help="ce qu'un changement fait aux registres publics, entre deux révisions git (Markdown)",
        description="Compare les registres publics du territoire entre deux révisions git, comme le site les "
        "montre : activités ajoutées, supprimées ou modifiées (champ par champ, ancienne → nouvelle valeur), "
        "membres, sous-traitants, niveaux de label, dépistages d'AIPD, versions des modèles. Sans CIBLE, "
        "compare avec l'arbre de travail, comme « git diff BASE » (les fichiers du dossier tels qu'ils sont). "
        "Le dépôt confidentiel n'est jamais lu. « dote diff BASE RACINE » compare aussi avec l'arbre de "
        "travail quand RACINE est le dossier d'un territoire.",
    )
    p.add_argument(
        "base", metavar="BASE", help="révision de départ (branche, étiquette ou commit : main, HEAD~1…)"
    )
    p.add_argument(
        "head",
        nargs="?",
        default=None,
        metavar="CIBLE",
        help="révision d'arrivée (par défaut : l'arbre de travail)",
    )
    _add_root(p)
    p.add_argument(
        "--format",
        choices=["markdown", "json"],
        default="markdown",
        help="markdown (par défaut, pour un commentaire de pull request) ou json",
    )
    p.add_argument(
        "--date", metavar="AAAA-MM-JJ", help="date de référence des deux côtés (par défaut : aujourd'hui)"
    )

    p = sub.add_parser("init", help="crée un nouveau territoire prêt à construire")
    p.add_argument("directory", type=_root, metavar="DOSSIER", help="dossier à créer (vide ou inexistant)")
    p.add_argument("--nom", default=None, help="nom de la Maison (par défaut : déduit du dossier)")
    p.add_argument("--territoire", default=None, help="nom du territoire couvert")

    p = sub.add_parser("demo", help="crée un territoire synthétique de la taille voulue (mesures)")
    p.add_argument("directory", type=_root, metavar="DOSSIER", help="dossier à créer (vide ou inexistant)")
    p.add_argument("--members", type=int, default=50, metavar="N", help="nombre de membres (par défaut : 50)")
    p.add_argument(
        "--activities", type=int, default=10, metavar="M", help="activités par membre (par défaut : 10)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="graine du tirage (par défaut : 0)")

    p = sub.add_parser(
        "national",
        help="vue nationale : moissonne les Maisons DOTE et construit le site national",
        description="Lit la liste des Maisons DOTE (fichier CONFIG), moissonne le catalogue et les données "
        "ouvertes publiés par chacune (requêtes conditionnelles ; une Maison injoignable n'arrête pas les "
        "autres), les vérifie, les garde dans le dossier de moisson, puis construit le site national.",
    )
    p.add_argument("config", type=Path, metavar="CONFIG", help="le fichier de configuration (national.yml)")
    p.add_argument(
        "--site-dir",
        type=Path,
        default=None,
        metavar="DOSSIER",
        help="dossier du site national (par défaut : site-national/ à côté de CONFIG)",
    )
    p.add_argument(
        "--hors-ligne",
        action="store_true",
        help="ne moissonne pas : reconstruit le site à partir de la dernière moisson gardée",
    )
    p.add_argument(
        "--delai",
        "--timeout",
        dest="delai",
        type=float,
        default=None,
        metavar="SECONDES",
        help="délai par requête (par défaut : celui de CONFIG, sinon 20 s)",
    )

    p = sub.add_parser(
        "label",
        help="calcule le label de chaque membre et les critères non remplis",
        description="Évalue les registres selon registers/label.yml : niveau de chaque membre et, "
        "pour chaque critère non rempli, le fichier et la ligne concernés.",
    )
    _add_root(p)
    p.add_argument("--member", metavar="ID", help="n'évalue que ce membre (son identifiant)")
    _add_format_and_date(p)
    _add_overlay(p, "évalue le registre complet, avec ce dépôt confidentiel (usage interne)")

    p = sub.add_parser(
        "aipd",
        help="dépistage des analyses d'impact (AIPD) de chaque activité, avec ses raisons",
        description="Pour chaque activité : le verdict du dépistage (requise, à évaluer, non requise, "
        "dispensée) réuni avec l'état déclaré, chaque critère du CEPD et type de la liste de la CNIL "
        "(délibération n° 2018-327) avec son origine (déclaré ou déduit des faits, et de quel champ), "
        "la dispense (délibération n° 2019-118) et les raisons. Les seuils viennent de registers/label.yml.",
    )
    _add_root(p)
    p.add_argument("--member", metavar="ID", help="n'examine que ce membre (son identifiant)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (par défaut) ou json")
    _add_overlay(p, "examine le registre complet, avec ce dépôt confidentiel (usage interne)")

    p = sub.add_parser(
        "review",
        help="liste les fiches dont la revue est en retard ou approche",
        description="Pour chaque membre, les fiches d'activité en retard de revue, celles qui n'ont jamais été "
        "revues (aucune date de revue) et celles à revoir dans les JOURS prochains jours, les plus urgentes "
        "d'abord. L'échéance est celle du critère de revue du label (registers/label.yml, règle "
        "« revue-recente ») : la dernière revue plus son nombre de mois. Code de sortie : 0 si aucune fiche "
        "n'est en retard ni jamais revue, 1 sinon, 2 si les registres ne sont pas valides.",
    )
    _add_root(p)
    p.add_argument(
        "--within",
        type=int,
        default=60,  # dote.review.DEFAULT_WITHIN (not imported here: it loads the page templates)
        metavar="JOURS",
        help="signale aussi les échéances des JOURS prochains jours (par défaut : 60)",
    )
    _add_format_and_date(p)

    # --- audit and action plan (issue 16): dote.audit ---
    p = sub.add_parser(
        "audit",
        help="audit d'un membre : score par domaine, actions proposées, rapport DOCX ou ODT (usage interne)",
        description="Lit les réponses du membre au questionnaire d'audit (registers/audit.yml, public) dans le "
        "dépôt confidentiel (registers/members/ID/audit.yml) : score de chaque domaine et score global (les "
        "réponses « sans-objet » ne comptent pas), et une action proposée pour chaque écart (non, partiel), de "
        "priorité donnée par le poids de la question. Avec -o, écrit le rapport d'audit (.docx ou .odt), "
        "confidentiel : jamais dans le dépôt public.",
    )
    _add_root(p)
    p.add_argument("--member", required=True, metavar="ID", help="identifiant du membre")
    _add_overlay(p, f"dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    _add_report_output(p)
    _add_format_and_date(p)

    p = sub.add_parser(
        "actions",
        help="plans d'actions des membres, actions en retard (usage interne)",
        description="Liste les actions des plans d'actions (registers/members/ID/actions.yml du dépôt "
        "confidentiel). Une action est en retard quand elle n'est ni faite ni abandonnée et que son échéance "
        "est passée (le jour de l'échéance, elle ne l'est pas encore). Code de sortie avec --overdue : 0 si "
        "aucune action n'est en retard, 1 sinon, 2 si les registres ne sont pas valides.",
    )
    _add_root(p)
    _add_overlay(p, f"dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    p.add_argument("--member", metavar="ID", help="seulement ce membre (son identifiant)")
    p.add_argument("--overdue", action="store_true", help="seulement les actions en retard")
    _add_format_and_date(p)
    # --- end of audit and action plan ---

    p = sub.add_parser(
        "rapport",
        help="rapport annuel du DPO pour un membre : texte, JSON, DOCX ou ODT (usage interne)",
        description="Calcule le rapport annuel du délégué à la protection des données pour un membre : "
        "activités créées et mises à jour dans l'année, AIPD requises et leur état, niveau de label, score "
        "du dernier audit, actions faites dans l'année et en retard à la fin de l'année, demandes "
        "d'exercice des droits et violations de données de l'année. Avec -o, écrit le rapport (.docx ou "
        ".odt), confidentiel : jamais dans le dépôt public.",
    )
    _add_root(p)
    _add_overlay(p, f"dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    p.add_argument("--member", required=True, metavar="ID", help="identifiant du membre")
    p.add_argument(
        "--annee",
        type=int,
        metavar="AAAA",
        help="année du rapport (par défaut : celle de la date de référence)",
    )
    _add_report_output(p)
    _add_format_and_date(p)

    p = sub.add_parser(
        "demandes",
        help="registre des demandes d'exercice des droits : échéances, retards (usage interne)",
        description="Lit le registre des demandes d'exercice des droits de chaque membre dans le dépôt "
        "confidentiel (registers/members/ID/demandes.yml) et liste les demandes en retard, celles dont "
        "l'échéance approche et les autres. Échéance : un mois après la réception, trois en cas de "
        "prolongation annoncée avec ses motifs dans le premier mois (RGPD, art. 12(3)), reportée au jour "
        "ouvrable suivant un samedi, un dimanche ou un jour férié (règlement 1182/71, art. 3(4)). Code de "
        "sortie : 1 si une demande sans réponse est en retard, 2 si les registres ne sont pas valides.",
    )
    _add_root(p)
    _add_overlay(p, f"le dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    p.add_argument("--member", metavar="ID", help="ne liste que ce membre (son identifiant)")
    _add_format_and_date(p)
    p.add_argument(
        "--statistiques",
        action="store_true",
        help="affiche les totaux par année à recopier dans le member.yml public (publication au choix du membre)",
    )
    p = sub.add_parser(
        "violations",
        help="registre des violations de données : échéance des 72 heures, projet de notification (usage interne)",
        description="Lit le registre des violations de données de chaque membre dans le dépôt confidentiel "
        "(registers/members/ID/violations.yml, RGPD, art. 33(5)) et montre pour chacune l'échéance de la "
        "notification à la CNIL, 72 heures après la prise de connaissance (art. 33(1)). Avec --brouillon, "
        "écrit un projet de notification prérempli (DOCX ou ODT), hors du dépôt public. Code de sortie : 1 "
        "si une violation à notifier a dépassé les 72 heures sans l'être, 2 si les registres ne sont pas valides.",
    )
    _add_root(p)
    _add_overlay(p, f"le dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    p.add_argument("--member", metavar="ID", help="ne liste que ce membre (son identifiant)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text (par défaut) ou json")
    p.add_argument("--date", metavar="AAAA-MM-JJ", help="date de référence (par défaut : maintenant)")
    p.add_argument(
        "--brouillon", metavar="VIOLATION", help="écrit le projet de notification de cette violation"
    )
    p.add_argument("-o", "--output", type=_root, metavar="FICHIER", help="le projet à écrire (.docx ou .odt)")

    p = sub.add_parser("overlay", help="dépôt confidentiel : y déplacer ce qui ne doit pas être public")
    actions = p.add_subparsers(dest="overlay_command", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    q = actions.add_parser(
        "move",
        help="déplace dans le dépôt confidentiel les champs qui ne doivent pas être dans registers/",
        description="Déplace, tels qu'ils sont écrits, les champs non publics et les champs qu'un membre "
        "ne publie pas (champs_publies) depuis registers/ vers le fichier de même chemin du dépôt "
        "confidentiel. L'historique git du dépôt public les garde : voyez le guide.",
    )
    _add_root(q)
    _add_overlay(q, f"le dépôt confidentiel (par défaut : ${OVERLAY_ENV})")
    q.add_argument("--dry-run", action="store_true", help="affiche ce qui serait déplacé, sans rien écrire")

    p = sub.add_parser("watch", help="veille juridique et technique : récupérer les flux, éléments à trier")
    actions = p.add_subparsers(dest="watch_command", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    q = actions.add_parser(
        "fetch",
        help="récupère les flux des sources de watch/sources.yml",
        description="Récupère chaque flux de watch/sources.yml (requêtes conditionnelles, redirections "
        "suivies) et écrit un fichier par nouvel élément dans watch/elements/SOURCE/, à trier. Une source "
        "en échec n'arrête pas les autres ; le code de retour vaut 1 si au moins une source a échoué.",
    )
    _add_root(q)
    q.add_argument("--timeout", type=float, default=20.0, metavar="SECONDES", help="délai par requête (20 s)")
    q.add_argument(
        "--parallele", type=int, default=4, metavar="N", help="sources récupérées en même temps (4)"
    )
    q = actions.add_parser(
        "inbox",
        help="liste les éléments de veille à trier, du plus récent au plus ancien",
        description="Liste les éléments au statut « a-trier », du plus récent au plus ancien, avec leur fichier.",
    )
    _add_root(q)
    q.add_argument("--format", choices=["text", "json"], default="text", help="text (par défaut) ou json")
    return parser


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that temporary folders are cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("\ndote : interrompu", file=sys.stderr)
        return 130
    except _Terminated:
        print("\ndote : arrêté (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # `dote models drift | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as err:
        # A full disk, a folder that cannot be made, no right to write, a port already taken:
        # what and where, in French, for every command.
        print(f"dote : erreur : {system_refusal(err)}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return _validate(args.root, args.format, args.overlay)
    if args.command == "label":
        return _label(args.root, args.member, args.format, args.date, args.overlay)
    if args.command == "aipd":
        return _aipd(args.root, args.member, args.format, args.overlay)
    if args.command == "review":
        return _review(args.root, args.within, args.format, args.date)
    if args.command == "build":
        return _build(
            args.root, args.site_dir, verbose=args.verbose, internal=args.internal, overlay=args.overlay
        )
    if args.command == "serve":
        return _serve(args.root, args.dev_addr)
    if args.command == "export":
        return _export(args.root, args.member, args.overlay, args.format, args.output)
    if args.command == "import":
        return _import(args.file, args.member, args.root, force=args.force, dry_run=args.dry_run)
    if args.command == "models" and args.models_command == "drift":
        return _drift(args.root)
    if args.command == "models" and args.models_command == "update":
        return _models_update(args.root, dry_run=args.dry_run)
    if args.command == "new":
        return _new(args)
    if args.command == "models" and args.models_command == "bump":
        return _bump(args.root, args.model)
    if args.command == "audit":
        from dote.audit import command_audit

        return command_audit(args.root, args.overlay, args.member, args.output, args.format, args.date)
    if args.command == "actions":
        from dote.audit import command_actions

        return command_actions(args.root, args.overlay, args.member, args.overdue, args.format, args.date)
    if args.command == "rapport":
        from dote.annual_report import command as annual_report

        return annual_report(args)
    if args.command in ("demandes", "violations"):
        from dote.dpo_registers import command

        return command(args)
    if args.command == "overlay":
        return _overlay_move(args.root, args.overlay, dry_run=args.dry_run)
    if args.command == "watch" and args.watch_command == "fetch":
        return _watch_fetch(args.root, timeout=args.timeout, concurrency=args.parallele)
    if args.command == "watch" and args.watch_command == "inbox":
        return _watch_inbox(args.root, args.format)
    if args.command == "national":
        return _national(args.config, args.site_dir, offline=args.hors_ligne, timeout=args.delai)
    if args.command == "diff":
        return _diff(args.base, args.head, args.root, args.format, args.date)
    if args.command == "init":
        from dote.scaffold import init_territory

        return _scaffold(
            lambda: init_territory(args.directory, name=args.nom, territory=args.territoire, library=True),
            args.directory,
        )
    if args.command == "demo":
        from dote.scaffold import demo_territory

        if args.members < 1 or args.activities < 0:
            print(
                "dote : erreur : il faut au moins un membre et un nombre d'activités positif",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return _scaffold(
            lambda: demo_territory(
                args.directory, members=args.members, activities=args.activities, seed=args.seed
            ),
            args.directory,
        )
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _export(root: Path, member_id: str, overlay: Path | None, fmt: str, output: Path | None) -> int:
    from dote.confidential import OVERLAY_ENV, overlay_location
    from dote.export import ExportError, export_bytes
    from dote.files import write_atomic_bytes

    root = root.resolve()
    if output is None and fmt not in ("csv", "json"):
        print(
            f"dote : erreur : un fichier {fmt.upper()} s'écrit dans un fichier : indiquez -o FICHIER",
            file=sys.stderr,
        )
        return EXIT_USAGE
    location = overlay_location(overlay, None, root)
    if location is None or not location.is_dir():
        print(
            "dote : erreur : le registre pour l'autorité comprend les mesures de sécurité : indiquez le dépôt "
            f"confidentiel (--overlay DOSSIER ou la variable {OVERLAY_ENV})"
            + (f" ; {location} est introuvable" if location is not None else ""),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if output is not None and output.resolve().is_relative_to(root):
        print(
            f"dote : erreur : {output} est dans le dépôt public ; cet export est confidentiel : "
            "écrivez-le ailleurs (par exemple dans le dépôt confidentiel)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    result = pipeline.run(root, overlay=location)
    if result.errors or result.territory is None:
        print(format_problems(result.errors, "text"))
        return EXIT_PROBLEMS
    members = result.territory.members_by_id
    if member_id not in members:
        print(
            f"dote : erreur : membre « {member_id} » inconnu (membres : {', '.join(sorted(members))})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    member = members[member_id]
    try:
        data = export_bytes(result.territory, member, fmt)
    except ExportError as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        write_atomic_bytes(output, data)
        print(
            f"Registre de {member.name} ({len(member.activities)} activités) écrit dans {output}",
            file=sys.stderr,
        )
    return EXIT_OK


def _import(path: Path, member_id: str, root: Path, *, force: bool, dry_run: bool) -> int:
    from dote.importer import UnreadableSpreadsheet, import_register

    try:
        report = import_register(path, member_id, root.resolve(), force=force, dry_run=dry_run)
    except UnreadableSpreadsheet as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(report.text())
    return EXIT_PROBLEMS if report.error else EXIT_OK


def _overlay_move(root: Path, overlay: Path | None, *, dry_run: bool) -> int:
    from dote.confidential import overlay_location, private_location_refusal
    from dote.overlay_move import apply, plan

    root = root.resolve()
    location = overlay_location(overlay, None, root)
    if location is None:
        print(
            f"dote : erreur : indiquez le dépôt confidentiel (--overlay DOSSIER ou la variable {OVERLAY_ENV})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    refusal = private_location_refusal(location, root, "le dépôt confidentiel")
    if refusal:
        print(f"dote : erreur : {refusal}", file=sys.stderr)
        return EXIT_USAGE
    if not (root / "registers").is_dir():
        print(f"dote : erreur : {root} n'est pas un territoire (pas de dossier registers/)", file=sys.stderr)
        return EXIT_USAGE
    moves = plan(root, location.resolve())
    refused = 0
    for move in moves:
        name = relative_name(move.public, root)
        fields = ", ".join(move.keys)
        problem = apply(move, root, dry_run=dry_run)
        if problem:
            refused += 1
            print(f"{name} : non déplacé ({fields}) : {problem}")
        else:
            if move.whole:
                verb = "serait déplacé" if dry_run else "déplacé"
                print(f"{name} : fichier entier {verb} vers {move.overlay}")
                continue
            many = len(move.keys) > 1
            verb = ("seraient déplacés" if many else "serait déplacé") if dry_run else "déplacé" + "s" * many
            print(f"{name} : {fields} {verb} vers {move.overlay}")
    if not moves:
        print("Rien à déplacer : registers/ ne contient aucun champ non public ni non publié.")
    elif not dry_run and len(moves) > refused:
        print(
            "L'historique git du dépôt public garde les anciennes versions de ces fichiers : si elles ont "
            "été poussées, réécrivez l'historique et considérez ces données comme divulguées "
            "(voir le guide : « Modèle de menace et rôles »)."
        )
    return EXIT_PROBLEMS if refused else EXIT_OK


def _load_watch(root: Path) -> tuple[Watch, int]:
    watch, problems = load_watch(root.resolve())
    if problems:
        print(format_problems(problems, "text"), file=sys.stderr)
    if any(p.is_error for p in problems):
        print("dote : corrigez d'abord les fichiers de la veille ci-dessus", file=sys.stderr)
        return watch, EXIT_PROBLEMS
    return watch, EXIT_OK


def _watch_fetch(root: Path, *, timeout: float, concurrency: int) -> int:
    import datetime as dt

    from dote.watch_fetch import fetch_watch

    if timeout <= 0 or concurrency < 1:
        print("dote : --timeout doit être positif et --parallele au moins 1", file=sys.stderr)
        return EXIT_USAGE
    root = root.resolve()
    watch, code = _load_watch(root)
    if code:
        return code
    if not watch.sources:
        print("dote : aucune source de veille (watch/sources.yml absent ou vide)", file=sys.stderr)
        return EXIT_PROBLEMS
    reports = fetch_watch(
        root, watch.sources, today=dt.date.today(), timeout=timeout, concurrency=concurrency
    )
    for report in reports:
        print(report.line())
    failed = [r for r in reports if r.failed]
    if failed:
        print(f"dote : {len(failed)} source(s) en échec sur {len(reports)}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _national(config_path: Path, site_dir: Path | None, *, offline: bool, timeout: float | None) -> int:
    """``dote national``: load the configuration, harvest (or read the kept harvest), build the site."""
    from dote.national import config as national_config
    from dote.national import harvest as national_harvest

    if timeout is not None and not 0 < timeout <= 3600:
        print("dote : --delai doit être un nombre de secondes entre 0 et 3600", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = national_config.load(config_path)
    except national_config.ConfigError as error:
        print(format_problems(error.problems, "text"))
        count = len(error.problems)
        print(
            f"dote : {count} erreur{'s' if count > 1 else ''} : la configuration nationale n'est pas valide",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    result = national_harvest.read(config) if offline else national_harvest.run(config, timeout=timeout)
    for maison in result.maisons:
        print(national_harvest.summary(maison))
    for maison in result.maisons:
        for issue in maison.issues:
            if maison.status == "refuse" and issue.message == maison.reason:
                continue  # already said on its summary line
            where = ", ".join(
                part
                for part in (
                    f"membre {issue.member}" if issue.member else "",
                    f"activité {issue.activity}" if issue.activity else "",
                )
                if part
            )
            print(
                f"{maison.source.id} : {issue.severity} : {issue.message}" + (f" ({where})" if where else "")
            )
    usable = sum(1 for m in result.maisons if m.usable)
    missing = len(result.maisons) - usable
    if missing:
        print(
            f"dote : avertissement : {missing} Maison{'s' if missing > 1 else ''} sur {len(result.maisons)} "
            "sans données reprises (injoignable ou refusée)",
            file=sys.stderr,
        )
    target = site_dir if site_dir is not None else config.path.parent / "site-national"
    if not config.publisher:
        print(
            "dote : avertissement : les pages légales du site national ne nomment ni éditeur ni contact : "
            "ajoutez à la configuration « editeur: {nom: …, contact: …} »",
            file=sys.stderr,
        )
    from dote.national import site as national_site

    try:
        national_site.build(config, result, target.absolute())
    except national_site.NationalBuildError as error:
        print(f"dote : erreur : {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"Site national construit dans {target}")
    return EXIT_OK


def _watch_inbox(root: Path, fmt: str) -> int:
    watch, code = _load_watch(root)
    if code:
        return code
    waiting = watch.to_review()
    if fmt == "json":
        print(
            json.dumps(
                [
                    {
                        "fichier": i.file,
                        "source": i.source,
                        "date": i.date.isoformat(),
                        "titre": i.titre,
                        "lien": i.lien,
                    }
                    for i in waiting
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    if not waiting:
        print("Aucun élément de veille à trier.")
        return EXIT_OK
    print(f"{len(waiting)} élément(s) de veille à trier, du plus récent au plus ancien :")
    for item in waiting:
        source = watch.sources[item.source].nom if item.source in watch.sources else item.source
        print(f"- {item.date.isoformat()} · {source} · {item.titre}\n  {item.file}")
    return EXIT_OK


def _diff(base: str, head: str | None, root: Path, fmt: str, date: str | None) -> int:
    import datetime as dt

    from dote import diff

    try:
        today = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        print(f"dote : erreur : date « {date} » invalide (format AAAA-MM-JJ)", file=sys.stderr)
        return EXIT_USAGE
    if head is not None and root == Path(".") and (_root(head) / "registers").is_dir():
        root, head = _root(head), None  # « dote diff BASE RACINE »: no revision is a territory folder
    try:
        changes = diff.compare_revisions(root, base, head, today)
    except diff.DiffError as err:
        if err.problems:
            print(format_problems(err.problems, "text"), file=sys.stderr)
        print(f"dote : erreur : {err.message}", file=sys.stderr)
        return EXIT_USAGE
    if fmt == "json":
        print(json.dumps(diff.as_json(changes), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(diff.markdown(changes))
    return EXIT_OK


def _drift(root: Path) -> int:
    result = pipeline.run(root)
    if result.errors or result.territory is None:
        print(format_problems(result.errors, "text"))
        print(
            "Corrigez d'abord ces erreurs : les écarts se calculent sur un territoire valide.",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    territory = result.territory
    if not territory.models:
        print("Aucun modèle dans registers/models/.")
        return EXIT_OK
    for model in sorted(territory.models.values(), key=lambda m: m.id):
        users = territory.users_of_model(model.id)
        drifts = [d for d in territory.drift if d.model_id == model.id]
        print(
            f"Modèle « {model.id} » : version {model.version}, {len(users)} activité(s), "
            f"{len(drifts)} sur une version antérieure"
        )
        for d in drifts:
            line = (
                f"  {d.position.file}:{d.position.line}:{d.position.column}: reste sur la version "
                f"{d.pinned} ; champs changés depuis : {', '.join(d.changed_fields) or 'aucun'}"
            )
            print(line)
            for entry in d.journal:
                print(f"    version {entry.version} : {entry.summary}")
    return EXIT_OK


def _bump(root: Path, model_id: str) -> int:
    from dote.layout import VERSIONS_DIR
    from dote.load import load_file

    path = root / "registers" / "models" / f"{model_id}.yml"
    if not path.is_file():
        print(f"dote : erreur : modèle « {model_id} » introuvable ({path})", file=sys.stderr)
        return EXIT_USAGE
    doc, problems = load_file(path, f"registers/models/{model_id}.yml", within=root)
    version = doc.data.get("version") if doc is not None and isinstance(doc.data, dict) else None
    if doc is None or not isinstance(version, int):
        print(
            format_problems(problems, "text") or f"dote : erreur : {path} n'indique pas « version: N »",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"^version:[ \t]*{version}[ \t]*$", re.MULTILINE)
    if len(pattern.findall(text)) != 1:
        print(
            f"dote : erreur : la ligne « version: {version} » de {path} est introuvable ou en double",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    archive = path.parent / VERSIONS_DIR / f"{model_id}@{version}.yml"
    if archive.exists():
        print(f"dote : erreur : la version {version} est déjà archivée ({archive})", file=sys.stderr)
        return EXIT_PROBLEMS
    archive.parent.mkdir(exist_ok=True)
    archive.write_text(text.replace("$schema=../../schemas/", "$schema=../../../schemas/"), encoding="utf-8")
    path.write_text(pattern.sub(f"version: {version + 1}", text), encoding="utf-8")
    print(
        f"Version {version} archivée dans {archive}. Le modèle passe à la version {version + 1} : "
        "modifiez-le, puis décrivez le changement dans « journal ».",
        file=sys.stderr,
    )
    return EXIT_OK


def _models_update(root: Path, *, dry_run: bool) -> int:
    from dote.library import LibraryError, update_models

    if not (root / "registers").is_dir():
        print(
            f"dote : erreur : {root / 'registers'} introuvable : ce dossier n'est pas un territoire",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        report = update_models(root.resolve(), dry_run=dry_run)
    except LibraryError as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(report.text())
    return EXIT_PROBLEMS if report.error else EXIT_OK


def _new(args: argparse.Namespace) -> int:
    from dote.scaffold import ScaffoldError, new_activity, new_member, new_processor

    root = args.root.resolve()
    try:
        if args.new_command == "member":
            path = new_member(root, args.id, force=args.force)
        elif args.new_command == "activity":
            path = new_activity(root, args.member, args.id, model=args.model, force=args.force)
        else:
            path = new_processor(root, args.id, force=args.force)
    except ScaffoldError as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Fiche écrite : {relative_name(path, root)}. Complétez-la (chaque rubrique est expliquée en "
        "commentaire), puis vérifiez-la avec « dote validate ».",
        file=sys.stderr,
    )
    return EXIT_OK


def _label(root: Path, member_id: str | None, fmt: str, date: str | None, overlay: Path | None = None) -> int:
    import datetime as dt
    import json

    from dote.dpia import as_data

    try:
        today = dt.date.fromisoformat(date) if date else None
    except ValueError:
        print(f"dote : erreur : date « {date} » invalide (format AAAA-MM-JJ)", file=sys.stderr)
        return EXIT_USAGE
    result = pipeline.run(root, today=today, overlay=overlay)
    if result.errors:
        report_invalid(result.errors)
        return EXIT_PROBLEMS
    evaluation = result.label
    if evaluation is None:
        print(
            "dote : erreur : registers/label.yml introuvable : ce territoire n'a pas de politique de label",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    members = list(evaluation.members.values())
    if member_id is not None:
        members = [m for m in members if m.member.id == member_id]
        if not members:
            known = ", ".join(evaluation.members)
            print(f"dote : erreur : membre « {member_id} » inconnu (membres : {known})", file=sys.stderr)
            return EXIT_USAGE
    if fmt == "json":
        print(
            json.dumps(
                [
                    {
                        "membre": m.member.id,
                        "nom": m.member.name,
                        "niveau": m.level.id if m.level else None,
                        "niveau_libelle": m.level_title,
                        "niveau_suivant": m.next_level.id if m.next_level else None,
                        "activites": [
                            {
                                "activite": r.activity.id,
                                "nom": r.activity.name,
                                "niveau": r.level.id if r.level else None,
                                "aipd": as_data(r.screening, r.activity),
                            }
                            for r in m.activities.values()
                        ],
                        "criteres_non_remplis": [
                            {
                                "critere": f.criterion.id,
                                "titre": f.criterion.title,
                                "explication": f.criterion.explanation,
                                "details": list(f.details),
                                "activite": f.activity_id or None,
                                "file": f.position.file,
                                "line": f.position.line,
                                "column": f.position.column,
                            }
                            for f in m.failures
                        ],
                        # criteria that need the overlay (dote.audit), when it was not read
                        **({"criteres_non_evalues": [c.id for c in m.unevaluated]} if m.unevaluated else {}),
                    }
                    for m in members
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{evaluation.policy.title}, évaluation au {evaluation.reference_date.isoformat()}")
    for m in members:
        line = f"\n{m.member.name} ({m.member.id}) : {m.level_title}"
        if m.next_level:
            n = len(
                {
                    f.criterion.id
                    for f in m.failures
                    if f.criterion.id in evaluation.policy.required(m.next_level)
                }
            )
            line += (
                f" ; niveau suivant « {m.next_level.title} » : {n} critère{'s' if n > 1 else ''} à remplir"
            )
        print(line)
        for failure in m.failures:
            print(failure.text())
        for criterion in m.unevaluated:
            print(
                f"critère « {criterion.id} » non évalué : il lit le dépôt confidentiel (dote label --overlay DOSSIER)"
            )
    return EXIT_OK


def _aipd(root: Path, member_id: str | None, fmt: str, overlay: Path | None) -> int:
    """Each activity's DPIA screening, with the origin of every criterion and its reasons."""
    import json

    from dote.dpia import as_data, screen

    result = pipeline.run(root, overlay=overlay)
    if result.errors or result.territory is None:
        report_invalid(result.errors)
        return EXIT_PROBLEMS
    territory = result.territory
    members = list(territory.members)
    if member_id is not None:
        members = [m for m in members if m.id == member_id]
        if not members:
            known = ", ".join(m.id for m in territory.members)
            print(f"dote : erreur : membre « {member_id} » inconnu (membres : {known})", file=sys.stderr)
            return EXIT_USAGE
    found = []
    for member in members:
        # The label judges the complete register (fields a member keeps back included).
        evaluated = result.label.members.get(member.id) if result.label else None
        rows = []
        for activity in member.activities:
            if evaluated is not None and activity.id in evaluated.activities:
                screening = evaluated.activities[activity.id].screening
                activity = evaluated.activities[activity.id].activity
            else:
                screening = screen(activity, member, territory.vocabularies, territory.dpia_policy)
            rows.append((activity, screening))
        found.append((member, rows))
    if fmt == "json":
        data = [
            {
                "membre": member.id,
                "nom": member.name,
                "activites": [
                    {"activite": a.id, "nom": a.name, "file": a.position.file, **as_data(s, a)}
                    for a, s in rows
                ],
            }
            for member, rows in found
        ]
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    origins = {
        "declare": "déclaré",
        "deduit": "déduit des faits",
        "declare-et-deduit": "déclaré et déduit des faits",
    }
    for member, rows in found:
        print(f"\n{member.name} ({member.id})")
        for a, s in rows:
            entry = as_data(s, a)
            print(f"  {a.position.file} : {a.name} — {entry['enonce']}")
            for kind, items in (
                ("type de la liste CNIL", entry["types_liste_cnil"]),
                ("critère du CEPD", entry["criteres_cepd"]),
            ):
                for item in items:
                    origin = origins[item["origine"]]
                    facts = f" — {item['deduit_de']}" if item["deduit_de"] else ""
                    aside = f" ; ÉCARTÉ : {item['ecarte']}" if "ecarte" in item else ""
                    print(f"    {kind} n° {item['numero']} « {item['libelle']} » : {origin}{facts}{aside}")
            if entry["dispense"]:
                d = entry["dispense"]
                how = "déduite des faits" if d["origine"] == "deduit" else "déclarée"
                print(f"    dispense : « {d['libelle']} » ({d['reference']}, {how})")
            for reason in entry["raisons"]:
                print(f"    - {reason}")
    return EXIT_OK


def _review(root: Path, within: int, fmt: str, date: str | None) -> int:
    """Records to review; exit 1 when the label's review rule fails one, 2 on invalid registers."""
    import datetime as dt

    from dote.review import as_json, as_text, compute

    try:
        today = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        print(f"dote : erreur : date « {date} » invalide (format AAAA-MM-JJ)", file=sys.stderr)
        return EXIT_USAGE
    if within < 0:
        print("dote : erreur : --within attend un nombre de jours positif ou nul", file=sys.stderr)
        return EXIT_USAGE
    result = pipeline.run(root, today=today, cache=True)
    if not result.ok or result.territory is None:
        print(format_problems(result.problems, fmt))
        if fmt == "text":
            print(invalid_summary(len(result.errors)), file=sys.stderr)
        return EXIT_USAGE  # 2: invalid registers (1 means records to review)
    reviews = compute(result.territory, result.label, today, within)
    print(json.dumps(as_json(reviews), ensure_ascii=False, indent=2) if fmt == "json" else as_text(reviews))
    return EXIT_PROBLEMS if reviews.failing else EXIT_OK


def _validate(root: Path, fmt: str, overlay: Path | None = None) -> int:
    result = pipeline.run(root, overlay=overlay, cache=True)
    output = format_problems(result.problems, fmt)
    if fmt == "json" or output:
        print(output)
    if result.errors:
        if fmt == "text":
            print(invalid_summary(len(result.errors)), file=sys.stderr)
        return EXIT_PROBLEMS
    if fmt == "text":
        territory = result.territory
        assert territory is not None
        print(
            f"Territoire valide : {len(territory.members)} membres, "
            f"{len(territory.activities)} activités, {len(territory.processors)} sous-traitants.",
            file=sys.stderr,
        )
    return EXIT_OK


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the message (not at creation)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _mkdocs_logging(verbose: bool) -> None:
    # "dote" carries the site's notices that must not fail a strict build (see mkdocs_plugin).
    for name in ("mkdocs", "dote"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO if verbose else logging.WARNING)


def _build(
    root: Path,
    site_dir: Path | None,
    *,
    verbose: bool = False,
    internal: bool = False,
    overlay: Path | None = None,
) -> int:
    import jinja2
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException, PluginError

    root = root.resolve()
    config_file = root / "mkdocs.yml"
    if not config_file.is_file():
        print(
            f"dote : erreur : {config_file} introuvable : ce dossier n'est pas un territoire "
            "(créez-en un avec « dote init DOSSIER »)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    target = (site_dir or root / ("site-interne" if internal else "site")).resolve()
    if (
        target == root
        or root.is_relative_to(target)
        or target.is_relative_to(root / "docs")
        or target.is_relative_to(root / "registers")
    ):
        print(
            f"dote : erreur : le dossier de sortie {target} contiendrait ou écraserait les sources",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _mkdocs_logging(verbose)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as err:
        print(f"dote : erreur : {system_refusal(err)}", file=sys.stderr)
        return EXIT_PROBLEMS
    if not internal:
        # mkdtemp makes a private folder: a web server reading the public site as another
        # user would answer 403 for every page. The internal site stays its owner's alone.
        staging.chmod(NEW_FOLDER_MODE)
    try:
        config = load_config(config_file=str(config_file), site_dir=str(staging), strict=True)
        if "dote" not in config.plugins:
            print(
                "dote : erreur : mkdocs.yml ne déclare pas le plugin « dote » (plugins: - dote)",
                file=sys.stderr,
            )
            shutil.rmtree(staging, ignore_errors=True)
            return EXIT_USAGE
        # MkDocs keeps plugin instances from one build to the next in a process: a public
        # build must never inherit the overlay of an earlier internal one.
        plugin: Any = config.plugins["dote"]
        plugin.internal_overlay = None
        # Unchanged member pages are linked from the site this build replaces (public only).
        plugin.previous_site = None if internal else target
        if internal:
            refusal = _prepare_internal(config, config_file, root, target, overlay)
            if refusal:
                print(f"dote : erreur : {refusal}", file=sys.stderr)
                shutil.rmtree(staging, ignore_errors=True)
                return EXIT_USAGE
        build(config)
    except PluginError as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        print("Le site n'a pas été reconstruit ; la version précédente reste en place.", file=sys.stderr)
        shutil.rmtree(staging, ignore_errors=True)
        return EXIT_PROBLEMS
    except (Abort, MkDocsException, jinja2.TemplateError) as err:
        print(f"dote : erreur : la construction a échoué ({err})", file=sys.stderr)
        print("Le site n'a pas été reconstruit ; la version précédente reste en place.", file=sys.stderr)
        shutil.rmtree(staging, ignore_errors=True)
        return EXIT_PROBLEMS
    except OSError as err:
        # A full disk, a folder without the right to write: no traceback, what and where.
        print(f"dote : erreur : {system_refusal(err)}", file=sys.stderr)
        if verbose:
            traceback.print_exc()
        print("Le site n'a pas été reconstruit ; la version précédente reste en place.", file=sys.stderr)
        shutil.rmtree(staging, ignore_errors=True)
        return EXIT_PROBLEMS
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        _replace_dir(staging, target)
    except OSError as err:
        print(f"dote : erreur : {system_refusal(err)}", file=sys.stderr)
        print(
            f"Le site construit n'a pas pu remplacer {target} ; il est resté dans {staging}.", file=sys.stderr
        )
        return EXIT_PROBLEMS
    print(f"Site construit dans {target}", file=sys.stderr)
    return EXIT_OK


def _prepare_internal(config: Any, config_file: Path, root: Path, target: Path, overlay: Path | None) -> str:
    """Point the plugin at the overlay for an internal build; a French refusal, or ""."""
    from mkdocs.config import load_config

    from dote.confidential import OVERLAY_ENV, overlay_location, private_location_refusal

    public_site = Path(load_config(config_file=str(config_file)).site_dir).resolve()
    if target == public_site or target.is_relative_to(public_site) or public_site.is_relative_to(target):
        return (
            f"une construction interne ne peut pas écrire dans le dossier du site public ({public_site}) : "
            "choisissez un autre --site-dir"
        )
    refusal = private_location_refusal(target, root, "le site interne")
    if refusal:
        return refusal + " (par défaut : site-interne/, ignoré par le .gitignore d'un territoire)"
    plugin = config.plugins["dote"]
    location = overlay_location(overlay, plugin.config.overlay, root)
    if location is None:
        return f"aucun dépôt confidentiel indiqué : utilisez --overlay DOSSIER ou la variable {OVERLAY_ENV}"
    if not location.is_dir():
        return f"dépôt confidentiel introuvable : {location}"
    refusal = private_location_refusal(location, root, "le dépôt confidentiel")
    if refusal:
        return refusal
    plugin.internal_overlay = location.resolve()
    return ""


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` with two renames, so a reader never sees half a site.

    The previous site is deleted by a separate process that outlives the command (deleting
    thousands of files takes seconds the build need not wait for); a deletion interrupted
    earlier is finished the same way.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{new.name}")
        target.rename(old)
    new.rename(target)
    leftovers = [p for p in target.parent.glob(f".{target.name}-old-*") if p.is_dir() and not p.is_symlink()]
    if leftovers:
        _delete_later(leftovers)


#: Processes deleting previous sites, reaped by the next call (no zombie is left for long).
_DELETERS: list[int] = []


def _delete_later(paths: list[Path]) -> None:
    for pid in list(_DELETERS):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        _DELETERS.remove(pid)
    code = "import shutil, sys\nfor p in sys.argv[1:]: shutil.rmtree(p, True)"
    try:
        # Not on the command's standard streams: whoever reads them (a pipe, a CI log, a
        # benchmark) would wait for the deletion to end before seeing the command's end.
        quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-c", code, *map(str, paths)],
            os.environ,
            setsid=True,
            file_actions=quiet,
        )
    except (OSError, AttributeError):  # no posix_spawn: delete now
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
    else:
        _DELETERS.append(pid)


def _serve(root: Path, dev_addr: str) -> int:
    from mkdocs.commands.serve import serve
    from mkdocs.exceptions import Abort, MkDocsException

    root = root.resolve()
    _mkdocs_logging(verbose=True)
    try:
        serve(config_file=str(root / "mkdocs.yml"), dev_addr=dev_addr, livereload=True)
    except (Abort, MkDocsException) as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _scaffold(make: object, directory: Path) -> int:
    from dote.scaffold import ScaffoldError

    try:
        make()  # type: ignore[operator]
    except ScaffoldError as err:
        print(f"dote : erreur : {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Territoire créé dans {directory}. Construisez-le avec : dote build {directory}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
