"""The mineral vocabulary: one code per mineral, its English and French names, and spellings.

Registers write mineral names in French or English, with or without accents, in any case
("Cassitérite", "or", "Coltan"); :func:`normalise` folds all of them to one code.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Mineral:
    """A mineral the registers know: its code, names, and the other spellings met."""

    code: str
    english: str
    french: str
    aliases: tuple[str, ...] = ()


MINERALS: tuple[Mineral, ...] = (
    # The ores of the 3T and their metals: a tin smelter in a CMRT, ``resource=tin`` on
    # OpenStreetMap and "cassitérite" in a field register are one mineral here.
    Mineral(
        "cassiterite", "Cassiterite", "Cassitérite", ("tin", "etain", "sn", "cassiterite", "3t")
    ),
    Mineral(
        "coltan",
        "Coltan",
        "Coltan",
        ("columbite-tantalite", "columbite", "tantalite", "tantalum", "tantale", "ta"),
    ),
    Mineral("wolframite", "Wolframite", "Wolframite", ("tungsten", "tungstene", "wolfram", "w")),
    Mineral("gold", "Gold", "Or", ("au", "or alluvionnaire", "alluvial gold", "or filonien")),
    Mineral("cobalt", "Cobalt", "Cobalt", ("heterogenite", "co")),
    Mineral("copper", "Copper", "Cuivre", ("malachite", "chalcopyrite", "cu")),
    Mineral("diamond", "Diamonds", "Diamants", ("diamonds", "diamants", "diamant")),
    Mineral("tourmaline", "Tourmaline", "Tourmaline", ("tourmalines",)),
    Mineral("monazite", "Monazite", "Monazite", ()),
    Mineral("lithium", "Lithium", "Lithium", ("spodumene", "lepidolite", "li")),
    Mineral("manganese", "Manganese", "Manganèse", ("mn",)),
    Mineral("amethyst", "Amethyst", "Améthyste", ()),
    Mineral("beryl", "Beryl", "Béryl", ()),
    Mineral("pyrochlore", "Pyrochlore", "Pyrochlore", ("niobium",)),
    # The EMRT's minerals besides cobalt and copper.
    Mineral("nickel", "Nickel", "Nickel", ("ni",)),
    Mineral("graphite", "Graphite", "Graphite", ("natural graphite", "graphite naturel")),
    Mineral("mica", "Mica", "Mica", ("natural mica", "mica naturel", "muscovite")),
)

BY_CODE = {m.code: m for m in MINERALS}


def fold(text: str) -> str:
    """Lower-case, strip accents, collapse spaces: ``" Cassitérite "`` → ``"cassiterite"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().replace("_", " ").split())


_LOOKUP: dict[str, str] = {}
for _m in MINERALS:
    for _name in (_m.code, _m.english, _m.french, *_m.aliases):
        _LOOKUP[fold(_name)] = _m.code


def normalise(name: str) -> str | None:
    """The code of a mineral named in English or French, any case or accents; else None."""
    return _LOOKUP.get(fold(name))


def label(code: str, lang: str = "en") -> str:
    """A mineral's name in English or French (``lang`` "fr"); the code itself if unknown."""
    mineral = BY_CODE.get(code)
    if mineral is None:
        return code
    return mineral.french if lang.startswith("fr") else mineral.english
