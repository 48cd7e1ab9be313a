"""DOI registration through DataCite's REST API (JSON:API, https://support.datacite.org/docs/api-create-dois).

The hub sends its own DataCite XML (base64 in the `xml` attribute) with `event: publish`, so the
DOI becomes findable and resolves to the hub's landing page. The DOI is derived from the version's
hub PID (`<prefix>/databahn.<pid>` by default, `suffix` option to change), which makes a retry
update the same DOI instead of minting a second one.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import httpx

from databahn.domain.records import Identifier
from databahn.errors import InvalidInput
from databahn.exporters.base import ExportError
from databahn.exporters.datacite import DataCiteExporter
from databahn.interop.connectors import (
    Connector,
    Deposit,
    PushResult,
    RemoteCreated,
    RemoteError,
    RepositoryConfigError,
    remote_message,
)

DEFAULT_SUFFIX = "databahn.{pid}"


class DataCiteConnector(Connector):
    type: ClassVar[str] = "datacite"
    label: ClassVar[str] = "DataCite"

    @staticmethod
    def api_base(url: str) -> str:
        return url.rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        return {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}

    def auth(self) -> httpx.Auth | None:
        user, password = self.config.username, self.config.password
        if not (user and password) and self.config.token and ":" in self.config.token:
            user, _, password = self.config.token.partition(":")
        return httpx.BasicAuth(user, password) if user and password else None

    def doi_for(self, pid: str) -> str:
        prefix = (self.config.prefix or "").strip()
        if not prefix.startswith("10."):
            raise RepositoryConfigError(
                f"repository {self.config.name!r} needs a DataCite prefix such as 10.5072 "
                "('prefix' in the repositories configuration)"
            )
        pattern = str(self.config.options.get("suffix", DEFAULT_SUFFIX))
        try:
            suffix = pattern.format(pid=pid)
        except (KeyError, IndexError, ValueError):
            raise RepositoryConfigError(
                f"repository {self.config.name!r}: suffix {pattern!r} may only use the placeholder {{pid}}"
            ) from None
        return f"{prefix}/{suffix}".lower()

    def payload(self, deposit: Deposit, doi: str) -> dict[str, Any]:
        record = deposit.record
        if (record.doi or "").lower() != doi:
            idents = [i for i in record.identifiers if not (i.scheme == "doi" and i.level == "version")]
            record = record.model_copy(
                update={"identifiers": [*idents, Identifier(scheme="doi", value=doi, level="version")]}
            )
        kernel = str(self.config.options.get("kernel", "4.6"))
        try:
            xml = DataCiteExporter(kernel).export(record, deposit.ctx)
        except ExportError as exc:
            raise InvalidInput(f"cannot build the DataCite metadata of {record.pid}: {exc}") from None
        return {
            "data": {
                "id": doi,
                "type": "dois",
                "attributes": {
                    "doi": doi,
                    "event": "publish",
                    "url": deposit.landing_url,
                    "xml": base64.b64encode(xml).decode("ascii"),
                },
            }
        }

    def check(self) -> None:
        if self.auth() is None:
            raise RepositoryConfigError(
                f"repository {self.config.name!r} needs DataCite credentials: username (the repository id) "
                "and password, or token as 'REPOSITORY_ID:PASSWORD'"
            )
        self.doi_for("check")

    def push(self, deposit: Deposit, *, resume_id: str | None, on_created: RemoteCreated) -> PushResult:
        self.check()
        doi = self.doi_for(deposit.record.pid)
        body = self.payload(deposit, doi)
        on_created(doi, f"https://doi.org/{doi}")
        if resume_id:
            response = self.call("PUT", f"/dois/{doi}", json=body)
        else:
            response = self.call("POST", "/dois", json=body, expect=(200, 201, 422))
            if response.status_code == 422:
                message = remote_message(response)
                if "taken" not in message.lower():
                    raise RemoteError(
                        f"{self.config.name} (datacite) answered 422 to POST {self.base}/dois: {message}",
                        remote_status=422,
                    )
                # the hub's own DOI for this version exists already (an earlier push): update it
                response = self.call("PUT", f"/dois/{doi}", json=body)
        data = self.json(response).get("data") or {}
        registered = str(data.get("id") or (data.get("attributes") or {}).get("doi") or "")
        if registered.lower() != doi:
            raise RemoteError(f"{self.config.name} answered for DOI {registered!r} instead of {doi!r}")
        return PushResult(remote_id=doi, url=f"https://doi.org/{doi}", doi=doi)
