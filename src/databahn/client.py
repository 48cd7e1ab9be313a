"""`databahn.Client`: the Python client of the REST API (httpx).

    from databahn import Client
    hub = Client("http://127.0.0.1:8000", token="dbn_...")   # or DATABAHN_URL / DATABAHN_TOKEN
    draft = hub.create({"title": "LFP half-cell cycling, 25 °C"})
    hub.upload(draft["pid"], "cell01.mpr")
    hub.publish(draft["pid"])

Large files go up in verified chunks and resume where they stopped; downloads stream to disk
and are checked against the sha256 the hub reports.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

ProgressFn = Callable[[int], None]
DEFAULT_URL = "http://127.0.0.1:8000"
SIMPLE_UPLOAD_LIMIT = 32 * 1024 * 1024  # above this, chunked resumable upload


class ClientError(Exception):
    """An error answer from the hub (problem+json), or the hub could not be reached."""

    def __init__(self, status: int, detail: str, problem: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem = problem or {}

    @property
    def field_errors(self) -> list[dict[str, str]]:
        return list(self.problem.get("errors") or [])


def file_digests(path: Path, progress: ProgressFn | None = None) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            sha.update(block)
            md5.update(block)
            if progress:
                progress(len(block))
    return sha.hexdigest(), md5.hexdigest()


def _iter_file(fh: BinaryIO, length: int | None, progress: ProgressFn | None) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        block = fh.read(1024 * 1024 if remaining is None else min(1024 * 1024, remaining))
        if not block:
            return
        if remaining is not None:
            remaining -= len(block)
        if progress:
            progress(len(block))
        yield block


class Client:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("DATABAHN_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("DATABAHN_TOKEN")
        headers = {"User-Agent": "databahn-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- plumbing ---------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                0, f"cannot reach the hub at {self.url}: {exc} (is `databahn serve` running?)"
            ) from None
        if response.status_code >= 400:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: httpx.Response) -> ClientError:
        try:
            problem = response.json()
            detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        except ValueError:
            problem, detail = {}, response.text[:500] or response.reason_phrase
        return ClientError(response.status_code, detail, problem)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    # -- datasets ---------------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        return self._json("GET", "/api/me")

    def create(
        self,
        metadata: dict[str, Any],
        *,
        access: str = "public",
        metadata_only: bool = False,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {
            "metadata": metadata,
            "access": access,
            "metadata_only": metadata_only,
            "options": options or {},
        }
        return self._json("POST", "/api/datasets", json=body)

    def get(self, pid: str) -> dict[str, Any]:
        return self._json("GET", f"/api/datasets/{pid}")

    def resolve(self, identifier: str) -> dict[str, Any]:
        return self._json("GET", "/api/resolve", params={"id": identifier})

    def update_metadata(self, pid: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return self._json("PUT", f"/api/datasets/{pid}/metadata", json=metadata)

    def set_access(self, pid: str, **changes: Any) -> dict[str, Any]:
        return self._json("PATCH", f"/api/datasets/{pid}/access", json=changes)

    def publish(self, pid: str) -> dict[str, Any]:
        return self._json("POST", f"/api/datasets/{pid}/publish")

    def new_version(self, pid: str, *, options: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"options": options} if options else None
        return self._json("POST", f"/api/datasets/{pid}/versions", json=body)

    def discard(self, pid: str) -> None:
        self._request("DELETE", f"/api/datasets/{pid}")

    def versions(self, pid: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/datasets/{pid}/versions")

    def add_identifier(self, pid: str, scheme: str, value: str, level: str = "version") -> dict[str, Any]:
        body = {"scheme": scheme, "value": value, "level": level}
        return self._json("POST", f"/api/datasets/{pid}/identifiers", json=body)

    def search(
        self,
        query: str = "",
        *,
        facets: dict[str, list[str]] | None = None,
        sort: str = "relevance",
        page: int = 1,
        size: int = 20,
        **extra: Any,
    ) -> dict[str, Any]:
        terms = extra.pop("terms", None) or []
        params: list[tuple[str, Any]] = [("q", query), ("sort", sort), ("page", page), ("size", size)]
        params += [("term", t) for t in terms]
        for key, values in (facets or {}).items():
            params += [("facet", f"{key}:{v}") for v in values]
        params += [(k, v) for k, v in extra.items() if v is not None]
        return self._json("GET", "/api/search", params=params)

    # -- files --------------------------------------------------------------------------------------
    def upload(
        self,
        pid: str,
        path: str | Path,
        *,
        key: str | None = None,
        progress: ProgressFn | None = None,
        replace: bool = False,
        chunk_size: int | None = None,
        simple_limit: int = SIMPLE_UPLOAD_LIMIT,
        retries: int = 5,
    ) -> dict[str, Any]:
        """Upload one file; large ones in checksummed chunks that resume after an interruption."""
        path = Path(path)
        if not path.is_file():
            raise ClientError(0, f"{path} is not a file")
        key = key or path.name
        size = path.stat().st_size
        sha256, md5 = file_digests(path)
        if size <= simple_limit:
            with open(path, "rb") as fh:
                response = self._request(
                    "PUT",
                    f"/api/datasets/{pid}/files/{key}",
                    content=_iter_file(fh, None, progress),
                    params={"replace": "1"} if replace else None,
                    headers={
                        "X-Checksum-Sha256": sha256,
                        "X-Checksum-Md5": md5,
                        "Content-Length": str(size),
                        "Content-Type": "application/octet-stream",
                    },
                )
            return response.json()
        if replace:
            try:
                self._request("DELETE", f"/api/datasets/{pid}/files/{key}")
            except ClientError as exc:
                if exc.status != 404:
                    raise
        state = self._json(
            "POST",
            f"/api/datasets/{pid}/uploads",
            json={"key": key, "size": size, "sha256": sha256, "md5": md5},
        )
        return self._send_chunks(state, path, size, chunk_size or int(state["chunk_size"]), progress, retries)

    def _send_chunks(
        self,
        state: dict[str, Any],
        path: Path,
        size: int,
        chunk_size: int,
        progress: ProgressFn | None,
        retries: int,
    ) -> dict[str, Any]:
        upload_id = state["id"]
        offset = int(state["offset"])
        if progress and offset:
            progress(offset)
        failures = 0
        with open(path, "rb") as fh:
            while offset < size:
                length = min(chunk_size, size - offset)
                fh.seek(offset)
                chunk = fh.read(length)
                try:
                    answer = self._json(
                        "PUT",
                        f"/api/uploads/{upload_id}",
                        params={"offset": offset},
                        content=chunk,
                        headers={"X-Chunk-Sha256": hashlib.sha256(chunk).hexdigest()},
                    )
                except ClientError as exc:
                    failures += 1
                    if failures > retries or exc.status in (401, 403, 404, 413):
                        raise
                    time.sleep(min(2**failures * 0.2, 5))
                    status = self._json("GET", f"/api/uploads/{upload_id}")
                    new_offset = int(status["offset"])
                    if progress and new_offset != offset:
                        progress(new_offset - offset)
                    offset = new_offset
                    continue
                failures = 0
                if progress:
                    progress(int(answer["offset"]) - offset)
                offset = int(answer["offset"])
        return self._json("POST", f"/api/uploads/{upload_id}/complete")

    def add_external(self, pid: str, key: str, url: str, **info: Any) -> dict[str, Any]:
        body = {"key": key, "url": url, **info}
        return self._json("POST", f"/api/datasets/{pid}/external", json=body)

    def delete_file(self, pid: str, key: str) -> None:
        self._request("DELETE", f"/api/datasets/{pid}/files/{key}")

    def download(
        self,
        pid: str,
        key: str,
        dest: str | Path,
        *,
        progress: ProgressFn | None = None,
        sha256: str | None = None,
    ) -> Path:
        """Stream one file to `dest` (written to a temp name, checked, then renamed)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", f"/api/datasets/{pid}/files/{key}") as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                expected = sha256 or (response.headers.get("etag") or "").strip('"') or None
                with open(tmp, "wb") as out:
                    for block in response.iter_bytes(1024 * 1024):
                        out.write(block)
                        digest.update(block)
                        if progress:
                            progress(len(block))
        except httpx.TransportError as exc:
            tmp.unlink(missing_ok=True)
            raise ClientError(0, f"download of {key} interrupted: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if expected and digest.hexdigest() != expected:
            tmp.unlink(missing_ok=True)
            raise ClientError(
                0, f"{key}: downloaded bytes do not match the sha256 the hub reports; try again"
            )
        os.replace(tmp, dest)
        return dest
