"""The `databahn` command line (Typer + Rich).

Server-side commands (serve, demo, user, token, db, reindex) open the hub directly from the
configuration; client commands (deposit, get, search, versions) talk to a running hub over HTTP
using DATABAHN_URL and DATABAHN_TOKEN (or --url/--token). Errors print one clear line and exit 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from databahn.client import Client, ClientError
from databahn.errors import DatabahnError

app = typer.Typer(
    no_args_is_help=True,
    help="Databahn: the data highway for research consortia.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
user_app = typer.Typer(no_args_is_help=True, help="Manage people (server side).")
token_app = typer.Typer(no_args_is_help=True, help="Manage API tokens (server side).")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance (server side).")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)

UrlOpt = Annotated[str | None, typer.Option("--url", envvar="DATABAHN_URL", help="hub URL")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="DATABAHN_TOKEN", help="API token")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def fail(message: str, details: list[str] | None = None, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    for line in details or []:
        err.print(f"  - {line}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn service/client errors into one clear line and a non-zero exit code (never a traceback)."""
    try:
        yield
    except ClientError as exc:
        details = [f"{e.get('field')}: {e.get('message')}" for e in exc.field_errors]
        if exc.status in (401, 403):
            details.append("check DATABAHN_TOKEN / --token (create one with `databahn token create USER`)")
        fail(exc.detail, details)
    except DatabahnError as exc:
        fail(exc.detail, [f"{e.field}: {e.message}" for e in exc.errors])


def open_hub() -> Any:
    from databahn.services.hub import Hub

    try:
        return Hub()
    except Exception as exc:  # configuration or database unreachable
        fail(f"cannot open the hub: {exc}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


# -- server -------------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes (scale-out: share one DB and bucket)")] = 1,
) -> None:
    """Run the hub (embedded SQLite + local files unless DATABAHN_DATABASE_URL/STORAGE_URL are set)."""
    import uvicorn

    hub = open_hub()  # migrate once before the workers start
    desc = hub.describe()
    hub.close()
    os.environ.setdefault("DATABAHN_BASE_URL", f"http://{host}:{port}")
    out.print(
        f"Databahn on [bold]http://{host}:{port}[/]  ({desc['database']} + {desc['storage']} store, "
        f"{workers} process{'es' if workers > 1 else ''})",
        highlight=False,
    )
    uvicorn.run(
        "databahn.api.asgi:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=30,
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    home: Annotated[Path | None, typer.Option(help="data folder (default ./databahn-demo)")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="load the sample data and exit")] = False,
) -> None:
    """Serve the embedded default with sample datasets loaded; prints the URL and an admin token."""
    from databahn.config import Settings
    from databahn.demo import load_demo
    from databahn.services.hub import Hub

    home = home or Path(os.environ.get("DATABAHN_HOME", "databahn-demo"))
    os.environ["DATABAHN_HOME"] = str(home)
    os.environ.setdefault("DATABAHN_BASE_URL", f"http://{host}:{port}")
    settings = Settings()
    hub = Hub(settings)
    info = load_demo(hub, progress=lambda msg: out.print(f"  {msg}", highlight=False))
    hub.close()
    out.print()
    out.print(f"[bold]Databahn demo[/] — {info['datasets']} sample datasets in {settings.resolved_home()}")
    out.print(f"  URL:      http://{host}:{port}", highlight=False)
    out.print(f"  sign in:  admin / {info['password']}", highlight=False)
    out.print(f"  export DATABAHN_URL=http://{host}:{port}", highlight=False)
    out.print(f"  export DATABAHN_TOKEN={info['token']}", highlight=False)
    if no_serve:
        return
    serve(host=host, port=port, workers=1)


# -- users and tokens --------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: str,
    email: Annotated[str | None, typer.Option(help="e-mail address")] = None,
    full_name: Annotated[str | None, typer.Option("--name", help="full name")] = None,
    orcid: Annotated[str | None, typer.Option(help="ORCID iD")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="make an administrator")] = False,
    password: Annotated[str | None, typer.Option(help="web sign-in password (>= 10 characters)")] = None,
) -> None:
    """Create a user."""
    with errors_as_messages():
        user = open_hub().users.add(
            name, name=full_name, email=email, orcid=orcid, is_admin=admin, password=password
        )
    out.print(f"created user [bold]{user.username}[/]" + (" (admin)" if user.is_admin else ""))


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """List users."""
    users = open_hub().users.list()
    if as_json:
        print_json([u.__dict__ for u in users])
        return
    table = Table("user", "name", "e-mail", "admin")
    for u in users:
        table.add_row(u.username, u.name or "", u.email or "", "yes" if u.is_admin else "")
    out.print(table)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="the user the token belongs to")],
    label: Annotated[str, typer.Option("--label", help="what the token is for")] = "cli",
    scope: Annotated[list[str] | None, typer.Option("--scope", help="read, write, admin or *")] = None,
    days: Annotated[int | None, typer.Option("--days", help="expire after N days")] = None,
) -> None:
    """Create an API token for a user; the token is printed as the last line (shown only once)."""
    with errors_as_messages():
        token = open_hub().users.create_token(name, name=label, scopes=scope, expires_in_days=days)
    err.print(
        f"token {token.id} for {name}"
        + (f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else "")
    )
    sys.stdout.write(token.secret + "\n")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations (the server also does this at start)."""
    hub = open_hub()
    out.print(f"schema up to date ({hub.describe()['database']})")


@app.command()
def reindex() -> None:
    """Rebuild the search index from the database."""
    with errors_as_messages():
        count = open_hub().datasets.reindex()
    out.print(f"reindexed {count} datasets")


# -- deposit ---------------------------------------------------------------------------------------------
def _collect(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, key) pairs; a folder contributes its files with paths relative to it."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if not path.exists():
            fail(f"{path}: no such file or folder")
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
                found.append((file, file.relative_to(path).as_posix()))
        elif path.is_file():
            found.append((path, path.name))
        else:
            fail(f"{path}: not a regular file")
    keys = [k for _, k in found]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        fail(f"two files would have the same name in the dataset: {', '.join(dupes)}")
    return found


def _load_meta(meta_file: Path | None) -> dict[str, Any]:
    if meta_file is None:
        return {}
    try:
        data = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        fail(f"cannot read metadata file {meta_file}: {exc}")
    if not isinstance(data, dict):
        fail(f"{meta_file} must contain a mapping of metadata fields (see /api/schemas/metadata)")
    return data


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str], Callable[[int], None]]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as progress:

        def task(name: str) -> Callable[[int], None]:
            tid = progress.add_task(name[:40], total=total)
            return lambda n: progress.advance(tid, n)

        yield task


@app.command()
def deposit(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to deposit")],
    title: Annotated[str | None, typer.Option("--title", help="dataset title")] = None,
    meta: Annotated[Path | None, typer.Option("--meta", help="YAML/JSON file with metadata fields")] = None,
    keyword: Annotated[list[str] | None, typer.Option("--keyword", help="keyword (repeatable)")] = None,
    license: Annotated[str | None, typer.Option("--license", help="SPDX license id, e.g. CC-BY-4.0")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    creator: Annotated[
        list[str] | None, typer.Option("--creator", help="'Family, Given' (repeatable)")
    ] = None,
    wp: Annotated[str | None, typer.Option("--wp", help="work package, e.g. WP2")] = None,
    partner: Annotated[str | None, typer.Option("--partner")] = None,
    access: Annotated[str | None, typer.Option("--access", help="public, restricted or confidential")] = None,
    share_with: Annotated[
        list[str] | None, typer.Option("--share-with", help="group or user (repeatable)")
    ] = None,
    embargo_until: Annotated[str | None, typer.Option("--embargo-until", help="YYYY-MM-DD")] = None,
    embargo_reason: Annotated[str | None, typer.Option("--embargo-reason")] = None,
    metadata_only: Annotated[
        bool, typer.Option("--metadata-only", help="announce metadata, keep files closed")
    ] = False,
    delivers: Annotated[
        list[str] | None, typer.Option("--delivers", help="DMP flow, e.g. WP2:WP5 (repeatable)")
    ] = None,
    derived_from: Annotated[
        list[str] | None, typer.Option("--derived-from", help="PID of a source (repeatable)")
    ] = None,
    activity: Annotated[
        str | None, typer.Option("--activity", help="kind of activity that made the data")
    ] = None,
    software: Annotated[
        list[str] | None, typer.Option("--software", help="NAME==VERSION (repeatable)")
    ] = None,
    instrument: Annotated[str | None, typer.Option("--instrument")] = None,
    new_version_of: Annotated[str | None, typer.Option("--new-version-of", help="PID of the dataset")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="publish after uploading")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Deposit files (or folders) as a new dataset or a new version; prints the PID as the last line."""
    files = _collect(paths)
    metadata = _load_meta(meta)
    overrides: dict[str, Any] = {
        "title": title,
        "license": license,
        "description": description,
        "work_package": wp,
        "partner": partner,
    }
    metadata.update({k: v for k, v in overrides.items() if v is not None})
    if keyword:
        metadata["keywords"] = list(metadata.get("keywords") or []) + keyword
    if creator:
        metadata["creators"] = list(metadata.get("creators") or []) + [{"name": c} for c in creator]
    given: dict[str, Any] = {
        "share_with": share_with,
        "embargo_until": embargo_until,
        "embargo_reason": embargo_reason,
        "delivers": delivers,
        "derived_from": derived_from,
        "activity": activity,
        "software": software,
        "instrument": instrument,
    }
    options = {k: v for k, v in given.items() if v not in (None, [])}
    with errors_as_messages(), Client(url, token) as client:
        if new_version_of:
            draft = client.new_version(new_version_of, options=options)
            if metadata:
                merged = {**draft["metadata"], **metadata}
                draft = client.update_metadata(draft["pid"], merged)
        else:
            if "title" not in metadata:
                fail("a new dataset needs a title: pass --title or put `title:` in --meta")
            draft = client.create(
                metadata, access=access or "public", metadata_only=metadata_only, options=options
            )
        pid = draft["pid"]
        existing = {f["key"]: f.get("sha256") for f in draft.get("files", [])}
        err.print(f"draft {pid}: uploading {len(files)} file(s)")
        for path, key in files:
            if key in existing:
                from databahn.client import file_digests

                if existing[key] == file_digests(path)[0]:
                    err.print(f"  {key}: unchanged, kept")
                    continue
            with _progress(path.stat().st_size) as task:
                client.upload(pid, path, key=key, progress=task(key), replace=key in existing)
        if publish:
            record = client.publish(pid)
            err.print(f"published {record['pid']} (version {record['metadata'].get('version')})")
    sys.stdout.write(pid + "\n")


@app.command()
def get(
    pid: Annotated[str, typer.Argument(help="PID, DOI or other identifier")],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder to write into")] = Path("."),
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Download all files of a version (or a dataset's latest version), verifying checksums."""
    with errors_as_messages(), Client(url, token) as client:
        record = client.get(pid) if "/" not in pid else client.resolve(pid)
        if not record.get("files_visible", True):
            fail(f"the files of {record['pid']} are not available to you (metadata only)")
        base = output.resolve()
        stored = [f for f in record["files"] if f.get("sha256") and not f.get("external_url")]
        for f in record["files"]:
            if f.get("external_url"):
                err.print(f"  {f['key']}: stored outside the hub at {f['external_url']}")
        for f in stored:
            dest = (base / f["key"]).resolve()
            if base not in dest.parents:
                fail(f"refusing to write {f['key']!r} outside {base}")
            with _progress(int(f.get("size") or 0)) as task:
                client.download(record["pid"], f["key"], dest, progress=task(f["key"]), sha256=f["sha256"])
        err.print(f"{len(stored)} file(s) of {record['pid']} written to {base}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="search text")] = "",
    facet: Annotated[list[str] | None, typer.Option("--facet", help="KEY=VALUE filter (repeatable)")] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", help="ontology term, label or IRI; finds subclasses too")
    ] = None,
    sort: Annotated[str, typer.Option(help="relevance, newest, oldest, title")] = "relevance",
    page: int = 1,
    size: int = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Search datasets (full text plus facet filters)."""
    facets: dict[str, list[str]] = {}
    for item in facet or []:
        key, sep, value = item.partition("=")
        if not sep:
            key, sep, value = item.partition(":")
        if not sep or not value:
            fail(f"--facet {item!r} must look like KEY=VALUE, e.g. work_package=WP2")
        facets.setdefault(key, []).append(value)
    with errors_as_messages(), Client(url, token) as client:
        result = client.search(query, facets=facets, sort=sort, page=page, size=size, terms=term or [])
    if as_json:
        print_json(result)
        return
    table = Table(title=f"{result['total']} dataset(s)", title_justify="left")
    table.add_column("PID", no_wrap=True)
    table.add_column("title")
    table.add_column("version")
    table.add_column("published")
    for hit in result["hits"]:
        table.add_row(hit["pid"], hit["title"], hit.get("version") or "", (hit.get("published") or "")[:10])
    out.print(table)
    for key, values in result["facets"].items():
        shown = ", ".join(f"{v['value']} ({v['count']})" for v in values[:8])
        out.print(f"[dim]{key}:[/] {shown}", highlight=False)


@app.command()
def versions(pid: str, as_json: JsonOpt = False, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """List the versions of a dataset, with what changed."""
    with errors_as_messages(), Client(url, token) as client:
        rows = client.versions(pid)
    if as_json:
        print_json(rows)
        return
    table = Table("PID", "version", "state", "published", "files", "changes")
    for v in rows:
        table.add_row(
            v["pid"] + (" (latest)" if v["is_latest"] else ""),
            v.get("version_label") or "",
            v["state"],
            (v.get("published") or "")[:10],
            str(v["file_count"]),
            "; ".join(v["changes"]),
        )
    out.print(table)


@app.command()
def publish(
    pid: str,
    to: Annotated[
        str | None, typer.Option("--to", help="push to a configured repository (e.g. zenodo)")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Publish a draft version; with --to NAME, push a published version to a trusted repository."""
    with errors_as_messages(), Client(url, token) as client:
        if to:
            result = client._json("POST", f"/api/datasets/{pid}/publish-to/{to}")
            out.print(
                f"pushed {pid} to {to}: {result.get('doi') or result.get('url') or result}", highlight=False
            )
            return
        record = client.publish(pid)
    out.print(f"published {record['pid']}")


def _mount_plugins() -> None:
    """Sub-commands of later capabilities, each in its own module."""
    import importlib

    for module, attr, name in (
        ("databahn.cli.ontology_cmd", "app", "ontology"),
        ("databahn.dmp.cli", "dmp_app", "dmp"),
    ):
        try:
            sub = importlib.import_module(module)
        except ImportError:
            continue
        app.add_typer(getattr(sub, attr), name=name)


_mount_plugins()

from databahn.exporters.cli import register as _register_exports  # noqa: E402

_register_exports(app)

from databahn.plugins import register_plugin_commands  # noqa: E402

register_plugin_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
