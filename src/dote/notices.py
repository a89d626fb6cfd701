"""Information notices (GDPR Art. 13 and 14) and rights letters, written from the registers.

For each activity whose ``mention_information`` is ``generee``, the Maison writes the notice
from the register entry: controller, DPO, purposes, legal basis, data and sources,
recipients, transfers, retention, rights and how to use them, automated decisions, the
complaint to the CNIL. One function, :func:`notice`, writes it as a list of plain
:class:`Block` values; the member's notices page (HTML), and the member's DOCX and ODT
downloads (:mod:`dote.office`) are all made from those blocks, so they say the same thing.

:func:`gaps` says what a notice would lack: the label's "personnes informées" criterion
uses it, so a notice counts only when the register has what it must say.

:func:`rights_letters` writes a citizen's letter per right, addressed to the member's DPO
(or to its contact for rights requests when it has no DPO).

Every text here comes from a register and is untrusted: blocks are plain text, escaped by
whoever writes them out (Jinja's autoescape, or the XML writer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

# A module, not names: dote.fragments imports this module (a cycle resolved at call time).
from dote import csp, fragments
from dote.model import Activity, DataCategory, LegalBasis, Member, Person, Territory
from dote.vocabulary import in_sentence

Kind = Literal["titre", "section", "sous-section", "paragraphe", "puce", "saut"]


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a written document: a heading, a paragraph, a list item or a page break."""

    kind: Kind
    text: str = ""


#: The CNIL's postal address for complaints and its online complaint service (Art. 77 GDPR).
CNIL_ADDRESS = "CNIL, 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07"
CNIL_COMPLAINTS = "https://www.cnil.fr/fr/plaintes"

#: Deceased persons among the data subjects: the GDPR does not protect their data (recital 27);
#: the loi Informatique et Libertés does (art. 84: rights end at death, save art. 85).
DECEASED_NOTE = (
    "Le RGPD ne s'applique pas aux données des personnes décédées (RGPD, considérant 27). La loi "
    "Informatique et Libertés en règle le sort : les droits d'une personne s'éteignent à son décès, "
    "sauf directives qu'elle a laissées ou demandes de ses héritiers (loi n° 78-17 du 6 janvier 1978, "
    "art. 84 et 85), sans préjudice des règles des archives publiques."
)
#: Post-mortem directives, for every notice whose data subjects include living persons.
DIRECTIVES_NOTE = (
    "Vous pouvez aussi définir des directives relatives à la conservation, à l'effacement et à la "
    "communication de vos données après votre décès (loi n° 78-17 du 6 janvier 1978, art. 85)."
)
#: What intermediate archiving means, when a retention has that phase (CNIL, « Les durées de
#: conservation »; code du patrimoine, art. R212-11).
INTERMEDIATE_NOTE = (
    "En archivage intermédiaire, les données ne servent plus à l'objectif du traitement : elles sont "
    "gardées à part pour une obligation légale ou un éventuel litige, et seules des personnes "
    "spécialement habilitées peuvent les consulter, ponctuellement et pour un motif précis."
)

#: Rights whose use depends on the legal basis (GDPR Art. 7(3), 20(1)(a), 21(1)).
_RIGHT_BASES = {
    "retrait-consentement": {"consentement"},
    "portabilite": {"consentement", "contrat"},
    "opposition": {"mission-interet-public", "interet-legitime"},
}


def is_generated(activity: Activity) -> bool:
    return activity.information_notice == "generee"


def gaps(member: Member, activity: Activity) -> list[str]:
    """What the register lacks for the Maison to write this activity's notice (empty: complete)."""
    missing = []
    if activity.role.code == "sous-traitant":
        return ["le membre est sous-traitant : la mention revient au responsable du traitement"]
    if not activity.purpose:
        missing.append("finalité")
    basis = activity.legal_basis
    if basis is None or basis.basis.attr("provisoire"):
        missing.append("base légale établie")
    if not activity.categories:
        missing.append("catégories de données")
    if not activity.recipients:
        missing.append("destinataires")
    if activity.transfers is None:
        missing.append("transferts hors de l'Union")
    if not activity.categories or any(c.retention is None for c in activity.categories):
        missing.append("durées de conservation")
    contact = member.rights_contact
    if not (contact.email or contact.address or contact.form_url or (member.dpo and member.dpo.email)):
        missing.append("contact pour exercer ses droits")
    return missing


def notice_anchor(activity: Activity) -> str:
    return f"mention-{activity.id}"


def notice(territory: Territory, member: Member, activity: Activity) -> list[Block]:
    """The information notice of one activity, from its register entry (see :func:`gaps`)."""
    a = activity
    out = [Block("titre", f"Mention d'information : {a.name}")]
    direct = not a.sources or all(s.code == "personne-concernee" for s in a.sources)
    article = (
        "13"
        if direct
        else ("14" if not any(s.code == "personne-concernee" for s in a.sources) else "13 et 14")
    )
    if a.police_directive:
        out.append(
            Block(
                "paragraphe",
                f"{member.name} traite des données personnelles vous concernant pour l'activité « {a.name} ». "
                f"{POLICE_FRAMEWORK} Ce document vous en informe, comme le prévoit cette loi "
                "(loi Informatique et Libertés, art. 104).",
            )
        )
    else:
        out.append(
            Block(
                "paragraphe",
                f"{member.name} traite des données personnelles vous concernant pour l'activité « {a.name} ». "
                f"Ce document vous en informe, comme le prévoit le règlement général sur la protection des "
                f"données (RGPD, art. {article}).",
            )
        )
    out.append(Block("section", "Qui traite vos données ?"))
    where = ", ".join(x for x in (member.address, member.website) if x)
    out.append(
        Block(
            "paragraphe",
            f"Le responsable du traitement est {member.name}" + (f" ({where})." if where else "."),
        )
    )
    if a.department:
        out.append(Block("paragraphe", f"Service qui le met en œuvre : {a.department}."))
    if a.joint_controllers:
        names = " ; ".join(_person(p) for p in a.joint_controllers)
        out.append(Block("paragraphe", f"Responsables conjoints du traitement (RGPD, art. 26) : {names}."))
    out.append(Block("section", "Le délégué à la protection des données"))
    if member.dpo is not None:
        shared = f", délégué mutualisé de {territory.maison.name}" if member.dpo_shared else ""
        out.append(
            Block(
                "paragraphe",
                f"Vous pouvez contacter le délégué à la protection des données : {_person(member.dpo)}{shared}.",
            )
        )
    else:
        out.append(
            Block("paragraphe", f"{member.name} n'a pas désigné de délégué à la protection des données.")
        )
    out.append(Block("section", "Pourquoi vos données sont-elles utilisées ?"))
    out.append(Block("paragraphe", a.purpose))
    if a.secondary_purposes:
        out.append(Block("paragraphe", "Elles servent aussi à :"))
        out += [Block("puce", p) for p in a.secondary_purposes]
    out.append(Block("section", "Sur quelle base légale ?"))
    pairs = a.purposes_with_bases
    if a.legal_basis is not None and not any(p.own for p in pairs):
        b = a.legal_basis
        out.append(Block("paragraphe", basis_text(b) + "."))
        if b.details:
            out.append(Block("paragraphe", b.details))
    elif a.legal_basis is not None:
        out.append(Block("paragraphe", "Chaque finalité repose sur sa propre base légale :"))
        out += [Block("puce", f"{p.purpose} : {basis_text(p.basis)}") for p in pairs if p.basis is not None]
        out += [Block("paragraphe", b.details) for b in a.legal_bases if b.details]
    consented = [p for p in pairs if p.basis is not None and p.basis.basis.code == "consentement"]
    if consented and not a.police_directive:
        which = "" if len(consented) == len(pairs) else " (" + " ; ".join(p.purpose for p in consented) + ")"
        out.append(
            Block(
                "paragraphe",
                f"Vous pouvez retirer votre consentement{which} à tout moment, aussi simplement que vous "
                "l'avez donné ; ce retrait ne remet pas en cause ce qui a été fait avant (RGPD, art. 7(3)).",
            )
        )
    for x in a.authorisations:
        text = f"Ce traitement a été autorisé au préalable : {x.nature.label.lower()}, {x.reference}"
        if x.date:
            text += f", du {fragments.date_fr(x.date)}"
        if x.expires:
            text += f", valable jusqu'au {fragments.date_fr(x.expires)}"
        out.append(Block("paragraphe", text + (f" ({x.nature.reference})." if x.nature.reference else ".")))
    for cond in a.conditions:
        out.append(
            Block(
                "paragraphe",
                f"Données sensibles : {cond.condition.label}"
                + (f" ({cond.reference})." if cond.reference else "."),
            )
        )
    if a.mandatory_collection is True:
        out.append(
            Block(
                "paragraphe",
                "Fournir ces données est obligatoire : sans elles, votre demande ne peut pas être traitée"
                + ("." if a.police_directive else " (RGPD, art. 13(2)(e))."),
            )
        )
    elif a.mandatory_collection is False:
        out.append(
            Block(
                "paragraphe",
                "Fournir ces données est facultatif"
                + ("." if a.police_directive else " (RGPD, art. 13(2)(e))."),
            )
        )
    out.append(Block("section", "Quelles données et d'où viennent-elles ?"))
    if a.subjects:
        out.append(
            Block(
                "paragraphe", "Personnes concernées : " + ", ".join(s.label.lower() for s in a.subjects) + "."
            )
        )
    if a.deceased_subjects:
        out.append(Block("paragraphe", DECEASED_NOTE))
    for c in a.categories:
        text = c.kind.label + (f" : {c.details}" if c.details else "")
        if c.is_sensitive:
            text += " (donnée sensible)"
        out.append(Block("puce", text))
    if a.sources:
        out.append(Block("paragraphe", "Origine des données :"))
        out += [Block("puce", s.label) for s in a.sources]
    if a.sources_details:
        out.append(Block("paragraphe", a.sources_details))
    out.append(Block("section", "Qui peut les recevoir ?"))
    recipients = [*a.recipients.internal, *a.recipients.external]
    processors = [territory.processors[p] for p in a.recipients.processors if p in territory.processors]
    recipients += [f"{p.name} (sous-traitant, qui agit pour le compte de {member.name})" for p in processors]
    out += [Block("puce", r) for r in recipients]
    out.append(Block("section", "Transferts hors de l'Union européenne"))
    leaving = a.transfers_outside_eea
    via = territory.processors_outside_eea(a)
    if not leaving and not via:
        out.append(Block("paragraphe", "Vos données ne sont pas transférées hors de l'Union européenne."))
    for t in leaving:
        text = f"{t.country.label} : {t.recipient}"
        if t.safeguard is not None:
            text += f", encadré par : {t.safeguard.label}"
        out.append(Block("puce", text + (f" ({t.details})" if t.details else "")))
    for p in via:
        countries = ", ".join(c.label for c in p.countries_outside_eea)
        out.append(Block("puce", f"{p.name} (sous-traitant) : {countries}"))
    out.append(Block("section", "Combien de temps sont-elles conservées ?"))
    for c in a.categories:
        out.append(Block("puce", f"{c.kind.label} : {_retention(c)}"))
    phases = {p.phase.code for c in a.categories if c.retention for p in c.retention.phases}
    if "archivage-intermediaire" in phases:
        out.append(Block("paragraphe", INTERMEDIATE_NOTE))
    if a.prospecting is not None and a.prospecting.channels:
        out.append(Block("section", "Prospection commerciale"))
        out += [Block("paragraphe", text) for text in prospecting_texts(a)]
    out.append(Block("section", "Vos droits"))
    out.append(Block("paragraphe", "Vous pouvez exercer les droits suivants :"))
    for label, reference, purposes in rights_by_purpose(territory, a):
        only = f", pour : {' ; '.join(purposes)}" if purposes else ""
        out.append(Block("puce", f"{label} ({reference}){only}"))
    if a.police_directive:
        out.append(Block("paragraphe", POLICE_RESTRICTIONS))
    if a.rights_details:
        out.append(Block("paragraphe", a.rights_details))
    out.append(Block("paragraphe", "Pour les exercer, écrivez à " + _contact(member) + "."))
    if a.living_subjects and not a.police_directive:  # art. 85 belongs to the law's GDPR title
        out.append(Block("paragraphe", DIRECTIVES_NOTE))
    if not a.police_directive:
        out.append(
            Block(
                "paragraphe",
                "Une réponse vous est due dans un délai d'un mois, qui peut être prolongé de deux mois "
                "si la demande est complexe ; vous êtes alors prévenu dans le premier mois (RGPD, art. 12(3)).",
            )
        )
    if a.automated_decision is not None or a.profiling:
        out.append(Block("section", "Décision automatisée et profilage"))
        if a.automated_decision and a.police_directive:
            out.append(
                Block(
                    "paragraphe", "Une décision vous concernant est prise de façon entièrement automatisée."
                )
            )
        elif a.automated_decision:
            out.append(
                Block(
                    "paragraphe",
                    "Une décision vous concernant est prise de façon entièrement automatisée. Vous pouvez "
                    "demander l'intervention d'une personne, donner votre point de vue et contester la "
                    "décision (RGPD, art. 22).",
                )
            )
        else:
            out.append(
                Block(
                    "paragraphe",
                    "Aucune décision entièrement automatisée n'est prise à partir de vos données.",
                )
            )
        if a.profiling:
            out.append(Block("paragraphe", "Vos données font l'objet d'un profilage (RGPD, art. 4(4))."))
        if a.algorithm_rules:
            out.append(Block("paragraphe", f"Règles du traitement algorithmique : {a.algorithm_rules}"))
        if a.algorithm_link:
            out.append(Block("paragraphe", f"Règles publiées : {a.algorithm_link}"))
    out.append(Block("section", "Réclamation auprès de la CNIL"))
    out.append(
        Block(
            "paragraphe",
            "Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation "
            f"à la CNIL ({'loi Informatique et Libertés, art. 104' if a.police_directive else 'RGPD, art. 77'}) : "
            f"en ligne sur {CNIL_COMPLAINTS}, ou par courrier : {CNIL_ADDRESS}.",
        )
    )
    updated = a.dates.updated or a.dates.reviewed
    out.append(
        Block(
            "paragraphe",
            f"Mention établie par {territory.maison.name} à partir du registre des activités de traitement "
            f"de {member.name}"
            + (f", fiche mise à jour le {fragments.date_fr(updated)}." if updated else "."),
        )
    )
    return out


def applicable_rights(territory: Territory, activity: Activity) -> list[tuple[str, str]]:
    """The rights a person has over this activity: (label, legal reference), in the vocabulary's order.

    Withdrawing consent, portability and objection depend on the legal basis (GDPR
    Art. 7(3), 20(1)(a), 21(1)); the register can also rule others out (``droits.non_applicables``).
    See :func:`rights_by_purpose` for which purposes each right covers.
    """
    return [(label, reference) for label, reference, _ in rights_by_purpose(territory, activity)]


def rights_by_purpose(territory: Territory, activity: Activity) -> list[tuple[str, str, tuple[str, ...]]]:
    """The rights over this activity: (label, legal reference, purposes it is limited to).

    A right that depends on the legal basis applies when one of the activity's bases
    allows it (each purpose may have its own, see :attr:`Activity.purposes_with_bases`);
    when only some purposes allow it, they are named (empty: every purpose). Direct
    marketing adds the right to object to it, whatever the basis (GDPR Art. 21(2)-(3)).
    Under the police directive, the rights are those of the loi Informatique et Libertés,
    title III (:data:`POLICE_RIGHTS`).
    """
    if activity.police_directive:
        return [(label, reference, ()) for label, reference in POLICE_RIGHTS]
    pairs = [p for p in activity.purposes_with_bases if p.basis is not None]
    excluded = {t.code for t in activity.rights_not_applicable}
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for term in territory.vocabularies["droits"]:
        if term.code in excluded:
            continue
        if term.code in _RIGHT_BASES:
            allowed = [
                p.purpose
                for p in pairs
                if p.basis is not None and p.basis.basis.code in _RIGHT_BASES[term.code]
            ]
            if not allowed:
                continue
            found.append((term.label, term.reference, () if len(allowed) == len(pairs) else tuple(allowed)))
        else:
            found.append((term.label, term.reference, ()))
    if activity.prospecting is not None and activity.prospecting.channels:
        found.append(PROSPECTING_OBJECTION)
    return found


#: Where the processing falls under Directive (EU) 2016/680 rather than the GDPR.
POLICE_FRAMEWORK = (
    "Ce traitement relève de la directive (UE) 2016/680 dite « police-justice », transposée au titre III "
    "de la loi n° 78-17 du 6 janvier 1978 dite Informatique et Libertés (art. 87 et suivants), et non du RGPD."
)
#: The rights of the loi Informatique et Libertés, title III (articles 104 to 106).
POLICE_RIGHTS: tuple[tuple[str, str], ...] = (
    ("Droit d'être informé", "loi Informatique et Libertés, art. 104"),
    ("Droit d'accès", "loi Informatique et Libertés, art. 105"),
    (
        "Droit de rectification, d'effacement et de limitation du traitement",
        "loi Informatique et Libertés, art. 106",
    ),
)
#: How they may be restricted, and exercised then through the CNIL (articles 107 and 108).
POLICE_RESTRICTIONS = (
    "Ces droits peuvent être retardés, limités ou refusés quand l'acte qui crée le traitement le prévoit, "
    "pour ne pas gêner les enquêtes et les poursuites pénales ou pour protéger la sécurité publique "
    "(loi Informatique et Libertés, art. 107). Vous pouvez alors les exercer par l'intermédiaire de la CNIL "
    "(loi Informatique et Libertés, art. 108)."
)
#: A public body relying on legitimate interests outside its public tasks.
OUTSIDE_PUBLIC_TASKS = (
    "traitement mené en dehors des missions de service public de l'organisme, que l'intérêt légitime "
    "peut alors fonder (RGPD, art. 6(1), dernier alinéa)"
)
#: The right to object to direct marketing, whatever the legal basis.
PROSPECTING_OBJECTION: tuple[str, str, tuple[str, ...]] = (
    "Droit de vous opposer à tout moment à la prospection, sans avoir à vous justifier",
    "RGPD, art. 21(2) et 21(3)",
    (),
)


def basis_text(b: LegalBasis) -> str:
    """« Consentement de la personne (RGPD, art. 6(1)(a) et art. 7) : reference », and a public
    body's legitimate interests outside its public tasks."""
    text = f"{b.basis.label} ({b.basis.reference})" + (f" : {b.reference}" if b.reference else "")
    return text + (f" ; {OUTSIDE_PUBLIC_TASKS}" if b.outside_public_tasks else "")


def prospecting_texts(a: Activity) -> list[str]:
    """What a notice says of the activity's direct marketing: its channels, the consent it needs
    or its exception, and the right to object (CPCE art. L34-5; GDPR Art. 21(2)-(3))."""
    p = a.prospecting
    if p is None or not p.channels:
        return []
    texts = [
        "Vos coordonnées peuvent servir à vous adresser des offres commerciales par : "
        + ", ".join(in_sentence(c.label) for c in p.channels)
        + "."
    ]
    others = [c for c in p.electronic_channels if not (p.business_email and c.code == "courriel")]
    if p.business_email:
        texts.append(
            "Par courrier électronique, ces offres ne sont adressées qu'à des professionnels, à leur adresse "
            "professionnelle et en rapport avec la fonction qu'ils exercent ; vous en êtes informé lors de la "
            "collecte de votre adresse et pouvez vous y opposer à ce moment, puis dans chaque message "
            "(position de la CNIL adoptée en séance du 17 février 2005)."
        )
    if others:
        if p.similar_products_customers:
            texts.append(
                "Par voie électronique, ces offres ne sont adressées qu'aux clients, pour des produits ou "
                "services analogues à ceux qu'ils ont achetés ; vous pouvez le refuser dès la collecte de "
                "vos coordonnées (code des postes et des communications électroniques, art. L34-5)."
            )
        else:
            means = (
                "Par " + ", ".join(in_sentence(c.label) for c in others)
                if p.business_email
                else "Par voie électronique"
            )
            texts.append(
                f"{means}, ces offres ne vous sont adressées qu'avec votre accord préalable "
                "(code des postes et des communications électroniques, art. L34-5)."
            )
    texts.append(
        "Vous pouvez vous opposer à tout moment, sans avoir à vous justifier, à l'utilisation de vos "
        "données pour la prospection (RGPD, art. 21(2) et 21(3)) ; chaque message électronique indique "
        "comment le faire (code des postes et des communications électroniques, art. L34-5)."
    )
    return texts


def notices_of(territory: Territory, member: Member) -> dict[str, list[Block]]:
    """Each notice the Maison writes for a member (:func:`notice`), by activity id: made once
    for all the documents that show them (:func:`member_notices`, :func:`notices_page`)."""
    return {a.id: notice(territory, member, a) for a in generated(member)}


def member_notices(
    territory: Territory, member: Member, made: Mapping[str, Sequence[Block]] | None = None
) -> list[Block]:
    """Every notice the Maison writes for a member, one per page, after a title page
    (``made``: the notices already made, see :func:`notices_of`)."""
    activities = generated(member)
    out = [
        Block("titre", f"Mentions d'information de {member.name}"),
        Block(
            "paragraphe",
            f"{len(activities)} mention(s) d'information établie(s) par {territory.maison.name} à partir du "
            f"registre des activités de traitement de {member.name}. Chacune peut être affichée, remise ou "
            "publiée là où les données sont collectées (formulaire, accueil, site web).",
        ),
    ]
    out += [Block("puce", a.name) for a in activities]
    for a in activities:
        out.append(Block("saut"))
        out += made[a.id] if made is not None else notice(territory, member, a)
    return out


def generated(member: Member) -> list[Activity]:
    """The member's activities whose notice the Maison writes, and can (see :func:`gaps`)."""
    return [a for a in member.activities if is_generated(a) and not gaps(member, a)]


# --- rights letters ------------------------------------------------------------------------

#: Per right: the letter's subject and its request (after "je vous demande").
_LETTERS: Sequence[tuple[str, str, str, str]] = (
    (
        "acces",
        "Demande d'accès à mes données personnelles",
        "RGPD, art. 15",
        "de m'indiquer si vous traitez des données personnelles me concernant et, si c'est le cas, "
        "de m'en communiquer une copie, avec les finalités du traitement, les catégories de données, "
        "leurs destinataires, leur durée de conservation, leur origine et l'existence éventuelle "
        "d'une décision automatisée.",
    ),
    (
        "rectification",
        "Demande de rectification de mes données personnelles",
        "RGPD, art. 16",
        "de rectifier les données inexactes me concernant, ou de compléter les données incomplètes, "
        "comme suit : [à compléter : les données à corriger et leur valeur exacte, avec un justificatif "
        "si besoin].",
    ),
    (
        "effacement",
        "Demande d'effacement de mes données personnelles",
        "RGPD, art. 17",
        "d'effacer les données personnelles me concernant, pour le motif suivant : [à compléter : par "
        "exemple, les données ne sont plus nécessaires, je retire mon consentement, je m'oppose au "
        "traitement].",
    ),
    (
        "limitation",
        "Demande de limitation du traitement de mes données personnelles",
        "RGPD, art. 18",
        "de limiter le traitement des données personnelles me concernant (de les conserver sans les "
        "utiliser), pour le motif suivant : [à compléter : exactitude contestée, traitement illicite, "
        "données nécessaires à une action en justice, opposition en cours d'examen].",
    ),
    (
        "portabilite",
        "Demande de portabilité de mes données personnelles",
        "RGPD, art. 20",
        "de me communiquer les données personnelles que je vous ai fournies, dans un format structuré, "
        "couramment utilisé et lisible par machine [à compléter si vous le souhaitez : et de les "
        "transmettre directement à l'organisme suivant : …].",
    ),
    (
        "opposition",
        "Opposition au traitement de mes données personnelles",
        "RGPD, art. 21",
        "de ne plus traiter les données personnelles me concernant, pour des raisons tenant à ma "
        "situation particulière : [à compléter : vos raisons ; aucune raison n'est à donner pour "
        "refuser la prospection].",
    ),
)


def rights_letters(territory: Territory, member: Member) -> list[Block]:
    """A letter per right, pre-addressed to the member's DPO, one per page, after a title page."""
    recipient = _letter_recipient(member)
    out = [
        Block("titre", f"Exercer vos droits auprès de {member.name}"),
        Block(
            "paragraphe",
            "Ce document contient une lettre par droit, déjà adressée. Choisissez celle qui vous convient, "
            "complétez les passages entre crochets, datez, signez et envoyez-la par courrier ou par "
            "courriel ; gardez-en une copie. Joignez une pièce d'identité seulement si l'organisme a un "
            "doute raisonnable sur votre identité et vous la demande (RGPD, art. 12(6)).",
        ),
    ]
    out += [Block("puce", f"{subject} ({reference})") for _, subject, reference, _ in _LETTERS]
    for _code, subject, reference, request in _LETTERS:
        out.append(Block("saut"))
        out.append(Block("titre", subject))
        out += [
            Block("paragraphe", "[à compléter : vos prénom et nom]"),
            Block("paragraphe", "[à compléter : votre adresse postale ou électronique]"),
        ]
        out += [Block("paragraphe", line) for line in recipient]
        out += [
            Block("paragraphe", "[à compléter : lieu], le [à compléter : date]"),
            Block("paragraphe", f"Objet : {subject.lower()} ({reference})"),
            Block("paragraphe", "Madame, Monsieur,"),
            Block(
                "paragraphe",
                f"En application de l'article {reference.removeprefix('RGPD, art. ')} du RGPD, je vous demande {request}",
            ),
            Block(
                "paragraphe",
                "Les informations suivantes vous permettront de retrouver les données me concernant : "
                "[à compléter : numéro de dossier, service concerné, période].",
            ),
            Block(
                "paragraphe",
                "Vous disposez d'un délai d'un mois à compter de la réception de ma demande pour y "
                "répondre ; ce délai peut être prolongé de deux mois si la demande est complexe, à "
                "condition de m'en informer dans le premier mois (RGPD, art. 12(3)). Cette démarche "
                "est gratuite (RGPD, art. 12(5)).",
            ),
            Block(
                "paragraphe",
                "À défaut de réponse satisfaisante dans ce délai, je me réserve la possibilité "
                f"d'adresser une réclamation à la CNIL (RGPD, art. 77) : {CNIL_COMPLAINTS}.",
            ),
            Block("paragraphe", "Je vous prie d'agréer, Madame, Monsieur, mes salutations distinguées."),
            Block("paragraphe", "[à compléter : signature]"),
        ]
    out.append(Block("saut"))
    out.append(
        Block(
            "paragraphe",
            f"Lettres préparées par {territory.maison.name} à partir du registre de {member.name}, "
            "tel que publié sur son site.",
        )
    )
    return out


def _letter_recipient(member: Member) -> list[str]:
    """The address block: the DPO of the member when there is one, else its rights contact."""
    contact = member.rights_contact
    if member.dpo is not None:
        lines = [f"À l'attention du délégué à la protection des données de {member.name}", member.dpo.name]
        address = member.dpo.address or contact.address or member.address
        email = member.dpo.email or contact.email
    else:
        lines = [member.name, "À l'attention du service chargé des demandes d'exercice des droits"]
        address = contact.address or member.address
        email = contact.email
    if address:
        lines.append(address)
    if email:
        lines.append(f"Courriel : {email}")
    if contact.form_url:
        lines.append(f"Formulaire en ligne : {contact.form_url}")
    return lines


def _person(p: Person) -> str:
    return ", ".join(x for x in (p.name, p.email, p.address, p.phone) if x)


def _contact(member: Member) -> str:
    c = member.rights_contact
    ways = []
    if c.email:
        ways.append(f"par courriel : {c.email}")
    if c.address:
        ways.append(f"par courrier : {c.address}")
    if c.form_url:
        ways.append(f"en ligne : {c.form_url}")
    if not ways and member.dpo is not None and member.dpo.email:
        ways.append(f"au délégué à la protection des données : {member.dpo.email}")
    return f"{member.name}, " + " ; ".join(ways) if ways else member.name


def _retention(category: DataCategory) -> str:
    r = category.retention
    if r is None:
        return "durée non indiquée"
    if r.phases:
        text = r.phases_text
        total = r.total_duration_text
        if total and len(r.phases) > 1:
            text += f" (soit {total} au total)"
        if r.final_fate is not None:
            text += f", puis {r.final_fate.label.lower()}"
        details = [f"{p.phase.label} : {p.details.strip('. ')}" for p in r.phases if p.details]
        if r.details:
            details.append(r.details)
        return text + "".join(f". {d}" for d in details)
    text = fragments.duration_text(r.duration) if r.duration else r.criteria
    if r.duration and r.criteria:
        text += f" ({r.criteria})"
    if r.start:
        text += f", à compter de : {r.start}"
    if r.final_fate is not None:
        text += f" ; ensuite : {r.final_fate.label.lower()}"
    if r.details:
        text += f". {r.details}"
    return text


# --- where they are published ----------------------------------------------------------------

#: The two downloads of each member: its notices, its rights letters.
_DOWNLOADS = {"mentions": "mentions-information", "droits": "lettres-droits"}


def download_path(member: Member, kind: Literal["mentions", "droits"], fmt: str) -> str:
    """``registres/<id>/mentions-information-<id>.odt``: beside the member's page."""
    return f"registres/{member.id}/{_DOWNLOADS[kind]}-{member.id}.{fmt}"


#: Each member's notices as a printable page, beside its register's page (a file, not a
#: page of the site's theme: no navigation to print, no search index of a copy of the register).
PAGE_NAME = "mentions.html"
#: Its style sheet (one for every member), written by the plugin.
STYLESHEET = "assets/dote/mentions.css"


def page_path(member: Member) -> str:
    return f"registres/{member.id}/{PAGE_NAME}"


#: The legal pages every page of the site links to, by the key of their link.
LEGAL_LINKS = {
    "mentions_legales": "Mentions légales",
    "donnees_personnelles": "Données personnelles",
    "accessibilite": "Accessibilité",
}


def notices_page(
    territory: Territory,
    member: Member,
    legal: Mapping[str, str] | None = None,
    made: Mapping[str, Sequence[Block]] | None = None,
) -> str:
    """A member's notices page: a complete HTML document, printed one notice per sheet.

    No script, and the site's content security policy (:mod:`dote.csp`). Like
    every page of the site, it says when the territory is fictional and links to the legal
    pages (``legal``: their addresses in the site, by :data:`LEGAL_LINKS` key). ``made``: the
    notices already made (see :func:`notices_of`).
    """
    e = escape
    files = {fmt: download_path(member, "mentions", fmt).rsplit("/", 1)[1] for fmt in ("docx", "odt")}
    title = f"Mentions d'information de {member.name}"
    activities = generated(member)
    out = [
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)} — {e(territory.maison.name)}</title>",
        '<link rel="stylesheet" href="../../assets/dote/mentions.css">\n</head>\n<body>',
        *(
            [
                '<p class="fictif">Territoire fictif de démonstration : les organismes et les données '
                "présentés ici n'existent pas.</p>"
            ]
            if territory.maison.fictional
            else []
        ),
        f'<header><p><a href="./">← Registre de {e(member.name)}</a></p></header>',
        "<main>",
        f"<h1>{e(title)}</h1>",
        f"<p>Ces mentions d'information sont établies par {e(territory.maison.name)} à partir du "
        f'<a href="./">registre des activités de traitement de {e(member.name)}</a> : '
        "chacune dit, pour une activité, ce que le RGPD impose de dire aux personnes "
        "(articles 13 et 14). Chaque mention s'imprime sur sa propre page.</p>",
        f'<p class="telechargements"><strong>Toutes les mentions en un document :</strong> '
        f'<a href="{e(files["docx"])}" download>Word (.docx)</a> · '
        f'<a href="{e(files["odt"])}" download>LibreOffice (.odt)</a></p>',
        '<nav aria-label="Mentions de cette page"><ul>',
    ]
    out += [f'<li><a href="#{e(notice_anchor(a))}">{e(a.name)}</a></li>' for a in activities]
    out.append("</ul></nav>")
    for a in activities:
        out.append(f'<section class="mention" id="{e(notice_anchor(a))}">')
        out.append(blocks_html(made[a.id] if made is not None else notice(territory, member, a), top=2))
        out.append("</section>")
    out.append("</main>")
    legal = legal or {}
    links = [
        f'<a href="../../{e(legal[key])}">{e(label)}</a>'
        for key, label in LEGAL_LINKS.items()
        if key in legal
    ]
    if links:
        out.append(f"<footer><p>{' · '.join(links)}</p></footer>")
    out.append("</body>\n</html>\n")
    # The site's policy, first in <head> like every page's; no inline script is allowed (the page
    # has none of its own: one in the register text, were it to slip through escaping, would not run).
    return csp.with_policy("\n".join(out), theme="")


def blocks_html(blocks: Sequence[Block], top: int = 2) -> Markup:
    """Blocks as HTML: « titre » is a heading of level ``top``, sections the next levels."""
    e = fragments.e  # each text escaped once per process: most are the same in every member's notices
    levels = {"titre": top, "section": top + 1, "sous-section": top + 2}
    out: list[str] = []
    in_list = False
    for block in blocks:
        if block.kind == "puce":
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{e(block.text)}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if block.kind in levels:
            level = levels[block.kind]
            out.append(f"<h{level}>{e(block.text)}</h{level}>")
        elif block.kind == "paragraphe":
            out.append(f"<p>{e(block.text)}</p>")
    if in_list:
        out.append("</ul>")
    return Markup("\n".join(out))
