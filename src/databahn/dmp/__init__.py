"""The Data Management Plan as a living tool (issue 6): plan model, the shipped BIG-MAP plan,
tracking of planned vs. actual data flows, the highway diagram, the DMP document and maDMP."""

from databahn.dmp.document import diff_documents, render_document_html, render_document_pdf
from databahn.dmp.highway import render_highway_svg, render_wp_svg
from databahn.dmp.loader import PlanError, PlanProblem, load_any, load_default_plan, load_plan, parse_plan
from databahn.dmp.madmp import MadmpError, export_madmp, import_madmp
from databahn.dmp.model import DataType, FairPolicy, Flow, Partner, Plan, Project, SizeClass, WorkPackage
from databahn.dmp.tracking import (
    ComplianceInput,
    DatasetFacts,
    FlowDelivery,
    LiveState,
    TrackingReport,
    compliance,
    deliveries_for_deposit,
    resolve_delivers,
    suggest_flows,
    track,
)

__all__ = [
    "ComplianceInput",
    "DataType",
    "DatasetFacts",
    "FairPolicy",
    "Flow",
    "FlowDelivery",
    "LiveState",
    "MadmpError",
    "Partner",
    "Plan",
    "PlanError",
    "PlanProblem",
    "Project",
    "SizeClass",
    "TrackingReport",
    "WorkPackage",
    "compliance",
    "deliveries_for_deposit",
    "diff_documents",
    "export_madmp",
    "import_madmp",
    "load_any",
    "load_default_plan",
    "load_plan",
    "parse_plan",
    "render_document_html",
    "render_document_pdf",
    "render_highway_svg",
    "render_wp_svg",
    "resolve_delivers",
    "suggest_flows",
    "track",
]
