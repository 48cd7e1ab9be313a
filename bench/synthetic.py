"""Realistic synthetic metadata at scale (100,000+ datasets) for search benchmarks.

Rows are bulk-inserted straight into the tables (bypassing per-dataset API calls, which would
measure ingest instead of search), then indexed with the same code the hub uses
(`facet_values`, `document_text`, the FTS engine), so the index is exactly what real deposits make.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from sqlalchemy import insert, select, text

from databahn.db.models import Dataset, SearchDoc, SearchFacet, User, Version
from databahn.search.index import document_text, facet_values
from databahn.services.hub import Hub

MATERIALS = [
    "LFP",
    "NMC811",
    "NMC622",
    "LCO",
    "LMFP",
    "graphite",
    "silicon",
    "Li metal",
    "LNMO",
    "NCA",
    "Na3V2(PO4)3",
    "hard carbon",
    "LiPF6 EC/EMC",
    "LiFSI",
    "Li6PS5Cl",
    "LLZO",
    "PEO",
]
TECHNIQUES = [
    ("Galvanostatic cycling", "WP6"),
    ("Cyclic voltammetry", "WP6"),
    ("Electrochemical impedance spectroscopy", "WP6"),
    ("X-ray diffraction", "WP5"),
    ("X-ray absorption spectroscopy", "WP5"),
    ("X-ray photoelectron spectroscopy", "WP5"),
    ("Density functional theory", "WP2"),
    ("Molecular dynamics", "WP2"),
    ("Kinetic Monte Carlo", "WP3"),
    ("Continuum modelling", "WP3"),
    ("Robotic synthesis", "WP4"),
    ("Bayesian optimisation", "WP10"),
]
PARTNERS = [
    "DTU",
    "KIT",
    "CNRS",
    "UU",
    "SINTEF",
    "CEA",
    "ESRF",
    "ILL",
    "PSI",
    "WWU",
    "POLITO",
    "VITO",
    "FZJ",
    "Chalmers",
    "EPFL",
    "TUM",
    "UCL",
    "Oxford",
]
ASPECTS = [
    "solid electrolyte interphase",
    "cathode electrolyte interphase",
    "electrode bulk structure",
    "electrolyte bulk",
    "particle surface",
    "grain boundaries",
    "dendrite growth",
]
LEVELS = ["raw", "processed", "analysed", "output"]
LICENSES = ["CC-BY-4.0", "CC-BY-4.0", "CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "MIT"]
FORMATS = {
    "WP6": ["mpr", "csv", "ndax", "res"],
    "WP5": ["xy", "xrdml", "xdi", "h5"],
    "WP2": ["cif", "xml", "traj"],
    "WP3": ["json", "h5"],
    "WP4": ["csv", "json"],
    "WP10": ["json", "pt"],
}
SURNAMES = [
    "Vegge",
    "Stein",
    "Edström",
    "Clark",
    "Castelli",
    "Bhowmik",
    "Flores",
    "Rennie",
    "Berecibar",
    "Fichtner",
    "Kuhn",
    "Amici",
    "Tarascon",
    "Grey",
    "Ceder",
    "Persson",
    "Jankowski",
    "García",
]


class _Files:
    def __init__(self, keys: list[str]) -> None:
        self.files = [type("F", (), {"key": k})() for k in keys]


def make_metadata(rng: random.Random, i: int) -> tuple[dict[str, Any], list[str]]:
    technique, wp = rng.choice(TECHNIQUES)
    material = rng.choice(MATERIALS)
    other = rng.choice(MATERIALS)
    partner = rng.choice(PARTNERS)
    day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 1400))
    temp = rng.choice([-10, 0, 25, 45, 60])
    title = f"{technique} of {material}" + (f" with {other}" if rng.random() < 0.4 else "") + f" at {temp} °C"
    creators = [
        {"name": f"{rng.choice(SURNAMES)}, {chr(65 + rng.randrange(26))}."} for _ in range(rng.randint(1, 4))
    ]
    meta = {
        "title": title,
        "creators": creators,
        "description": (
            f"{technique} data for {material} ({rng.choice(ASPECTS)}), campaign {i % 997}, "
            f"cell {rng.randint(1, 64)}, {rng.choice(['C/10', 'C/5', '1C', '2C'])} rate."
        ),
        "license": rng.choice(LICENSES),
        "keywords": sorted({technique.replace(" ", ""), material, rng.choice(ASPECTS)}),
        "work_package": wp,
        "partner": partner,
        "interface_aspect": rng.choice(ASPECTS),
        "method": {"name": technique},
        "data_level": rng.choice(LEVELS),
        "generated_on": day.isoformat(),
        "version": "1.0.0",
    }
    keys = [f"data_{j}.{rng.choice(FORMATS[wp])}" for j in range(rng.randint(1, 3))]
    return meta, keys


def populate(hub: Hub, n: int, *, seed: int = 42, batch: int = 2000, log: Any = print) -> float:
    """Insert n published datasets with their search index; returns seconds taken."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    with hub.write() as s:
        owner = s.scalar(select(User.id).where(User.username == "bench"))
        if owner is None:
            s.execute(insert(User).values(username="bench", is_admin=False, created=dt.datetime.now(dt.UTC)))
            owner = s.scalar(select(User.id).where(User.username == "bench"))
        start = (s.scalar(text("SELECT COALESCE(MAX(id), 0) FROM datasets")) or 0) + 1
    now = dt.datetime.now(dt.UTC)
    done = 0
    while done < n:
        size = min(batch, n - done)
        datasets, versions, docs, facets, fts = [], [], [], [], []
        for k in range(size):
            i = start + done + k
            meta, keys = make_metadata(rng, i)
            pid = f"{i:08x}"
            concept = f"b{pid[1:4]}-{pid[4:8]}"
            published = now - dt.timedelta(minutes=n - done - k)
            datasets.append({"id": i, "pid": concept, "owner_id": owner, "created": published})
            versions.append(
                {
                    "id": i,
                    "dataset_id": i,
                    "pid": f"{concept}.v1",
                    "number": 1,
                    "state": "published",
                    "access": "public",
                    "metadata_only": False,
                    "meta": meta,
                    "extracted": {},
                    "version_label": "1.0.0",
                    "generated_on": dt.date.fromisoformat(meta["generated_on"]),
                    "is_latest": True,
                    "created": published,
                    "updated": published,
                    "published_at": published,
                }
            )
            fake_version = type("V", (), {"access": "public", "published_at": published})()
            files = _Files(keys).files
            body = document_text(meta, files, [concept, f"{concept}.v1"], {})
            docs.append(
                {
                    "version_id": i,
                    "dataset_id": i,
                    "published_at": published,
                    "title_sort": meta["title"].lower()[:200],
                    "state": "published",
                    "access": "public",
                    "metadata_only": False,
                    "embargo_until": None,
                    "owner_id": owner,
                    "rev": 1,
                }
            )
            for key, value in dict.fromkeys(facet_values(meta, files, fake_version)):  # type: ignore[arg-type]
                facets.append({"version_id": i, "key": key, "value": value})
            fts.append({"id": i, "title": meta["title"], "body": body})
        with hub.write() as s:
            s.execute(insert(Dataset), datasets)
            s.execute(insert(Version), versions)
            s.execute(insert(SearchDoc), docs)
            s.execute(insert(SearchFacet), facets)
            if hub.engine.dialect.name == "sqlite":
                s.execute(text("INSERT INTO search_fts(rowid, title, body) VALUES (:id, :title, :body)"), fts)
            else:
                s.execute(
                    text(
                        "UPDATE search_docs SET tsv = setweight(to_tsvector('english', :title), 'A') || "
                        "setweight(to_tsvector('english', :body), 'B') WHERE version_id = :id"
                    ),
                    fts,
                )
        done += size
        if done % 20000 == 0 or done == n:
            log(f"  generated {done:,} / {n:,} datasets")
    with hub.write() as s:
        if hub.engine.dialect.name == "sqlite":
            s.execute(text("ANALYZE"))
        else:
            s.execute(text("ANALYZE"))
    return time.perf_counter() - t0
