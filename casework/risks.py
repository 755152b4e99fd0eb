"""The OECD Due Diligence Guidance's Annex II risks, as codes a case can carry.

The codes are ours (stable, short, safe in URLs and JSON); the labels follow the Annex II
model supply chain policy for minerals from conflict-affected and high-risk areas, in English
and in French (the Guidance's French edition, "Annexe II").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Risk:
    """One Annex II risk: its code and its labels."""

    code: str
    english: str
    french: str


RISKS: tuple[Risk, ...] = (
    Risk(
        "torture",
        "Torture, cruel, inhuman or degrading treatment",
        "Torture et traitements cruels, inhumains ou dégradants",
    ),
    Risk("forced_labour", "Forced or compulsory labour", "Travail forcé ou obligatoire"),
    Risk("child_labour", "The worst forms of child labour", "Pires formes de travail des enfants"),
    Risk(
        "human_rights",
        "Other gross human rights violations and abuses, such as sexual violence",
        "Autres violations flagrantes des droits de l'homme, telles que les violences sexuelles",
    ),
    Risk(
        "war_crimes",
        "War crimes, crimes against humanity or genocide",
        "Crimes de guerre, crimes contre l'humanité ou génocide",
    ),
    Risk(
        "armed_groups",
        "Direct or indirect support to non-state armed groups",
        "Soutien direct ou indirect à des groupes armés non étatiques",
    ),
    Risk(
        "security_forces",
        "Public or private security forces",
        "Forces de sécurité publiques ou privées",
    ),
    Risk(
        "bribery",
        "Bribery and fraudulent misrepresentation of the origin of minerals",
        "Corruption et fausses déclarations sur l'origine des minerais",
    ),
    Risk("money_laundering", "Money laundering", "Blanchiment d'argent"),
    Risk(
        "taxes",
        "Non-payment of taxes, fees and royalties due to governments",
        "Non-paiement des taxes, droits et redevances dus aux gouvernements",
    ),
)

RISK_BY_CODE = {risk.code: risk for risk in RISKS}
# code → English label, as before (forms, filters and the inbox use it).
RISK_CATEGORIES: dict[str, str] = {risk.code: risk.english for risk in RISKS}
RISK_CATEGORIES_FR: dict[str, str] = {risk.code: risk.french for risk in RISKS}


def risk_label(code: str, lang: str = "en") -> str:
    """The label of a risk code in English, or French with ``lang`` "fr" (the code if unknown)."""
    risk = RISK_BY_CODE.get(code)
    if risk is None:
        return code
    return risk.french if lang.startswith("fr") else risk.english
