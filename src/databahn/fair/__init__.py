"""FAIR self-assessment (F-UJI-style metrics) and the configurable publication gate."""

from databahn.fair.assess import (
    METRICS,
    FairConfig,
    FairReport,
    GateDecision,
    MetricResult,
    Status,
    assess,
    gate,
    publication_problems,
)

__all__ = [
    "METRICS",
    "FairConfig",
    "FairReport",
    "GateDecision",
    "MetricResult",
    "Status",
    "assess",
    "gate",
    "publication_problems",
]
