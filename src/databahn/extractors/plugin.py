"""Extraction inside the hub: after each upload, learn what the file is and write open-format copies.

A file added to a version triggers `ExtractionService.schedule`: in the background (a worker thread;
the durable job queue replaces it in the scale-out issue) or inline when background work is off.
The result goes to the file row (`files.extracted`) and a compact summary to the version
(`versions.extracted[key]`): apart from what people typed, never over it. For drafts, open-format
copies (tidy CSV + Parquet) are added as derived files with a link to their source file.

(No `from __future__ import annotations` here: FastAPI and Typer read the annotations of the
routes and commands defined inside functions below, so they must be real objects.)
"""

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from databahn.api.deps import get_hub, get_principal
from databahn.db.models import Dataset, FileEntry, Version
from databahn.errors import DatabahnError, NotFound
from databahn.extractors.runner import InspectReport, convert_file, inspect_file
from databahn.services.policy import SYSTEM, Action, Principal, can

if TYPE_CHECKING:
    from typer import Typer

    from databahn.services.hub import Hub

log = logging.getLogger("databahn.extraction")
SUMMARY_KEYS = (
    "extractor",
    "format",
    "technique",
    "technique_iri",
    "instrument",
    "software",
    "n_points",
    "time_span_s",
    "cycle_count",
    "capacities",
    "open_format",
    "start_time",
)


def summarise(report: InspectReport) -> dict[str, Any]:
    """The compact per-file summary kept on the version (the full result stays on the file row)."""
    if not report.ok or report.result is None:
        return {"ok": False, "error": report.error}
    data = report.result.model_dump(mode="json", exclude_none=True)
    out: dict[str, Any] = {"ok": True, **{k: data[k] for k in SUMMARY_KEYS if k in data}}
    if data.get("quantities"):
        out["quantities"] = [{"name": q.get("name"), "unit": q.get("unit")} for q in data["quantities"][:40]]
    if data.get("structures"):
        out["structures"] = [
            {k: s.get(k) for k in ("formula", "elements", "n_sites", "engine", "energy_ev")}
            for s in data["structures"][:20]
        ]
    if data.get("quality"):
        out["quality"] = data["quality"][:20]
    return out


class ExtractionService:
    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        self.enabled = os.environ.get("DATABAHN_EXTRACT_ON_UPLOAD", "1") != "0"
        self.timeout_s = float(os.environ.get("DATABAHN_EXTRACT_TIMEOUT_S", "60"))
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    # -- scheduling -------------------------------------------------------------------------------
    def schedule(self, version_pid: str, key: str) -> None:
        if not self.enabled:
            return
        if not self.hub.settings.background_jobs:
            self.run(version_pid, key)
            return
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="databahn-extract")
            future = self._executor.submit(self._run_logged, version_pid, key)
            self._pending.add(future)
            future.add_done_callback(self._pending.discard)

    def _run_logged(self, version_pid: str, key: str) -> None:
        try:
            self.run(version_pid, key)
        except Exception:  # background work must never take the server down
            log.exception("extraction of %s/%s failed", version_pid, key)

    def wait(self, timeout: float = 120) -> None:
        """Block until scheduled extractions are done (tests, `databahn demo`)."""
        for future in list(self._pending):
            with contextlib.suppress(Exception):
                future.result(timeout=timeout)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    # -- the work -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _materialise(self, blob: str, key: str) -> Iterator[Path]:
        """The blob as a regular file named like the upload (extractors look at the suffix)."""
        name = Path(key).name or "file"
        tmp = Path(tempfile.mkdtemp(prefix="databahn-extract-"))
        target = tmp / name
        try:
            local = getattr(self.hub.store, "local_path", None)
            linked = False
            if local is not None:
                with contextlib.suppress(OSError):
                    os.link(local(blob), target)  # same filesystem: no copy
                    linked = True
            if not linked:
                with open(target, "wb") as out:
                    for block in self.hub.store.open(blob):
                        out.write(block)
            yield target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def run(
        self, version_pid: str, key: str, *, convert: bool = True, include_derived: bool = False
    ) -> InspectReport:
        with self.hub.read() as s:
            version = s.scalar(select(Version).where(Version.pid == version_pid))
            entry = (
                None
                if version is None
                else s.scalar(
                    select(FileEntry).where(FileEntry.version_id == version.id, FileEntry.key == key)
                )
            )
            if version is None or entry is None:
                raise NotFound(f"{version_pid} has no file named {key!r}")
            if entry.blob_sha256 is None:
                raise NotFound(f"{key!r} is stored outside the hub; nothing to extract")
            blob, derived = entry.blob_sha256, entry.derived_from_key
            if derived is not None and not include_derived:
                # our own open-format copy: its source's extraction already describes it
                return InspectReport(
                    file_name=Path(key).name,
                    size=entry.size or 0,
                    ok=False,
                    error=f"derived from {derived}; not extracted again",
                )
        with self._materialise(blob, key) as path:
            report = inspect_file(path, timeout_s=self.timeout_s)
            self._store(version_pid, key, blob, report)
            already_standard = report.result is not None and report.result.extractor == "bdf"
            if convert and report.ok and derived is None and not already_standard:
                self._convert(version_pid, key, path)
        return report

    def _store(self, version_pid: str, key: str, blob: str, report: InspectReport) -> None:
        full = report.model_dump(mode="json", exclude_none=True)
        with self.hub.write() as s:
            version = s.scalar(
                select(Version)
                .where(Version.pid == version_pid)
                .options(
                    selectinload(Version.files), selectinload(Version.dataset).selectinload(Dataset.owner)
                )
            )
            if version is None:
                return
            for f in version.files:
                if f.key == key and f.blob_sha256 == blob:
                    f.extracted = full
            version.extracted = {**(version.extracted or {}), key: summarise(report)}
            if version.state == "published" and version.is_latest:
                self.hub.datasets._index(s, version)

    def _convert(self, version_pid: str, key: str, path: Path) -> None:
        with self.hub.read() as s:
            state = s.scalar(select(Version.state).where(Version.pid == version_pid))
        if state != "draft":
            return  # a published version is immutable: open-format copies only for drafts
        out_dir = Path(tempfile.mkdtemp(prefix="databahn-convert-"))
        try:
            try:
                outputs = convert_file(path, out_dir, timeout_s=self.timeout_s)
            except Exception as exc:  # not convertible: fine, the report says what it is
                log.info("no open-format copy for %s/%s: %s", version_pid, key, exc)
                return
            folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
            for out in outputs:
                derived_key = folder + out.name
                with open(out, "rb") as fh:
                    try:
                        self.hub.files.put(
                            SYSTEM, version_pid, derived_key, fh, derived_from=key, replace=True
                        )
                    except DatabahnError as exc:  # e.g. published meanwhile
                        log.info("could not add %s to %s: %s", derived_key, version_pid, exc.detail)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def run_for_version(self, principal: Principal, pid: str, key: str | None = None) -> dict[str, Any]:
        """On demand (API/CLI): extract one or all files of a version the principal may manage."""
        with self.hub.read() as s:
            version = self.hub.datasets._load_version(s, pid, principal)
            if not can(principal, Action.manage, version):
                raise NotFound(f"no dataset {pid!r}, or you may not change it")
            keys = [f.key for f in version.files if f.blob_sha256 and f.derived_from_key is None]
            vpid = version.pid
        if key is not None:
            if key not in keys:
                raise NotFound(f"{vpid} has no stored file named {key!r}")
            keys = [key]
        results = {}
        for k in keys:
            report = self.run(vpid, k)
            results[k] = summarise(report)
        return {"version": vpid, "files": results}


def _technique_facets(version: Version) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for summary in (version.extracted or {}).values():
        if isinstance(summary, dict) and summary.get("ok"):
            if summary.get("technique"):
                out.append(("technique", str(summary["technique"])[:300]))
            for s in summary.get("structures") or []:
                for element in s.get("elements") or []:
                    out.append(("element", str(element)))
    return out


def setup(hub: "Hub") -> None:
    service = ExtractionService(hub)
    hub.ext["extraction"] = service
    hub.hooks.after_file_added.append(service.schedule)
    hub.hooks.index_facets.append(_technique_facets)


def routers() -> list[APIRouter]:
    router = APIRouter(prefix="/api", tags=["extraction"])

    @router.post("/datasets/{pid}/extract")
    def extract(
        pid: str,
        hub: Annotated[Any, Depends(get_hub)],
        principal: Annotated[Principal, Depends(get_principal)],
        key: str | None = Query(None, description="one file; all stored files when omitted"),
    ) -> dict[str, Any]:
        """Run extraction now on a version's files (owners and admins)."""
        return cast(dict[str, Any], hub.ext["extraction"].run_for_version(principal, pid, key))

    return [router]


def register_commands(app: "Typer") -> None:
    import json
    import sys

    import typer
    from rich.table import Table

    from databahn.cli.main import TokenOpt, UrlOpt, err, errors_as_messages, fail, out

    @app.command()
    def inspect(
        files: Annotated[list[Path], typer.Argument(help="files to look into (nothing is deposited)")],
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        timeout: Annotated[float, typer.Option(help="seconds per file")] = 60,
    ) -> None:
        """What automatic extraction finds in files, without depositing them."""
        reports = [inspect_file(p, timeout_s=timeout) for p in files]
        if as_json:
            sys.stdout.write(
                json.dumps([r.model_dump(mode="json", exclude_none=True) for r in reports], indent=2)
            )
            sys.stdout.write("\n")
        else:
            table = Table("file", "format", "technique", "points", "details")
            for r in reports:
                if r.ok and r.result is not None:
                    res = r.result
                    detail = ", ".join(
                        x
                        for x in (
                            f"{res.software.name} {res.software.version or ''}".strip()
                            if res.software
                            else "",
                            f"{res.cycle_count} cycles" if res.cycle_count else "",
                            ", ".join(st.formula for st in res.structures[:3]),
                            f"{len(res.quality)} quality flag(s)" if res.quality else "",
                        )
                        if x
                    )
                    table.add_row(
                        r.file_name, res.format, res.technique or "", str(res.n_points or ""), detail
                    )
                else:
                    table.add_row(r.file_name, "[red]—[/]", "", "", r.error or "")
            out.print(table)
        if not all(r.ok for r in reports):
            raise typer.Exit(1)

    @app.command()
    def convert(
        file: Annotated[Path, typer.Argument(help="instrument or simulation file")],
        output: Annotated[Path, typer.Option("-o", "--output", help="folder for the open-format copies")],
    ) -> None:
        """Write the open-format version of a file (tidy CSV + Parquet with standard names and units)."""
        try:
            paths = convert_file(file, output)
        except Exception as exc:
            fail(str(exc))
        if not paths:
            fail(f"{file}: no open-format conversion for this kind of file")
        for p in paths:
            out.print(str(p), highlight=False)

    @app.command()
    def extract(
        pid: Annotated[str, typer.Argument(help="version PID")],
        key: Annotated[str | None, typer.Option("--key", help="one file (default: all)")] = None,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """Run extraction now on deposited files (owners and admins)."""
        from databahn.client import Client

        with errors_as_messages(), Client(url, token) as client:
            result = client._json(
                "POST", f"/api/datasets/{pid}/extract", params={"key": key} if key else None
            )
        for k, summary in result["files"].items():
            err.print(f"{k}: {summary.get('technique') or summary.get('format') or summary.get('error')}")
