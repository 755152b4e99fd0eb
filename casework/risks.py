"""The OECD Due Diligence Guidance's Annex II risks, as codes a case can carry.

The codes are ours (stable, short, safe in URLs and JSON); the labels follow the Annex II
model supply chain policy for minerals from conflict-affected and high-risk areas.
"""

from __future__ import annotations

RISK_CATEGORIES: dict[str, str] = {
    "torture": "Torture, cruel, inhuman or degrading treatment",
    "forced_labour": "Forced or compulsory labour",
    "child_labour": "The worst forms of child labour",
    "human_rights": "Other gross human rights violations and abuses, such as sexual violence",
    "war_crimes": "War crimes, crimes against humanity or genocide",
    "armed_groups": "Direct or indirect support to non-state armed groups",
    "security_forces": "Public or private security forces",
    "bribery": "Bribery and fraudulent misrepresentation of the origin of minerals",
    "money_laundering": "Money laundering",
    "taxes": "Non-payment of taxes, fees and royalties due to governments",
}


def risk_label(code: str) -> str:
    """The English label of a risk code (the code itself if unknown)."""
    return RISK_CATEGORIES.get(code, code)
