"""CLI of the provenance plugin: `activity add`, `sample add`, `lineage`, `import aiida`.

Client commands: they talk to a running hub over HTTP (DATABAHN_URL / DATABAHN_TOKEN), like `deposit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from databahn.client import Client


class ProvenanceClient(Client):
    """The provenance calls of the hub's HTTP API."""

    def __enter__(self) -> ProvenanceClient:
        return self

    def add_activity(self, **body: Any) -> dict[str, Any]:
        return self._json("POST", "/api/provenance/activities", json=body)

    def add_sample(self, **body: Any) -> dict[str, Any]:
        return self._json("POST", "/api/provenance/samples", json=body)

    def sample(self, key: str) -> dict[str, Any]:
        return self._json("GET", f"/api/provenance/samples/{key}")

    def lineage(self, pid: str, direction: str = "both", depth: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"direction": direction}
        if depth is not None:
            params["depth"] = depth
        return self._json("GET", f"/api/datasets/{pid}/lineage", params=params)

    def impact(self, pid: str) -> dict[str, Any]:
        return self._json("GET", f"/api/datasets/{pid}/impact")

    def import_aiida(self, path: Path) -> dict[str, Any]:
        with path.open("rb") as fh:
            return self._json(
                "POST",
                "/api/provenance/import/aiida",
                params={"filename": path.name},
                content=fh.read(),
                headers={"Content-Type": "application/octet-stream"},
            )


UrlOpt = Annotated[str | None, typer.Option("--url", envvar="DATABAHN_URL", help="hub URL")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="DATABAHN_TOKEN", help="API token")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]

activity_app = typer.Typer(no_args_is_help=True, help="Record activities (synthesis, measurement, ...).")
sample_app = typer.Typer(no_args_is_help=True, help="Record samples, materials, electrodes and cells.")
import_app = typer.Typer(no_args_is_help=True, help="Import provenance from other systems.")


def _steps_file(path: Path | None) -> Any:
    from databahn.cli.main import fail

    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML: {exc}")
    if isinstance(data, dict) and "steps" in data:
        data = data["steps"]
    if not isinstance(data, list):
        fail(f"{path} must hold a list of steps (or a mapping with a 'steps' list)")
    return data


@activity_app.command("add")
def activity_add(
    kind: Annotated[str, typer.Option("--kind", help="synthesis, assembly, measurement, simulation, ...")],
    inputs: Annotated[
        list[str] | None, typer.Option("--input", help="PID or sample id used (repeatable)")
    ] = None,
    outputs: Annotated[
        list[str] | None, typer.Option("--output", help="PID or sample id made (repeatable)")
    ] = None,
    steps: Annotated[Path | None, typer.Option("--steps", help="YAML file of ordered steps")] = None,
    label: Annotated[str | None, typer.Option("--label")] = None,
    software: Annotated[list[str] | None, typer.Option("--software", help="NAME==VERSION[@COMMIT]")] = None,
    instrument: Annotated[str | None, typer.Option("--instrument")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="NAME=VALUE UNIT, e.g. 'temperature=25 degC' (repeatable)"),
    ] = None,
    started_at: Annotated[
        str | None, typer.Option("--start", help="ISO time, e.g. 2024-05-01T09:00Z")
    ] = None,
    ended_at: Annotated[str | None, typer.Option("--end", help="ISO time")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record an activity linking its inputs to its outputs; prints the activity id."""
    from databahn.cli.main import errors_as_messages, fail, out, print_json

    parameters: dict[str, str] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            fail(f"--param {item!r} must look like NAME=VALUE UNIT, e.g. 'temperature=25 degC'")
        parameters[name.strip()] = value.strip()

    body: dict[str, Any] = {
        "kind": kind,
        "inputs": inputs or [],
        "outputs": outputs or [],
        "steps": _steps_file(steps),
        "label": label,
        "software": software or [],
        "instrument": instrument,
        "parameters": parameters or None,
        "started_at": started_at,
        "ended_at": ended_at,
    }
    with errors_as_messages(), ProvenanceClient(url, token) as client:
        result = client.add_activity(**body)
    if as_json:
        print_json(result)
        return
    out.print(result["id"], highlight=False)


@sample_app.command("add")
def sample_add(
    name: Annotated[str, typer.Argument(help="sample name")],
    kind: Annotated[str, typer.Option("--kind", help="material, electrode, electrolyte, separator, cell")] = (
        "material"
    ),
    made_from: Annotated[
        list[str] | None, typer.Option("--made-from", help="sample id or PID it was made from (repeatable)")
    ] = None,
    supplier: Annotated[str | None, typer.Option("--supplier")] = None,
    lot: Annotated[str | None, typer.Option("--lot")] = None,
    commercial: Annotated[
        bool, typer.Option("--commercial", help="licensed input: keep only --source-id")
    ] = False,
    source_id: Annotated[str | None, typer.Option("--source-id", help="vendor catalogue/licence id")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record a sample with its own identifier (smp-xxxx-xxxx); prints the identifier."""
    from databahn.cli.main import errors_as_messages, out, print_json

    with errors_as_messages(), ProvenanceClient(url, token) as client:
        result = client.add_sample(
            name=name,
            kind=kind,
            made_from=made_from or [],
            supplier=supplier,
            lot=lot,
            commercial=commercial,
            source_identifier=source_id,
        )
    if as_json:
        print_json(result)
        return
    out.print(result["id"], highlight=False)


def lineage_cmd(
    pid: Annotated[str, typer.Argument(help="version or dataset PID")],
    up: Annotated[bool, typer.Option("--up", help="ancestors only")] = False,
    down: Annotated[bool, typer.Option("--down", help="descendants only")] = False,
    depth: Annotated[int | None, typer.Option("--depth", help="links to follow (default: any depth)")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show where a dataset came from (--up) and what was derived from it (--down)."""
    from databahn.cli.main import errors_as_messages, fail, out, print_json

    if up and down:
        fail("give --up or --down, not both (neither shows both directions)")
    direction = "up" if up else "down" if down else "both"
    with errors_as_messages(), ProvenanceClient(url, token) as client:
        result = client.lineage(pid, direction, depth)
    if as_json:
        print_json(result)
        return
    table = Table("distance", "kind", "id", "label", title=f"lineage of {result['root']} ({direction})")
    for node in result["nodes"]:
        if node.get("distance") is None:
            continue
        sub = node.get("activity_type") or node.get("sample_type") or ""
        table.add_row(
            str(node["distance"]), node["kind"] + (f" ({sub})" if sub else ""), node["id"], node["label"]
        )
    out.print(table)


@import_app.command("aiida")
def import_aiida_cmd(
    archive: Annotated[
        Path, typer.Argument(help="AiiDA export archive (.aiida)", exists=True, dir_okay=False)
    ],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Import an AiiDA archive's provenance graph as activities, datasets and agents."""
    from databahn.cli.main import errors_as_messages, out, print_json

    with errors_as_messages(), ProvenanceClient(url, token) as client:
        result = client.import_aiida(archive)
    if as_json:
        print_json(result)
        return
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(result["by_kind"].items()))
    out.print(
        f"imported {result['archive']}: {result['nodes']} nodes ({kinds}), {result['edges']} links, "
        f"{result['new_nodes']} new",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(activity_app, name="activity")
    app.add_typer(sample_app, name="sample")
    app.add_typer(import_app, name="import")
    app.command("lineage")(lineage_cmd)
