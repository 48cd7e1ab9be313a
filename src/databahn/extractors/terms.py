"""BattINFO / EMMO / CHAMEO IRIs for techniques and quantities, by ontology prefLabel.

A flat `label -> IRI` dict so both extractor families can share it and append to it. The IRIs were
looked up in the shared ontology (`shared/ontology`, skos:prefLabel); never invent one here.
"""

from __future__ import annotations

CHAMEO = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#"
EMMO = "https://w3id.org/emmo#"
ECHEM = "https://w3id.org/emmo/domain/electrochemistry#"
BATTERY = "https://w3id.org/emmo/domain/battery#"

TERMS: dict[str, str] = {
    # techniques
    "GalvanostaticCycling": ECHEM + "electrochemistry_79a8802e_8296_459a_b65d_6e5c79e1bf37",
    "ConstantCurrentConstantVoltageCycling": ECHEM + "electrochemistry_ac6c2371_995a_4fcb_89a2_15cb6615741e",
    "Cycling": ECHEM + "electrochemistry_d3e2d213_d078_4b9a_8beb_62f063e57d69",
    "BatteryCycling": BATTERY + "battery_1d33b96d_f362_41e5_b670_d33cd6a7ab28",
    "CyclicVoltammetry": CHAMEO + "CyclicVoltammetry",
    "LinearScanVoltammetry": CHAMEO + "LinearScanVoltammetry",
    "Voltammetry": CHAMEO + "Voltammetry",
    "ElectrochemicalImpedanceSpectroscopy": CHAMEO + "ElectrochemicalImpedanceSpectroscopy",
    "Chronoamperometry": CHAMEO + "Chronoamperometry",
    "Chronopotentiometry": CHAMEO + "Chronopotentiometry",
    "CyclicChronopotentiometry": CHAMEO + "CyclicChronopotentiometry",
    "OpenCircuitHold": CHAMEO + "OpenCircuitHold",
    "Potentiometry": CHAMEO + "Potentiometry",
    "GalvanostaticIntermittentTitrationTechnique": CHAMEO + "GalvanostaticIntermittentTitrationTechnique",
    "ElectrochemicalTesting": CHAMEO + "ElectrochemicalTesting",
    # structure / diffraction / absorption / simulation techniques (chameo.ttl, emmo/disciplines/models.ttl)
    "XrayDiffraction": CHAMEO + "XrayDiffraction",
    "XrayPowderDiffraction": CHAMEO + "XrayPowderDiffraction",
    "ScatteringAndDiffraction": CHAMEO + "ScatteringAndDiffraction",
    "Exafs": CHAMEO + "Exafs",
    "Nexafs": CHAMEO + "Nexafs",
    "ElectronicModel": EMMO + "EMMO_6eca09be_17e9_445e_abc9_000aa61b7a11",
    "AtomisticModel": EMMO + "EMMO_84cadc45_6758_46f2_ba2a_5ead65c70213",
    "Simulation": EMMO + "EMMO_9335cf09_431f_4613_9dab_ce4ceaca965b",
    # quantities
    "Time": EMMO + "EMMO_d4f7d378_5e3b_468a_baa1_a7e98358cda7",
    "TestTime": ECHEM + "electrochemistry_27b3799c_250c_4332_8b71_7992c4a7bb05",
    "StepTime": ECHEM + "electrochemistry_80ca00f8_c891_4493_87a2_7d39b9d1e098",
    "Voltage": EMMO + "EMMO_17b031fb_4695_49b6_bb69_189ec63df3ee",
    "CellVoltage": ECHEM + "electrochemistry_4ebe2ef1_eea8_4b10_822d_7a68215bd24d",
    "ElectricPotential": EMMO + "EMMO_4f2d3939_91b1_4001_b8ab_7d19074bf845",
    "OpenCircuitVoltage": ECHEM + "electrochemistry_9c657fdc_b9d3_4964_907c_f9a6e8c5f52b",
    "ElectricCurrent": EMMO + "EMMO_c995ae70_3b84_4ebb_bcfc_69e6a281bb88",
    "ElectricCharge": EMMO + "EMMO_1604f495_328a_4f28_9962_f4cc210739dd",
    "Energy": EMMO + "EMMO_31ec09ba_1713_42cb_83c7_b38bf6f9ced2",
    "CelsiusTemperature": EMMO + "EMMO_66bc9029_f473_45ff_bab9_c3509ff37a22",
    "ThermodynamicTemperature": EMMO + "EMMO_affe07e4_e9bc_4852_86c6_69e26182a17f",
    "Frequency": EMMO + "EMMO_852b4ab8_fc29_4749_a8c7_b92d4fca7d5a",
    "ElectricImpedance": EMMO + "EMMO_79a02de5_b884_4eab_bc18_f67997d597a2",
}

#: human technique label (as shown to users) -> TERMS key
TECHNIQUE_LABELS: dict[str, str] = {
    "galvanostatic cycling": "GalvanostaticCycling",
    "constant current constant voltage cycling": "ConstantCurrentConstantVoltageCycling",
    "battery cycling": "BatteryCycling",
    "cyclic voltammetry": "CyclicVoltammetry",
    "linear sweep voltammetry": "LinearScanVoltammetry",
    "electrochemical impedance spectroscopy": "ElectrochemicalImpedanceSpectroscopy",
    "chronoamperometry": "Chronoamperometry",
    "chronopotentiometry": "Chronopotentiometry",
    "open circuit voltage": "OpenCircuitHold",
    "galvanostatic intermittent titration": "GalvanostaticIntermittentTitrationTechnique",
    "electrochemical testing": "ElectrochemicalTesting",
    "xrd": "XrayDiffraction",
    "x-ray diffraction": "XrayDiffraction",
    "x-ray powder diffraction": "XrayPowderDiffraction",
    "neutron powder diffraction": "ScatteringAndDiffraction",
    # the ontology has EXAFS and NEXAFS (=XANES) but no generic XAS class
    "xas": "Exafs",
    "exafs": "Exafs",
    "xanes": "Nexafs",
    # DFT is an electronic model in EMMO; MD and force-field runs are atomistic models
    "dft simulation": "ElectronicModel",
    "atomistic simulation": "AtomisticModel",
    "simulation": "Simulation",
}


def technique_iri(label: str | None) -> str | None:
    """IRI for a human technique label such as 'cyclic voltammetry' (None if unknown)."""
    if not label:
        return None
    key = TECHNIQUE_LABELS.get(label.lower())
    return TERMS.get(key) if key else None
