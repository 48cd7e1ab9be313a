"""JSON API of the provenance plugin: activities, samples, lineage, impact, graph SVG, model cards, AiiDA.

Thin: each route is one call to `hub.ext["provenance"]`, which applies the access policy.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from databahn.api.deps import get_hub, get_principal
from databahn.errors import InvalidInput, PayloadTooLarge
from databahn.services.hub import Hub
from databahn.services.policy import Principal

router = APIRouter(prefix="/api", tags=["provenance"])
HubDep = Annotated[Hub, Depends(get_hub)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
#: Largest AiiDA archive accepted over HTTP (the server-side CLI has no limit).
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024


def service(hub: Hub) -> Any:
    return hub.ext["provenance"]


class ActivityIn(BaseModel):
    kind: str = Field(
        description="synthesis, assembly, measurement, simulation, analysis, training or import"
    )
    inputs: list[str] = Field(default_factory=list, description="PIDs, sample ids or node ids used")
    outputs: list[str] = Field(default_factory=list, description="PIDs or sample ids generated")
    label: str | None = None
    description: str = ""
    steps: list[dict[str, Any]] | None = Field(None, description="ordered steps with parameters and units")
    parameters: Any = None
    software: list[str] = Field(default_factory=list, description="NAME==VERSION[@COMMIT]")
    instrument: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


class SampleIn(BaseModel):
    name: str
    kind: str = "material"
    made_from: list[str] = Field(default_factory=list)
    supplier: str | None = None
    lot: str | None = None
    commercial: bool = False
    source_identifier: str | None = None
    description: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)


@router.post("/provenance/activities", status_code=201)
def add_activity(body: ActivityIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).add_activity(principal, **body.model_dump())
    return result


@router.get("/provenance/activities")
def list_activities(
    hub: HubDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = service(hub).list_nodes(principal, "activity", limit)
    return result


@router.get("/provenance/activities/{key}")
def get_activity(key: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).get_node(principal, key)
    return result


@router.post("/provenance/samples", status_code=201)
def add_sample(body: SampleIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    data = body.model_dump()
    result: dict[str, Any] = service(hub).add_sample(principal, data.pop("name"), **data)
    return result


@router.get("/provenance/samples")
def list_samples(
    hub: HubDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = service(hub).list_nodes(principal, "sample", limit)
    return result


@router.get("/provenance/samples/{key}")
def get_sample(key: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).get_node(principal, key)
    return result


@router.get("/datasets/{pid}/lineage")
def lineage(
    pid: str,
    hub: HubDep,
    principal: PrincipalDep,
    direction: Annotated[str, Query(description="up, down or both")] = "both",
    depth: Annotated[int | None, Query(ge=0, description="links to follow; omit for any depth")] = None,
) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).lineage(principal, pid, direction, depth)
    return result


@router.get("/datasets/{pid}/impact")
def impact(pid: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).impact(principal, pid)
    return result


@router.get("/datasets/{pid}/provenance.svg")
def provenance_svg(
    pid: str,
    hub: HubDep,
    principal: PrincipalDep,
    depth: Annotated[int | None, Query(ge=0, le=50)] = 4,
) -> Response:
    from databahn.provenance.web import graph_svg

    svg = graph_svg(hub, principal, pid, depth)
    return Response(svg, media_type="image/svg+xml")


@router.get("/datasets/{pid}/provenance")
def provenance_export(
    pid: str,
    hub: HubDep,
    principal: PrincipalDep,
    format: Annotated[str, Query(description="prov-json, prov-o (Turtle) or prov-o-jsonld")] = "prov-json",
    depth: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    from databahn.provenance.export import to_prov_json, to_prov_o_jsonld, to_prov_o_turtle

    graph, _root, _dist = service(hub).neighbourhood(principal, pid, "both", depth)
    import json

    if format == "prov-json":
        return Response(json.dumps(to_prov_json(graph), indent=2), media_type="application/json")
    if format == "prov-o":
        return Response(to_prov_o_turtle(graph), media_type="text/turtle")
    if format == "prov-o-jsonld":
        return Response(json.dumps(to_prov_o_jsonld(graph), indent=2), media_type="application/ld+json")
    raise InvalidInput(f"unknown provenance format {format!r}; use prov-json, prov-o or prov-o-jsonld")


@router.put("/datasets/{pid}/model-card")
def set_model_card(pid: str, card: dict[str, Any], hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).set_model_card(principal, pid, card)
    return result


@router.get("/datasets/{pid}/model-card")
def get_model_card(pid: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    result: dict[str, Any] = service(hub).get_model_card(principal, pid)
    return result


@router.post("/provenance/import/aiida", status_code=201)
async def import_aiida(
    request: Request,
    hub: HubDep,
    principal: PrincipalDep,
    filename: Annotated[str, Query(description="name of the archive, for messages")] = "archive.aiida",
) -> dict[str, Any]:
    """Upload an AiiDA export archive as the request body (application/octet-stream)."""
    from databahn.services.users import require_user

    require_user(principal)
    with tempfile.TemporaryDirectory(prefix="databahn-aiida-") as tmp:
        path = Path(tmp) / (Path(filename).name or "archive.aiida")
        size = 0
        with path.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_ARCHIVE_BYTES:
                    raise PayloadTooLarge(
                        f"the archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB; export a smaller "
                        "part of the AiiDA database (`verdi archive create` with selected groups or nodes)"
                    )
                fh.write(chunk)
        if size == 0:
            raise InvalidInput("the request body is empty: send the .aiida archive as the body")
        result: dict[str, Any] = await run_in_threadpool(service(hub).import_aiida, principal, path)
        return result
