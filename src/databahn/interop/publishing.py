"""Publishing to trusted repositories: push a published version to Zenodo, InvenioRDM or DataCite.

The hub stays the place where data is curated; a trusted repository gets a copy of the record (and
the files, when they are open) and hands back a DOI, which the hub records among the version's
identifiers. Restricted data is announced as metadata only. Every push is logged per (version,
repository): a retry resumes the remote draft an interrupted push left, and a version already
pushed is refused with the DOI it got, so no repository ends up with duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from databahn.api.deps import get_hub, get_principal
from databahn.db.models import utcnow
from databahn.domain.records import VersionRecord
from databahn.errors import Conflict, DatabahnError, NotFound
from databahn.interop.connectors import (
    Deposit,
    PushResult,
    RemoteError,
    RepositoryConfig,
    load_repositories,
    make_connector,
)
from databahn.interop.publishing_models import Publication
from databahn.services.datasets import DatasetService
from databahn.services.hub import Hub
from databahn.services.policy import Action, Principal, can
from databahn.services.users import require_user
from databahn.web.render import HtmlRoute, check_csrf_form

log = logging.getLogger("databahn.publishing")

#: a push still marked pending after this long is taken to have died (the process stopped) and may be retried
STALE_AFTER = dt.timedelta(minutes=30)
TEMPLATES = Path(__file__).resolve().parent / "templates"


def publication_dict(row: Publication) -> dict[str, Any]:
    return {
        "repository": row.repository,
        "type": row.repository_type,
        "status": row.status,
        "doi": row.doi,
        "url": row.remote_url,
        "remote_id": row.remote_id,
        "metadata_only": row.metadata_only,
        "file_count": row.file_count,
        "attempts": row.attempts,
        "error": row.error,
        "created": row.created.isoformat(),
        "updated": row.updated.isoformat(),
    }


class PublishingService:
    """Identity-first: `push(principal, pid, name)`; only who may manage a version may push it."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        #: HTTP transport for the connectors (tests put an httpx.MockTransport here)
        self.transport: httpx.BaseTransport | None = None

    def repositories(self) -> dict[str, RepositoryConfig]:
        """Read on every call, so an operator's change to repositories.yaml needs no restart."""
        return load_repositories(self.hub.home)

    def repository(self, name: str) -> RepositoryConfig:
        repos = self.repositories()
        if name not in repos:
            known = ", ".join(sorted(repos)) or "none"
            raise NotFound(
                f"no repository named {name!r} is configured (configured: {known}); add it to "
                f"{self.hub.home / 'repositories.yaml'} or DATABAHN_REPOSITORIES"
            )
        return repos[name]

    def list_repositories(self) -> list[dict[str, Any]]:
        return [cfg.public() for _name, cfg in sorted(self.repositories().items())]

    def publications(self, principal: Principal, pid: str) -> list[dict[str, Any]]:
        """The push log of a version: everyone who sees the version sees where it was published;
        only its managers also see failed and running attempts."""
        with self.hub.read() as s:
            version = self.hub.datasets._load_version(s, pid, principal)
            manager = can(principal, Action.manage, version)
            rows = s.scalars(
                select(Publication).where(Publication.version_id == version.id).order_by(Publication.id)
            )
            return [publication_dict(r) for r in rows if manager or r.status == "published"]

    def push(self, principal: Principal, pid: str, name: str) -> dict[str, Any]:
        """Push one published version to the repository configured as `name`; returns the log entry."""
        require_user(principal)
        cfg = self.repository(name)
        connector = make_connector(cfg, transport=self.transport)
        try:
            connector.check()
            row_id, record, push_files, resume_id = self._claim(principal, pid, cfg)
        except BaseException:
            connector.close()
            raise
        version_pid = record.pid
        files = [f for f in record.files if f.sha256] if push_files else []

        def created(remote_id: str, url: str | None) -> None:
            with self.hub.write() as s:
                row = s.get(Publication, row_id)
                if row is not None:
                    row.remote_id, row.remote_url, row.updated = remote_id, url, utcnow()

        try:
            with connector:
                from databahn.exporters.cli import hub_context

                ctx = hub_context(self.hub, principal, version_pid)
                assert ctx.open_file is not None
                deposit = Deposit(
                    record=record, files=files, metadata_only=not push_files, ctx=ctx, open_file=ctx.open_file
                )
                result = connector.push(deposit, resume_id=resume_id, on_created=created)
        except DatabahnError as exc:
            self._failed(row_id, exc.detail)
            raise
        except Exception as exc:  # a connector bug: logged, recorded, and answered without a traceback
            log.exception("push of %s to %s failed", version_pid, name)
            self._failed(row_id, f"unexpected error: {exc.__class__.__name__}: {exc}")
            raise RemoteError(
                f"pushing {version_pid} to {name} failed unexpectedly ({exc.__class__.__name__}); "
                "it was logged for the operators — try again later"
            ) from exc
        return self._succeeded(principal, row_id, record, result, len(files))

    # -- steps ---------------------------------------------------------------------------------------
    def _claim(
        self, principal: Principal, pid: str, cfg: RepositoryConfig
    ) -> tuple[int, VersionRecord, bool, str | None]:
        """Check the version may be pushed and mark the log entry pending (one push at a time)."""
        try:
            with self.hub.write() as s:
                version = self.hub.datasets._load_version(s, pid, principal)
                if not can(principal, Action.manage, version):
                    raise NotFound(f"no dataset {pid!r}, or you may not publish it elsewhere")
                if version.state != "published":
                    raise Conflict(
                        f"{version.pid} is a {version.state}: publish it in the hub first "
                        f"(`databahn publish {version.pid}`), then push it to {cfg.name}"
                    )
                row = s.scalar(
                    select(Publication)
                    .where(Publication.version_id == version.id, Publication.repository == cfg.name)
                    .with_for_update()
                )
                now = utcnow()
                if row is not None and row.status == "published":
                    where = f"DOI {row.doi}" if row.doi else (row.remote_url or f"record {row.remote_id}")
                    raise Conflict(
                        f"{version.pid} was already pushed to {cfg.name} ({where}) on {row.updated.date()}; "
                        "a published version is pushed once — to publish changes, create a new version "
                        f"(`databahn deposit ... --new-version-of {version.dataset.pid}`) and push that",
                        publication=publication_dict(row),
                    )
                if row is not None and row.status == "pending" and now - row.updated < STALE_AFTER:
                    raise Conflict(
                        f"a push of {version.pid} to {cfg.name} is already running (started "
                        f"{row.updated.isoformat(timespec='seconds')}); wait for it to finish"
                    )
                if row is None:
                    row = Publication(
                        version_id=version.id, repository=cfg.name, attempts=0, file_count=0, created=now
                    )
                    s.add(row)
                row.repository_type = cfg.type
                row.status = "pending"
                row.error = None
                row.attempts = (row.attempts or 0) + 1
                row.actor_id = principal.user_id
                row.updated = now
                push_files = version.access == "public" and not version.metadata_only
                row.metadata_only = not push_files
                record = self.hub.datasets.to_record(s, version, principal)
                s.flush()
                return row.id, record, push_files, row.remote_id
        except IntegrityError:
            raise Conflict(
                f"a push of {pid} to {cfg.name} is already running; wait for it to finish"
            ) from None

    def _failed(self, row_id: int, message: str) -> None:
        with self.hub.write() as s:
            row = s.get(Publication, row_id)
            if row is not None:
                row.status, row.error, row.updated = "failed", message[:4000], utcnow()

    def _succeeded(
        self, principal: Principal, row_id: int, record: VersionRecord, result: PushResult, file_count: int
    ) -> dict[str, Any]:
        note: str | None = None
        known = {i.value.lower() for i in record.identifiers if i.scheme == "doi"}
        if result.doi and result.doi.lower() not in known:
            try:
                self.hub.datasets.add_identifier(principal, record.pid, "doi", result.doi)
            except DatabahnError as exc:  # e.g. the DOI is already registered elsewhere in the hub
                note = f"published, but the DOI could not be recorded: {exc.detail}"
        with self.hub.write() as s:
            row = s.get(Publication, row_id)
            assert row is not None
            row.status = "published"
            row.remote_id = result.remote_id
            row.remote_url = result.url or row.remote_url
            row.doi = result.doi
            if not result.already_published:
                row.file_count = file_count
            row.error = note
            row.updated = utcnow()
            DatasetService.audit(
                s, principal, "dataset.push", record.pid, repository=row.repository, doi=result.doi
            )
            out = publication_dict(row)
        out |= {"pid": record.pid, "files": result.files, "already_published": result.already_published}
        return out


# -- plugin surface --------------------------------------------------------------------------------------
def setup(hub: Hub) -> None:
    if "publishing" not in hub.ext:
        hub.ext["publishing"] = PublishingService(hub)
    from databahn.web.render import DATASET_SIDE_PANELS, add_template_dir

    add_template_dir(TEMPLATES)
    if publications_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.append(publications_panel)


def publications_panel(request: Request, record: VersionRecord) -> Markup | None:
    """Where this version was published (for everyone), and a push form for those who manage it."""
    from databahn.web.render import csrf_token, principal_of, templates

    hub: Hub = request.app.state.hub
    principal = principal_of(request)
    svc = service(hub)
    entries = svc.publications(principal, record.pid)
    manager = (
        record.state.value == "published"
        and not principal.anonymous
        and (principal.is_admin or record.owner == principal.username)
    )
    targets: list[dict[str, Any]] = []
    config_error = None
    if manager:
        try:
            done = {e["repository"] for e in entries if e["status"] == "published"}
            targets = [r for r in svc.list_repositories() if r["name"] not in done]
        except DatabahnError as exc:
            config_error = exc.detail
    if not entries and not targets and not config_error:
        return None
    html = templates.env.get_template("publishing_panel.html").render(
        r=record,
        entries=entries,
        targets=targets,
        config_error=config_error,
        csrf=csrf_token(request) if targets else "",
    )
    return Markup(html)  # rendered by the autoescaping environment


def service(hub: Hub) -> PublishingService:
    svc = hub.ext.get("publishing")
    if svc is None:  # the plugin was not set up on this hub (e.g. a test app): set it up now
        setup(hub)
        svc = hub.ext["publishing"]
    assert isinstance(svc, PublishingService)
    return svc


HubDep = Annotated[Hub, Depends(get_hub)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def routers() -> list[APIRouter]:
    router = APIRouter(prefix="/api", tags=["publishing"])

    @router.get("/repositories")
    def list_repositories(hub: HubDep) -> list[dict[str, Any]]:
        """The trusted repositories this hub can push to (names, types and URLs; never credentials)."""
        return service(hub).list_repositories()

    @router.post("/datasets/{pid}/publish-to/{name}")
    def publish_to(pid: str, name: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
        """Push a published version to the repository `name`; the DOI it returns joins the identifiers."""
        return service(hub).push(principal, pid, name)

    @router.get("/datasets/{pid}/publications")
    def publications(pid: str, hub: HubDep, principal: PrincipalDep) -> list[dict[str, Any]]:
        """Where this version was pushed, with status, remote record, DOI and errors."""
        return service(hub).publications(principal, pid)

    pages = APIRouter(route_class=HtmlRoute, include_in_schema=False)

    @pages.post("/datasets/{pid}/publish-to")
    async def push_form(request: Request, pid: str) -> Response:
        """The dataset page's push form: the outcome (DOI or the repository's message) comes back as a flash."""
        form = await request.form()
        check_csrf_form(request, form)
        principal = get_principal(request)
        require_user(principal)
        hub: Hub = request.app.state.hub
        name = str(form.get("repository") or "")
        try:
            result = await run_in_threadpool(service(hub).push, principal, pid, name)
        except DatabahnError as exc:
            if exc.status in (401, 404):
                raise
            request.session["flash"] = f"Could not push to {name}: {exc.detail}"
        else:
            where = result.get("doi") or result.get("url") or result.get("remote_id")
            request.session["flash"] = f"Pushed {result['pid']} to {name}: {where}"
        return RedirectResponse(f"/datasets/{quote(pid)}", status_code=303)

    return [router, pages]


def register_commands(app: typer.Typer) -> None:
    """`databahn repositories` and `databahn publications PID` (the push itself is `databahn publish --to`)."""

    def repositories_cmd(
        url: Annotated[str | None, typer.Option("--url", envvar="DATABAHN_URL", help="hub URL")] = None,
        token: Annotated[
            str | None, typer.Option("--token", envvar="DATABAHN_TOKEN", help="API token")
        ] = None,
    ) -> None:
        """List the trusted repositories the hub can push to."""
        from databahn.cli.main import errors_as_messages, out
        from databahn.client import Client

        with errors_as_messages(), Client(url, token) as client:
            repos = client._json("GET", "/api/repositories")
        if not repos:
            out.print("no repositories configured (see repositories.yaml in the hub's home)")
        for r in repos:
            typer.echo(f"{r['name']}\t{r['type']}\t{r['url']}")

    def publications_cmd(
        pid: str,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        url: Annotated[str | None, typer.Option("--url", envvar="DATABAHN_URL", help="hub URL")] = None,
        token: Annotated[
            str | None, typer.Option("--token", envvar="DATABAHN_TOKEN", help="API token")
        ] = None,
    ) -> None:
        """Where a version was pushed: repository, status, DOI or error."""
        from databahn.cli.main import errors_as_messages, out, print_json
        from databahn.client import Client

        with errors_as_messages(), Client(url, token) as client:
            rows = client._json("GET", f"/api/datasets/{pid}/publications")
        if as_json:
            print_json(rows)
            return
        if not rows:
            out.print(f"{pid} has not been pushed to any repository")
        for r in rows:
            what = r.get("doi") or r.get("url") or r.get("error") or ""
            typer.echo(f"{r['repository']}\t{r['status']}\t{what}")

    app.command("repositories")(repositories_cmd)
    app.command("publications")(publications_cmd)
