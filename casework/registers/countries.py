"""Where a country is, roughly: for register rows that name a country but give no position.

An EMRT "Mine List" names a mine and its country, never its coordinates; a site needs a
position, so it is placed at its country's approximate centre until an investigator corrects
it, and the import warns so. Only the countries of the minerals' supply chains are here.
"""

from __future__ import annotations

from casework.registers.minerals import fold

# name → (latitude, longitude), approximate centres.
CENTRES: dict[str, tuple[float, float]] = {
    "Congo, Democratic Republic of the": (-4.04, 21.76),
    "Congo": (-0.23, 15.83),
    "Rwanda": (-1.94, 29.87),
    "Burundi": (-3.37, 29.92),
    "Uganda": (1.37, 32.29),
    "Tanzania, United Republic of": (-6.37, 34.89),
    "Zambia": (-13.13, 27.85),
    "Angola": (-11.20, 17.87),
    "Central African Republic": (6.61, 20.94),
    "South Sudan": (6.88, 31.31),
    "Sudan": (12.86, 30.22),
    "Kenya": (-0.02, 37.91),
    "Malawi": (-13.25, 34.30),
    "Mozambique": (-18.67, 35.53),
    "Zimbabwe": (-19.02, 29.15),
    "South Africa": (-30.56, 22.94),
    "Madagascar": (-18.77, 46.87),
    "Ethiopia": (9.15, 40.49),
    "Nigeria": (9.08, 8.68),
    "Ghana": (7.95, -1.02),
    "Mali": (17.57, -4.00),
    "Burkina Faso": (12.24, -1.56),
    "Indonesia": (-0.79, 113.92),
    "Malaysia": (4.21, 101.98),
    "Myanmar": (21.91, 95.96),
    "China": (35.86, 104.20),
    "Bolivia, Plurinational State of": (-16.29, -63.59),
    "Peru": (-9.19, -75.02),
    "Brazil": (-14.24, -51.93),
    "Colombia": (4.57, -74.30),
    "Australia": (-25.27, 133.78),
    "Canada": (56.13, -106.35),
    "Russian Federation": (61.52, 105.32),
}
ALIASES = {
    "drc": "Congo, Democratic Republic of the",
    "rdc": "Congo, Democratic Republic of the",
    "dr congo": "Congo, Democratic Republic of the",
    "democratic republic of the congo": "Congo, Democratic Republic of the",
    "republique democratique du congo": "Congo, Democratic Republic of the",
    "congo (kinshasa)": "Congo, Democratic Republic of the",
    "cd": "Congo, Democratic Republic of the",
    "republic of the congo": "Congo",
    "congo (brazzaville)": "Congo",
    "tanzania": "Tanzania, United Republic of",
    "bolivia": "Bolivia, Plurinational State of",
    "bolivia (plurinational state of)": "Bolivia, Plurinational State of",
    "russia": "Russian Federation",
    "rw": "Rwanda",
    "ug": "Uganda",
    "bi": "Burundi",
}
_LOOKUP = {fold(name): name for name in CENTRES} | {fold(k): v for k, v in ALIASES.items()}


def country_name(text: str) -> str | None:
    """The name a country goes by here, from any of its usual spellings; else None."""
    return _LOOKUP.get(fold(text))


def centre(text: str) -> tuple[float, float] | None:
    """A country's approximate centre (latitude, longitude), or None if not known here."""
    name = country_name(text)
    return None if name is None else CENTRES[name]
