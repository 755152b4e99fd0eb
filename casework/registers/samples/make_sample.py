"""Write the synthetic IPIS-style sample (``ipis_sample.csv`` and ``.geojson``) beside this file.

Everything is invented from a fixed seed: site names, codes, coordinates, numbers. Run it
again and the files come out byte for byte the same.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "pcode", "vid", "name", "visit_date", "longitude", "latitude", "province", "territoire",
    "village", "workers_numb", "mineral1", "mineral2", "mineral3", "presence", "interference",
    "armed_group1", "armed_group2", "armed_group3", "type_armed_group1", "state_service1",
    "state_service2", "state_service3", "state_service4", "itsci", "qualification",
]  # fmt: skip
PLACES = [
    ("Nord-Kivu", "Masisi", -1.55, 28.85),
    ("Nord-Kivu", "Walikale", -1.35, 28.10),
    ("Sud-Kivu", "Kalehe", -2.05, 28.75),
    ("Sud-Kivu", "Mwenga", -3.05, 28.45),
    ("Sud-Kivu", "Shabunda", -2.75, 27.40),
    ("Ituri", "Mambasa", 1.30, 29.05),
    ("Maniema", "Punia", -1.50, 26.60),
    ("Tanganyika", "Kalemie", -5.20, 29.05),
]
MINERALS = ["Cassitérite", "Or", "Coltan", "Wolframite", "Tourmaline", "or", "cassiterite"]
GROUPS = ["Groupe armé A (fictif)", "Groupe armé B (fictif)", "Milice C (fictive)"]
SERVICES = ["SAEMAPE", "Division des Mines", "Police des Mines", "ANR"]
SYLLABLES = ["ka", "bu", "lo", "nge", "mi", "so", "ta", "ri", "ma", "ndu", "zi", "we"]


def date_text(rng: random.Random, day: dt.date) -> str:
    """The same date in one of the formats the real data mixes."""
    style = rng.randrange(5)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return day.strftime("%d/%m/%Y")
    if style == 2:
        return day.strftime("%Y/%m/%d")
    if style == 3:
        return f"{day.day}-{day.strftime('%b-%Y')}"
    return str((day - dt.date(1899, 12, 30)).days)  # an Excel serial number


def rows() -> list[dict[str, str]]:
    rng = random.Random(20261122)  # noqa: S311 - a fixed seed for invented data, not secrets
    out: list[dict[str, str]] = []
    vid = 0
    for number in range(1, 31):
        province, territoire, lat0, lon0 = PLACES[number % len(PLACES)]
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        lat = round(lat0 + rng.uniform(-0.3, 0.3), 5)
        lon = round(lon0 + rng.uniform(-0.3, 0.3), 5)
        visits = 1 + (number % 3)  # 1, 2 or 3 visits: 60 in all
        first = dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(900))
        for k in range(visits):
            vid += 1
            minerals = rng.sample(MINERALS[:5], rng.randrange(1, 3))
            armed = rng.random() < 0.3
            row = dict.fromkeys(COLUMNS, "")
            row.update(
                pcode=f"SYN-{number:04d}",
                vid=f"SYNV-{vid:04d}",
                name=f"{name} (synthetic)",
                visit_date=date_text(rng, first + dt.timedelta(days=400 * k)),
                longitude=f"{lon + rng.uniform(-0.001, 0.001):.5f}",
                latitude=f"{lat + rng.uniform(-0.001, 0.001):.5f}",
                province=province,
                territoire=territoire,
                village=f"Village {name[:4]}",
                workers_numb=str(rng.randrange(20, 800)),
                presence="1" if armed else "0",
                interference="1" if armed and rng.random() < 0.5 else "0",
                itsci=rng.choice(["yes", "no", ""]),
                qualification=rng.choice(["vert", "jaune", "rouge", "non qualifié"]),
            )
            for i, mineral in enumerate(minerals, start=1):
                row[f"mineral{i}"] = mineral
            if armed:
                row["armed_group1"] = rng.choice(GROUPS)
                row["type_armed_group1"] = "groupe armé"
            for i, service in enumerate(rng.sample(SERVICES, rng.randrange(0, 3)), start=1):
                row[f"state_service{i}"] = service
            out.append(row)
    # Deliberately malformed rows, which the import must report by line.
    bad = dict(out[0], vid="SYNV-9001", visit_date="31/02/2017")
    no_code = dict(out[1], vid="SYNV-9002", pcode="")
    off_map = dict(out[2], vid="SYNV-9003", latitude="200")
    return out[:20] + [bad] + out[20:40] + [no_code] + out[40:] + [off_map]


def main() -> None:
    data = rows()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    (HERE / "ipis_sample.csv").write_text(text.getvalue(), encoding="utf-8")
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [float(row["longitude"]), float(row["latitude"])],
            },
            "properties": row,
        }
        for row in data
    ]
    document = {"type": "FeatureCollection", "features": features}
    (HERE / "ipis_sample.geojson").write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
