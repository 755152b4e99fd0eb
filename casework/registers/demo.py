"""The registers of the demo instance (``filon init --demo``), loaded by the real importers.

Synthetic samples only (see ``samples/README.md``): the IPIS-style sites and visits, the
OpenStreetMap-style mine features, traders to brands, smelters and refiners, and chain links
from demo mine sites through traders, comptoirs and exporters to smelters, component makers
and brands, so that the map and the supply-chain graphs have something to show.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from casework.registers import ipis, links, osm
from casework.registers.actors import SAMPLE_ACTORS_CSV
from casework.registers.detect import import_actors_file
from casework.registers.report import ImportReport
from casework.registers.rmi import SAMPLE_SMELTERS_CSV

DATASETS = {
    "sites": "demo-ipis",
    "osm": "demo-osm",
    "actors": "demo-actors",
    "smelters": "demo-rmi",
}  # links_sample.csv names these datasets


def seed_registers(sessions: sessionmaker[Session]) -> tuple[list[ImportReport], str]:
    """Import the samples; the reports, and the lines ``filon init --demo`` prints."""
    sites = ipis.import_file(sessions, ipis.SAMPLE_CSV, dataset=DATASETS["sites"])
    mapped = osm.import_file(sessions, osm.SAMPLE_GEOJSON, dataset=DATASETS["osm"])
    actors = import_actors_file(
        sessions, SAMPLE_ACTORS_CSV, dataset=DATASETS["actors"], dry_run=False
    )
    smelters = import_actors_file(
        sessions, SAMPLE_SMELTERS_CSV, dataset=DATASETS["smelters"], dry_run=False
    )
    chain = links.import_file(sessions, links.SAMPLE_LINKS_CSV)
    text = (
        f"\nMine sites: {sites.sites_created} synthetic sites with {sites.visits_created}"
        f" visits loaded from {ipis.SAMPLE_CSV.name} (dataset {DATASETS['sites']})\n"
        f"OpenStreetMap-style mine sites: {mapped.created('sites')} from"
        f" {osm.SAMPLE_GEOJSON.name} (dataset {DATASETS['osm']})\n"
        f"Actors: {actors.created('actors')} traders to brands from {SAMPLE_ACTORS_CSV.name},"
        f" {smelters.created('actors')} smelters and refiners from {SAMPLE_SMELTERS_CSV.name}\n"
        f"Chain links: {chain.created('chain links')} from {links.SAMPLE_LINKS_CSV.name}\n"
    )
    return [sites, mapped, actors, smelters, chain], text
