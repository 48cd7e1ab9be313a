"""Sample data for `databahn demo`: small but realistic files from each kind of BIG-MAP work package.

The files are synthesised here (deterministically), so the demo needs nothing outside the package.
"""

from __future__ import annotations

import io
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import select

from databahn.db.models import User
from databahn.services.hub import Hub
from databahn.services.policy import Principal

ADMIN = "admin"


def _cycling_csv(rng: np.random.Generator, cycles: int = 5) -> bytes:
    """Galvanostatic cycling of an LFP||graphite cell, in Battery Data Format column names."""
    rows = ["Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1"]
    t = 0.0
    for cycle in range(1, cycles + 1):
        for step, sign in ((1, 1.0), (2, -1.0)):
            for i in range(120):
                frac = i / 119
                plateau = 3.30 + 0.05 * math.tanh(6 * (frac - 0.5)) * sign
                edge = 0.25 * (frac**12) * sign - 0.25 * ((1 - frac) ** 12) * sign
                voltage = plateau + edge + rng.normal(0, 0.002)
                rows.append(f"{t:.1f},{voltage:.4f},{sign * 0.0015:.5f},{cycle},{2 * cycle + step - 2}")
                t += 30.0
    return ("\n".join(rows) + "\n").encode()


def _eis_csv(rng: np.random.Generator) -> bytes:
    rows = ["Frequency / Hz,Z' / Ohm,-Z'' / Ohm"]
    for f in np.logspace(5, -1, 61):
        w = 2 * math.pi * f
        z = 5.0 + 20.0 / (1 + 1j * w * 20.0 * 1e-5) + (1 - 1j) * 8.0 / math.sqrt(w)
        rows.append(f"{f:.4g},{z.real + rng.normal(0, 0.05):.4f},{-z.imag:.4f}")
    return ("\n".join(rows) + "\n").encode()


def _xrd_xy(rng: np.random.Generator) -> bytes:
    two_theta = np.arange(10, 80, 0.02)
    peaks = [(18.7, 900), (36.6, 300), (37.9, 180), (44.4, 600), (48.6, 120), (58.6, 140), (64.4, 260)]
    y = 40 + sum(h * np.exp(-((two_theta - c) ** 2) / (2 * 0.06**2)) for c, h in peaks)
    y = y + rng.normal(0, 3, two_theta.size)
    lines = ["# NMC811 powder, Cu K-alpha, 2theta/deg intensity/counts"]
    lines += [f"{a:.2f} {b:.1f}" for a, b in zip(two_theta, y, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _xas_xdi(rng: np.random.Generator) -> bytes:
    energy = np.arange(8200, 8600, 1.0)
    mu = 1 / (1 + np.exp(-(energy - 8345) / 2.0)) + 0.05 * np.sin((energy - 8345) / 12) * (energy > 8350)
    lines = [
        "# XDI/1.0 Databahn-demo/0.1",
        "# Column.1: energy eV",
        "# Column.2: mutrans",
        "# Element.symbol: Ni",
        "# Element.edge: K",
        "# Mono.d_spacing: 3.13551",
        "# Sample.name: NMC811 cathode, pristine",
        "#------",
        "# energy mutrans",
    ]
    lines += [f"{e:.1f} {m + rng.normal(0, 0.002):.5f}" for e, m in zip(energy, mu, strict=True)]
    return ("\n".join(lines) + "\n").encode()


_LICOO2_CIF = """data_LiCoO2
_symmetry_space_group_name_H-M   'R -3 m'
_cell_length_a   2.8156
_cell_length_b   2.8156
_cell_length_c   14.0542
_cell_angle_alpha   90
_cell_angle_beta    90
_cell_angle_gamma   120
_symmetry_Int_Tables_number   166
loop_
_symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Li1 Li 0.0 0.0 0.5 1.0
Co1 Co 0.0 0.0 0.0 1.0
O1 O 0.0 0.0 0.2604 1.0
"""

_POSCAR = """LiCoO2 relaxed (PBE+U)
1.0
   2.8156000000   0.0000000000   0.0000000000
  -1.4078000000   2.4383800000   0.0000000000
   0.0000000000   0.0000000000  14.0542000000
Li Co O
3 3 6
Direct
0.0000 0.0000 0.5000
0.6667 0.3333 0.8333
0.3333 0.6667 0.1667
0.0000 0.0000 0.0000
0.6667 0.3333 0.3333
0.3333 0.6667 0.6667
0.0000 0.0000 0.2604
0.0000 0.0000 0.7396
0.6667 0.3333 0.5937
0.6667 0.3333 0.0729
0.3333 0.6667 0.9271
0.3333 0.6667 0.4063
"""


def _synthesis_csv(rng: np.random.Generator) -> bytes:
    rows = ["sample_id,LiPF6 / mol/L,EC / wt%,EMC / wt%,FEC / wt%,conductivity / mS/cm"]
    for i in range(24):
        salt = 0.6 + 0.05 * i
        fec = [0, 2, 5, 10][i % 4]
        ec = 30 - fec / 2
        cond = 11.5 - 4 * (salt - 1.1) ** 2 - 0.08 * fec + rng.normal(0, 0.1)
        rows.append(f"ODIN-{i + 1:03d},{salt:.2f},{ec:.1f},{100 - ec - fec:.1f},{fec},{cond:.2f}")
    return ("\n".join(rows) + "\n").encode()


def _samples() -> list[dict[str, Any]]:
    rng = np.random.default_rng(2020)
    creators = {
        "DTU": {"name": "Vegge, Tejs", "affiliation": [{"name": "Technical University of Denmark"}]},
        "KIT": {"name": "Stein, Helge", "affiliation": [{"name": "Karlsruhe Institute of Technology"}]},
        "CNRS": {"name": "Edström, Kristina", "affiliation": [{"name": "Uppsala University"}]},
        "SINTEF": {
            "name": "Clark, Simon",
            "orcid": "0000-0002-8758-6109",
            "affiliation": [{"name": "SINTEF"}],
        },
        "ESRF": {"name": "Rennie, Anne", "affiliation": [{"name": "ESRF"}]},
    }
    common = {
        "license": "CC-BY-4.0",
        "language": "en",
        "funding": [{"funder": "European Commission", "award_number": "957189", "award_title": "BIG-MAP"}],
    }
    return [
        {
            "metadata": {
                **common,
                "title": "Galvanostatic cycling of LFP||graphite coin cells at 25 °C",
                "description": "Five C/10 cycles of a CR2032 LFP||graphite coin cell, exported in the "
                "Battery Data Format. Raw cycler data for the high-throughput testing pipeline.",
                "creators": [creators["SINTEF"]],
                "keywords": ["GalvanostaticCycling", "CoinCell", "LithiumIronPhosphate", "Graphite"],
                "work_package": "WP6",
                "partner": "SINTEF",
                "interface_aspect": "Electrode–electrolyte interface",
                "method": {
                    "name": "Galvanostatic cycling",
                    "protocol": "BIG-MAP SOP 6.1 formation and cycling",
                },
                "data_level": "raw",
                "fidelity": "laboratory coin cell",
                "dimensionality": "1D time series",
                "generated_on": "2024-03-14",
            },
            "files": {"cycling/LFP_graphite_cell01.bdf.csv": _cycling_csv(rng)},
        },
        {
            "metadata": {
                **common,
                "title": "Impedance spectra of NMC811 half cells after formation",
                "description": "Potentiostatic EIS (100 kHz – 0.1 Hz, 10 mV) of NMC811 half cells.",
                "creators": [creators["KIT"]],
                "keywords": ["ElectrochemicalImpedanceSpectroscopy", "NMC811", "HalfCell"],
                "work_package": "WP6",
                "partner": "KIT",
                "interface_aspect": "Cathode electrolyte interphase",
                "method": {"name": "Electrochemical impedance spectroscopy", "protocol": "BIG-MAP SOP 6.4"},
                "data_level": "processed",
                "fidelity": "laboratory half cell",
                "dimensionality": "1D spectrum",
                "generated_on": "2024-05-02",
            },
            "files": {"eis/NMC811_halfcell_EIS.csv": _eis_csv(rng)},
        },
        {
            "metadata": {
                **common,
                "title": "Powder X-ray diffraction of pristine NMC811",
                "description": "Laboratory XRD (Cu Kα) of pristine LiNi0.8Mn0.1Co0.1O2 powder.",
                "creators": [creators["CNRS"]],
                "keywords": ["XRayDiffraction", "NMC811", "CathodeActiveMaterial"],
                "work_package": "WP5",
                "partner": "UU",
                "interface_aspect": "Cathode bulk structure",
                "method": {"name": "X-ray diffraction", "instrument": "Bruker D8 Advance"},
                "data_level": "raw",
                "fidelity": "laboratory diffractometer",
                "dimensionality": "1D pattern",
                "generated_on": "2023-11-20",
            },
            "files": {"NMC811_pristine.xy": _xrd_xy(rng)},
        },
        {
            "metadata": {
                **common,
                "title": "Ni K-edge XANES of NMC811 cathodes (operando cell, pristine state)",
                "description": "Synchrotron X-ray absorption at the Ni K-edge. The full operando series "
                "(2.1 TB) stays at the facility and is referenced by DOI.",
                "creators": [creators["ESRF"]],
                "keywords": ["XRayAbsorptionSpectroscopy", "NMC811", "Operando"],
                "work_package": "WP5",
                "partner": "ESRF",
                "interface_aspect": "Cathode electrolyte interphase",
                "method": {"name": "X-ray absorption spectroscopy", "instrument": "ESRF BM23"},
                "data_level": "processed",
                "fidelity": "synchrotron",
                "dimensionality": "1D spectrum",
                "generated_on": "2024-02-08",
            },
            "files": {"NMC811_NiK_pristine.xdi": _xas_xdi(rng)},
            "external": [
                ("operando_series", "https://doi.org/10.15151/ESRF-ES-000000000", 2_100_000_000_000)
            ],
        },
        {
            "metadata": {
                **common,
                "title": "DFT+U relaxed structure of LiCoO2",
                "description": "PBE+U (U=3.3 eV on Co) relaxation of layered LiCoO2 in the R-3m structure.",
                "creators": [creators["DTU"]],
                "keywords": ["DensityFunctionalTheory", "LiCoO2", "CrystalStructure"],
                "work_package": "WP2",
                "partner": "DTU",
                "interface_aspect": "Cathode bulk structure",
                "method": {"name": "Density functional theory", "protocol": "PBE+U, 520 eV cutoff"},
                "data_level": "output",
                "fidelity": "DFT-PBE+U",
                "dimensionality": "3D structure",
                "software": [{"name": "VASP", "version": "6.4.2"}],
                "generated_on": "2023-09-30",
            },
            "files": {"LiCoO2.cif": _LICOO2_CIF.encode(), "POSCAR": _POSCAR.encode()},
        },
        {
            "metadata": {
                **common,
                "title": "Robotic formulation screen of LiPF6 carbonate electrolytes",
                "description": "Ionic conductivity of 24 electrolyte formulations prepared by the ODIN "
                "robotic platform (LiPF6 in EC/EMC with FEC additive).",
                "creators": [creators["KIT"]],
                "keywords": ["Electrolyte", "IonicConductivity", "HighThroughput"],
                "work_package": "WP4",
                "partner": "KIT",
                "interface_aspect": "Electrolyte bulk",
                "method": {"name": "Conductivity measurement", "protocol": "ODIN SOP v2"},
                "data_level": "analysed",
                "fidelity": "robotic screening",
                "dimensionality": "tabular",
                "generated_on": "2024-06-11",
            },
            "files": {"formulations.csv": _synthesis_csv(rng)},
        },
        {
            "metadata": {
                **common,
                "title": "Continuum model parameters for graphite SEI growth",
                "description": "Parameter set for a P2D model with SEI growth, fitted to cycling data.",
                "creators": [creators["DTU"]],
                "keywords": ["SolidElectrolyteInterphase", "Graphite", "ContinuumModel"],
                "work_package": "WP3",
                "partner": "DTU",
                "interface_aspect": "Solid electrolyte interphase",
                "method": {"name": "Continuum modelling"},
                "data_level": "output",
                "fidelity": "P2D continuum model",
                "dimensionality": "parameter set",
                "generated_on": "2024-04-22",
            },
            "files": {
                "sei_parameters.json": json.dumps(
                    {
                        "model": "DFN + SEI (solvent diffusion limited)",
                        "parameters": {
                            "SEI solvent diffusivity [m2.s-1]": 2.5e-22,
                            "SEI partial molar volume [m3.mol-1]": 9.585e-5,
                            "Initial SEI thickness [m]": 5e-9,
                        },
                    },
                    indent=2,
                ).encode()
            },
        },
    ]


def load_demo(hub: Hub, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create the admin, load the samples once, and return a fresh admin token and the password."""
    say = progress or (lambda _m: None)
    password_file = hub.home / "demo-admin-password.txt"
    with hub.read() as s:
        admin = s.scalar(select(User).where(User.username == ADMIN))
    if admin is None:
        password = secrets.token_urlsafe(12)
        hub.users.add(
            ADMIN, name="Demo Administrator", email="admin@example.org", is_admin=True, password=password
        )
        password_file.write_text(password)
        password_file.chmod(0o600)
    password = password_file.read_text().strip() if password_file.exists() else "(unchanged)"
    info = hub.users.get(ADMIN)
    principal = Principal(user_id=info.id, username=info.username, is_admin=True)
    marker = hub.home / "demo-loaded"
    count = 0
    background = hub.settings.background_jobs
    hub.settings.background_jobs = False  # extract the samples now, so their pages show previews
    if not marker.exists():
        for sample in _samples():
            record = hub.datasets.create(principal, sample["metadata"])
            for key, content in sample["files"].items():
                hub.files.put(principal, record.pid, key, io.BytesIO(content))
            for key, url, size in sample.get("external", []):
                hub.files.add_external(principal, record.pid, key, url, size=size)
            hub.datasets.publish(principal, record.pid)
            count += 1
            say(f"loaded {record.pid}  {sample['metadata']['title']}")
        # a second version, so the demo shows versioning
        first = hub.datasets.search(principal, _query("LFP graphite")).hits
        if first:
            draft = hub.datasets.new_version(principal, first[0].concept_pid)
            rng = np.random.default_rng(7)
            hub.files.put(
                principal, draft.pid, "cycling/LFP_graphite_cell02.bdf.csv", io.BytesIO(_cycling_csv(rng))
            )
            meta = draft.metadata.model_dump(mode="json", exclude_none=True)
            meta["description"] += " Version 2 adds a second cell."
            hub.datasets.update_metadata(principal, draft.pid, meta)
            hub.datasets.publish(principal, draft.pid)
            say(f"published {draft.pid} (a second version)")
        marker.write_text("ok\n")
    else:
        say("sample data already loaded")
    hub.settings.background_jobs = background
    with hub.read() as s:
        from sqlalchemy import func

        from databahn.db.models import Dataset

        total = s.scalar(select(func.count()).select_from(Dataset)) or count
    token = hub.users.create_token(ADMIN, name="demo").secret
    return {"datasets": total, "token": token, "password": password}


def _query(text: str) -> Any:
    from databahn.search.index import SearchQuery

    return SearchQuery(text=text, with_facets=False)
