"""Write a synthetic filled CMRT and EMRT (.xlsx) to a folder, for trying ``filon import-actors``.

The workbooks are generated rather than shipped (no binary in the repository): run
``python casework/registers/samples/make_rmi_sample.py OUT_DIR``. They carry only the sheets the
importer reads, laid out as the RMI templates lay them out: "Smelter List" with its title rows
and the template's column names in row 4 (CMRT 6.x; EMRT 2.x adds "Mine List"). Every smelter,
id (``CID9…``, a range the RMI has not used) and mine is invented.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

SMELTER_HEADER = [
    "Smelter Identification Number Input Column",
    "Metal (*)",
    "Smelter Look-up (*)",
    "Smelter Name (1)",
    "Smelter Country (*)",
    "Smelter Identification",
    "Source of Smelter Identification Number",
    "Smelter Street ",  # sic: the template's column name ends with a space
    "Smelter City",
    "Smelter Facility Location: State / Province",
    "Smelter Contact Name",
    "Smelter Contact Email",
    "Proposed next steps",
    'Name of Mine(s) or if recycled or scrap sourced, enter "recycled" or "scrap"',
    'Location (Country) of Mine(s) or if recycled or scrap sourced, enter "recycled" or "scrap"',
    "Does 100% of the smelter’s feedstock originate from recycled or scrap sources?",
    "Comments",
]
MINE_HEADER = [
    "Metal",
    "Name of Smelter(s) sourcing from this Mine Facility",
    "Mine Facility (Site) Name",
    "Mine Identification",
    "Source of Mine Identification Number",
    "Mine Facility (Site) Country",
    "Mine Facility Street",
    "Mine Facility City",
    "Mine Facility Location: State / Province",
    "Mine Facility Contact Name",
    "Mine Facility Contact Email",
    "Proposed next steps",
    "Comments",
]
DRC = "Congo, Democratic Republic of the"
CMRT_SMELTERS = [
    # id input, metal, look-up, name, country, id, id source, street, city, province
    ("CID900001", "Tin", "Fonderie Exemple Étain (synthetic)", "Malaysia", "Jalan Contoh 1"),
    ("CID900002", "Tantalum", "Tantalum Example Works (synthetic)", "China", ""),
    ("CID900003", "Tungsten", "Tungsten Example Smelter (synthetic)", "Viet Nam", ""),
    ("CID900004", "Gold", "Gold Example Refinery (synthetic)", "Switzerland", "Rue Exemple 4"),
]
EMRT_SMELTERS = [
    ("CID900005", "Cobalt", "Cobalt Example Refinery (synthetic)", "China", ""),
    ("CID900010", "Copper", "Copper Example Processor (synthetic)", "Zambia", ""),
]
EMRT_MINES = [
    # metal, smelter(s), mine name, mine id, country, province
    ("Cobalt", "Cobalt Example Refinery (synthetic)", "Kasulo-Exemple (synthetic)", "", DRC),
    ("Copper", "Copper Example Processor (synthetic)", "Mine Kamoto-Sud (synthetic)", "", DRC),
    ("Cobalt", "CID900005", "Mutoshi-Exemple (synthetic)", "SYN-MINE-3", DRC),
]


def smelter_sheet(workbook: Workbook, smelters: list[tuple[str, str, str, str, str]]) -> None:
    sheet = workbook.create_sheet("Smelter List")
    sheet["A1"] = "Smelter List (synthetic sample)"
    sheet["A2"] = "Columns with (*) are mandatory fields"
    for column, name in enumerate(SMELTER_HEADER, start=1):
        sheet.cell(row=4, column=column, value=name)
    for row, (cid, metal, name, country, street) in enumerate(smelters, start=5):
        values = [cid, metal, name, name, country, cid, "RMI", street, "", ""]
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row, column=column, value=value or None)


def mine_sheet(workbook: Workbook) -> None:
    sheet = workbook.create_sheet("Mine List")
    sheet["A1"] = "Mine List (synthetic sample)"
    for column, name in enumerate(MINE_HEADER, start=1):
        sheet.cell(row=4, column=column, value=name)
    for row, (metal, smelter, mine, mine_id, country) in enumerate(EMRT_MINES, start=5):
        values = [metal, smelter, mine, mine_id, "", country, "", "", "Lualaba"]
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row, column=column, value=value or None)


def write_cmrt(path: Path) -> Path:
    """A filled CMRT with four 3TG smelters."""
    workbook = Workbook()
    workbook.active.title = "Declaration"
    smelter_sheet(workbook, CMRT_SMELTERS)
    workbook.save(path)
    return path


def write_emrt(path: Path) -> Path:
    """A filled EMRT (2.x) with two smelters and three mines supplying them."""
    workbook = Workbook()
    workbook.active.title = "Declaration"
    smelter_sheet(workbook, EMRT_SMELTERS)
    mine_sheet(workbook)
    workbook.save(path)
    return path


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(write_cmrt(out / "cmrt_sample.xlsx"))
    print(write_emrt(out / "emrt_sample.xlsx"))


if __name__ == "__main__":
    main()
