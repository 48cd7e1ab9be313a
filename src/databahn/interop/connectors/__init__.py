"""Connectors to trusted repositories: the contract, the shared HTTP plumbing and the registry.

A connector turns one published hub version into a record in a remote repository (Zenodo,
InvenioRDM, DataCite) and reports what came back: the remote id, its landing page and the DOI.
Connectors register in the `databahn.connectors` entry-point group (name → Connector subclass), so a
site can add its own repository type without touching the hub.

Repositories are configured by name in `$DATABAHN_HOME/repositories.yaml` or the JSON in the
`DATABAHN_REPOSITORIES` environment variable:

    zenodo:
      type: zenodo
      url: https://sandbox.zenodo.org
      token_env: ZENODO_TOKEN        # or token: ... (the file should then be private)
    bigmap-archive: {type: inveniordm, url: https://archive.big-map.eu, token_env: BIGMAP_TOKEN}
    datacite: {type: datacite, url: https://api.test.datacite.org, prefix: "10.5072",
               username: DEMO.DATABAHN, password_env: DATACITE_PASSWORD}
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from databahn.domain.records import FileRecord, VersionRecord
from databahn.errors import DatabahnError
from databahn.exporters.base import ExportContext

ENTRY_POINT_GROUP = "databahn.connectors"
CONFIG_FILE = "repositories.yaml"
CONFIG_ENV = "DATABAHN_REPOSITORIES"


class RemoteError(DatabahnError):
    """The repository refused or failed: answered as 502 with the repository's own message."""

    status = 502
    title = "Repository error"


class RepositoryConfigError(DatabahnError):
    """The repositories configuration is wrong (missing url, unknown type, unreadable file)."""

    status = 400
    title = "Repository configuration error"


@dataclass(frozen=True)
class RepositoryConfig:
    """One configured repository. Secrets may be given directly or named by an environment variable."""

    name: str
    type: str
    url: str
    token: str | None = None
    prefix: str | None = None
    username: str | None = None
    password: str | None = None
    #: seconds for connecting and for each read/write; uploads of big files are streamed chunk by chunk
    timeout: float = 30.0
    #: InvenioRDM community to submit to, DataCite DOI suffix pattern, ... (connector-specific)
    options: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """What users may see about the repository (never the secrets)."""
        return {"name": self.name, "type": self.type, "url": self.url, "prefix": self.prefix}


@dataclass
class Deposit:
    """What to push: the record as its owner sees it, and the files that may leave the hub."""

    record: VersionRecord
    files: list[FileRecord]
    metadata_only: bool
    ctx: ExportContext
    open_file: Callable[[FileRecord], Iterator[bytes]]

    @property
    def landing_url(self) -> str:
        return self.record.url or f"{self.ctx.root}/datasets/{self.record.pid}"

    @property
    def publication_date(self) -> str:
        published = self.record.published or dt.datetime.now(dt.UTC)
        return published.date().isoformat()


@dataclass
class PushResult:
    remote_id: str
    url: str | None
    doi: str | None
    files: list[dict[str, Any]] = field(default_factory=list)  # {"key", "size", "checksum"} as uploaded
    already_published: bool = False


#: called with (remote_id, remote_url) as soon as the remote draft exists, so a retry can resume it
RemoteCreated = Callable[[str, str | None], None]


class Connector(ABC):
    """Base of the repository connectors: an httpx client with bounded timeouts and clear errors."""

    type: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, config: RepositoryConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.base = self.api_base(config.url)
        self.client = httpx.Client(
            base_url=self.base,
            headers=self.auth_headers(),
            auth=self.auth(),
            timeout=httpx.Timeout(config.timeout),
            transport=transport,
            follow_redirects=False,
        )

    # -- to override --------------------------------------------------------------------------------
    @staticmethod
    def api_base(url: str) -> str:
        url = url.rstrip("/")
        return url if url.endswith("/api") else url + "/api"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}

    def auth(self) -> httpx.Auth | None:
        return None

    def check(self) -> None:
        """Refuse early, before anything is logged or sent, when the configuration cannot work."""
        return None  # the url was validated when the configuration was read; connectors add their own

    @abstractmethod
    def push(self, deposit: Deposit, *, resume_id: str | None, on_created: RemoteCreated) -> PushResult:
        """Create (or resume) the remote record, upload what may be uploaded, publish; never half-silent."""

    # -- shared ----------------------------------------------------------------------------------------
    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self, method: str, url: str, *, expect: tuple[int, ...] = (200, 201, 202, 204), **kwargs: Any
    ) -> httpx.Response:
        """One HTTP call; timeouts, connection failures and error answers become a RemoteError."""
        what = f"{method} {url if url.startswith('http') else self.base + url}"
        name = f"{self.config.name} ({self.config.type})"
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise RemoteError(
                f"{name} did not answer within {self.config.timeout:g} s ({what}); nothing was recorded — "
                "try again later, or raise 'timeout' for this repository in the configuration"
            ) from None
        except httpx.TransportError as exc:
            raise RemoteError(
                f"could not reach {name} at {self.base} ({exc.__class__.__name__}: {exc}); "
                "check the repository's url in the configuration and the network"
            ) from None
        if response.status_code not in expect:
            raise RemoteError(
                f"{name} answered {response.status_code} to {what}: {remote_message(response)}",
                remote_status=response.status_code,
            )
        return response

    def json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise RemoteError(
                f"{self.config.name} answered {response.request.method} {response.request.url} "
                f"with something that is not a JSON object: {response.text[:200]!r}"
            )
        return data


def remote_message(response: httpx.Response) -> str:
    """The repository's own explanation, from the error formats of Invenio, Zenodo and DataCite."""
    try:
        data = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:300]
        return text or response.reason_phrase or "no explanation given"
    parts: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "title"):
            if isinstance(data.get(key), str) and data[key]:
                parts.append(data[key])
                break
        for err in data.get("errors") or []:
            if not isinstance(err, dict):
                continue
            where = err.get("field") or err.get("source") or ""
            msg = err.get("message") or err.get("messages") or err.get("title") or err.get("detail")
            if isinstance(msg, list):
                msg = "; ".join(str(m) for m in msg)
            if msg:
                parts.append(f"{where}: {msg}" if where else str(msg))
    return " — ".join(parts) or json.dumps(data)[:300]


def check_md5(key: str, expected: str | None, reported: Any, repository: str) -> None:
    """Compare the repository's 'md5:...' checksum of an uploaded file with the hub's."""
    if not expected or not isinstance(reported, str) or not reported.startswith("md5:"):
        return
    if reported[4:].lower() != expected.lower():
        raise RemoteError(
            f"{repository} stored {key!r} with checksum {reported}, but the hub's file has md5:{expected}; "
            "the upload was corrupted — push again"
        )


def upload_headers(f: FileRecord) -> dict[str, str]:
    """Streamed uploads announce their length: repositories (and zenodo-mock) refuse chunked bodies."""
    headers = {"Content-Type": "application/octet-stream"}
    if f.size is not None:
        headers["Content-Length"] = str(f.size)
    return headers


# -- registry ----------------------------------------------------------------------------------------
def _builtin() -> dict[str, type[Connector]]:
    from databahn.interop.connectors.datacite import DataCiteConnector
    from databahn.interop.connectors.inveniordm import InvenioRDMConnector
    from databahn.interop.connectors.zenodo import ZenodoConnector

    return {c.type: c for c in (ZenodoConnector, InvenioRDMConnector, DataCiteConnector)}


def connector_types() -> dict[str, type[Connector]]:
    """Built-in connectors plus those registered in the `databahn.connectors` entry-point group."""
    found = _builtin()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party connector is reported, not fatal
            raise RepositoryConfigError(
                f"connector plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        if isinstance(cls, type) and issubclass(cls, Connector):
            found[ep.name] = cls
    return found


def make_connector(config: RepositoryConfig, *, transport: httpx.BaseTransport | None = None) -> Connector:
    types = connector_types()
    cls = types.get(config.type)
    if cls is None:
        raise RepositoryConfigError(
            f"repository {config.name!r} has unknown type {config.type!r}; use one of {', '.join(sorted(types))}"
        )
    return cls(config, transport=transport)


# -- configuration -------------------------------------------------------------------------------------
_KNOWN = {"type", "url", "token", "prefix", "username", "password", "timeout"}


def _secret(name: str, entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    env_name = entry.get(f"{key}_env")
    if env_name:
        value = os.environ.get(str(env_name))
        if not value:
            raise RepositoryConfigError(
                f"repository {name!r}: the environment variable {env_name} (its {key}_env) is not set"
            )
    return str(value) if value else None


def parse_repositories(data: Any, source: str) -> dict[str, RepositoryConfig]:
    """Validate the {name: {type, url, ...}} mapping; every problem names the repository and the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RepositoryConfigError(
            f"{source} must map repository names to settings, e.g. {{zenodo: {{type: zenodo, url: ...}}}}"
        )
    out: dict[str, RepositoryConfig] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise RepositoryConfigError(f"{source}: repository {name!r} must be a mapping with type and url")
        rtype = str(entry.get("type") or "").strip().lower()
        url = str(entry.get("url") or "").strip()
        if not rtype:
            raise RepositoryConfigError(
                f"{source}: repository {name!r} has no type (zenodo, inveniordm or datacite)"
            )
        if not url.startswith(("http://", "https://")):
            raise RepositoryConfigError(f"{source}: repository {name!r} needs an http(s) url, not {url!r}")
        try:
            timeout = float(entry.get("timeout", 30))
        except (TypeError, ValueError):
            raise RepositoryConfigError(
                f"{source}: repository {name!r}: timeout must be a number of seconds"
            ) from None
        if not 0 < timeout <= 600:
            raise RepositoryConfigError(f"{source}: repository {name!r}: timeout must be between 0 and 600 s")
        options = {k: v for k, v in entry.items() if k not in _KNOWN and not k.endswith("_env")}
        out[str(name)] = RepositoryConfig(
            name=str(name),
            type=rtype,
            url=url,
            token=_secret(str(name), entry, "token"),
            prefix=str(entry["prefix"]).strip() if entry.get("prefix") else None,
            username=_secret(str(name), entry, "username"),
            password=_secret(str(name), entry, "password"),
            timeout=timeout,
            options=options,
        )
    return out


def load_repositories(home: Path) -> dict[str, RepositoryConfig]:
    """Repositories from DATABAHN_REPOSITORIES (JSON) or else $DATABAHN_HOME/repositories.yaml."""
    raw = os.environ.get(CONFIG_ENV, "").strip()
    if raw:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RepositoryConfigError(f"{CONFIG_ENV} is not valid JSON: {exc}") from None
        return parse_repositories(data, CONFIG_ENV)
    path = home / CONFIG_FILE
    if not path.exists():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RepositoryConfigError(f"cannot read {path}: {exc}") from None
    return parse_repositories(data, str(path))
