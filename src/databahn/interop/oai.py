"""OAI-PMH 2.0 at /oai: what every aggregator (OpenAIRE, BASE, B2FIND) harvests.

Records are the published versions an anonymous visitor may see (so the access policy decides,
never this module), identified as `oai:<host>:<version pid>`, in `oai_dc` and `oai_datacite`
(DataCite kernel 4, as the OpenAIRE guidelines for data archives use it). Sets: `wp:WP<n>` per work
package and `openness:<level>`. A version that was once harvestable (noted in the audit log when
it is published publicly) and is now withdrawn or hidden stays as a `deleted` header: the
repository declares deletedRecord "persistent". Resumption tokens are stateless — signed, with an
expiry — so any server process can continue a list another one started.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from lxml import etree
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool

from databahn.db.models import AuditEvent, Dataset, User, Version
from databahn.exporters import ExportContext, ExportError
from databahn.exporters import dc as dc_export
from databahn.exporters.datacite import DataCiteExporter
from databahn.services.policy import ANONYMOUS, Action, can, readable

if TYPE_CHECKING:
    from databahn.services.hub import Hub

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"
EXPOSED = "oai.exposed"  # audit action: this version was once harvestable
#: audited actions that change what a harvester gets for a version (reads and requests do not)
RECORD_CHANGES = (EXPOSED, "dataset.publish", "dataset.identifier", "access.change", "embargo.lift")
DATACITE = DataCiteExporter(kernel="4.6")

#: metadataPrefix -> (schema, namespace)
FORMATS: dict[str, tuple[str, str]] = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", dc_export.OAI_DC),
    "oai_datacite": (DATACITE.schema_location, DATACITE.namespace),
}
OPENNESS = ("public", "embargoed", "metadata-only", "restricted", "confidential")
VERBS: dict[str, tuple[set[str], set[str]]] = {  # verb -> (required, optional) arguments
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DOMAIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")


class OaiError(Exception):
    """An OAI-PMH error condition: becomes `<error code=...>` in a 200 response, as the spec says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(name: str, value: str, *, upper: bool) -> tuple[dt.datetime, str]:
    """An OAI datestamp argument -> (bound, granularity); `until` bounds are inclusive."""
    try:
        if _DAY.match(value):
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return (day + dt.timedelta(days=1) if upper else day), "day"
        if _SECOND.match(value):
            moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            return (moment + dt.timedelta(seconds=1) if upper else moment), "second"
    except ValueError:
        pass
    raise OaiError(
        "badArgument", f"{name}={value!r} is not a UTC datestamp; use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"
    )


@dataclass(frozen=True)
class ListState:
    """Everything a ListIdentifiers/ListRecords continuation needs (carried in the signed token)."""

    verb: str
    prefix: str
    set_spec: str | None
    from_: str | None
    until: str | None
    after_id: int = 0
    cursor: int = 0
    total: int | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "v": self.verb,
            "p": self.prefix,
            "s": self.set_spec,
            "f": self.from_,
            "u": self.until,
            "a": self.after_id,
            "c": self.cursor,
            "n": self.total,
        }

    @classmethod
    def load(cls, data: Any) -> ListState:
        try:
            return cls(
                verb=str(data["v"]),
                prefix=str(data["p"]),
                set_spec=data["s"],
                from_=data["f"],
                until=data["u"],
                after_id=int(data["a"]),
                cursor=int(data["c"]),
                total=None if data["n"] is None else int(data["n"]),
            )
        except (KeyError, TypeError, ValueError):
            raise OaiError("badResumptionToken", "the resumption token is malformed") from None


class OaiService:
    """The OAI-PMH 2.0 data provider. `handle(args)` answers one request with the response XML."""

    def __init__(self, hub: Hub, *, page_size: int = 100, token_ttl: dt.timedelta | None = None) -> None:
        self.hub = hub
        self.page_size = page_size
        self.token_ttl = token_ttl or dt.timedelta(hours=24)

    # -- hub facts --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.hub.settings.base_url.rstrip("/") + "/oai"

    @property
    def host(self) -> str:
        return urlsplit(self.hub.settings.base_url).hostname or "localhost"

    def oai_identifier(self, pid: str) -> str:
        return f"oai:{self.host}:{pid}"

    def _pid_of(self, identifier: str) -> str:
        prefix = f"oai:{self.host}:"
        if not identifier.startswith(prefix) or len(identifier) == len(prefix):
            raise OaiError(
                "idDoesNotExist", f"{identifier!r} is not an identifier of this repository ({prefix}<pid>)"
            )
        return identifier[len(prefix) :]

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.hub.secret_key, salt="databahn.oai.resumption")

    def _context(self) -> ExportContext:
        s = self.hub.settings
        return ExportContext(base_url=s.base_url, hub_name=s.hub_name, publisher=s.publisher)

    # -- which versions are records ---------------------------------------------------------------
    @staticmethod
    def _exposed() -> ColumnElement[bool]:
        """Was this version ever harvestable? Public at publication (noted by `record_exposure`), or
        opened afterwards by an audited openness change (public, or announced metadata-only)."""
        after = AuditEvent.detail["after"]
        opened = and_(
            AuditEvent.action == "access.change",
            AuditEvent.at >= Version.published_at,
            or_(after["access"].as_string() == "public", after["metadata_only"].as_boolean().is_(True)),
        )
        return exists(
            select(AuditEvent.id).where(
                AuditEvent.target == Version.pid, or_(AuditEvent.action == EXPOSED, opened)
            )
        )

    def _records_clause(self) -> ColumnElement[bool]:
        """Harvestable now, or harvestable once (then reported as deleted)."""
        return and_(
            Version.state.in_(("published", "withdrawn")),
            or_(readable(ANONYMOUS), self._exposed()),
        )

    @staticmethod
    def _datestamp() -> Any:
        """When the record last changed: the version's own `updated`, or a later audited change of
        the version or its dataset (an access change, a DOI added), so incremental harvests see it."""
        last_event = (
            select(func.max(AuditEvent.at))
            .where(
                AuditEvent.target.in_([Version.pid, Dataset.pid]),
                or_(AuditEvent.action.in_(RECORD_CHANGES), AuditEvent.action.like("%withdraw%")),
            )
            .scalar_subquery()
        )
        return func.coalesce(last_event, Version.updated)

    @staticmethod
    def _openness_clause(level: str) -> ColumnElement[bool]:
        today = dt.datetime.now(dt.UTC).date()
        if level == "embargoed":
            return and_(Version.access == "public", Version.embargo_until > today)
        if level == "metadata-only":
            return and_(Version.access == "public", Version.metadata_only.is_(True))
        return Version.access == level

    def _set_clause(self, set_spec: str | None) -> ColumnElement[bool]:
        if set_spec is None or set_spec == "openness":
            return true()
        wp = Version.meta["work_package"].as_string()
        if set_spec == "wp":
            return wp.is_not(None)
        family, _, value = set_spec.partition(":")
        if family == "wp" and value:
            return wp == value
        if family == "openness" and value in OPENNESS:
            return self._openness_clause(value)
        raise OaiError(
            "noRecordsMatch", f"there is no set {set_spec!r}; ListSets shows the sets of this repository"
        )

    @staticmethod
    def openness(v: Version) -> list[str]:
        out = [v.access]
        if v.access == "public" and v.metadata_only:
            out.append("metadata-only")
        if v.access == "public" and v.embargo_until and v.embargo_until > dt.datetime.now(dt.UTC).date():
            out.append("embargoed")
        return out

    def set_specs(self, v: Version) -> list[str]:
        specs = [f"openness:{level}" for level in self.openness(v)]
        wp = (v.meta or {}).get("work_package")
        if wp:
            specs.insert(0, f"wp:{wp}")
        return specs

    # -- XML --------------------------------------------------------------------------------------
    def _envelope(self, args: dict[str, str], echo: bool) -> etree._Element:
        root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", OAI_SCHEMA)
        etree.SubElement(root, f"{{{OAI}}}responseDate").text = _stamp(dt.datetime.now(dt.UTC))
        request = etree.SubElement(root, f"{{{OAI}}}request")
        request.text = self.base_url
        if echo:
            for key, value in args.items():
                request.set(key, value)
        return root

    def _header(self, parent: etree._Element, v: Version, stamp: dt.datetime, deleted: bool) -> None:
        header = etree.SubElement(parent, f"{{{OAI}}}header")
        if deleted:
            header.set("status", "deleted")
        etree.SubElement(header, f"{{{OAI}}}identifier").text = self.oai_identifier(v.pid)
        etree.SubElement(header, f"{{{OAI}}}datestamp").text = _stamp(max(stamp, v.updated))
        for spec in self.set_specs(v):
            etree.SubElement(header, f"{{{OAI}}}setSpec").text = spec

    def _metadata(self, s: Session, v: Version, prefix: str) -> etree._Element:
        record = self.hub.datasets.to_record(s, v, ANONYMOUS)
        ctx = self._context()
        try:
            if prefix == "oai_dc":
                return dc_export.to_element(record, ctx)
            return DATACITE.to_element(record, ctx)
        except ExportError as exc:
            raise OaiError(
                "cannotDisseminateFormat", f"{v.pid} cannot be written as {prefix}: {exc}"
            ) from None

    # -- entry point ------------------------------------------------------------------------------
    def handle(self, pairs: Sequence[tuple[str, str]]) -> bytes:
        """Answer one OAI-PMH request given its (name, value) arguments, from a GET or a POST."""
        args: dict[str, str] = {}
        repeated = sorted({k for k, _ in pairs if sum(1 for k2, _ in pairs if k2 == k) > 1})
        for key, value in pairs:
            args.setdefault(key, value)
        verb = args.get("verb")
        try:
            if repeated:
                raise OaiError("badArgument", f"argument(s) given more than once: {', '.join(repeated)}")
            if verb is None:
                raise OaiError("badVerb", "the verb argument is missing; use one of " + ", ".join(VERBS))
            if verb not in VERBS:
                raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb; use one of " + ", ".join(VERBS))
            self._check_arguments(verb, args)
        except OaiError as exc:
            root = self._envelope(args, echo=False)
            etree.SubElement(root, f"{{{OAI}}}error", code=exc.code).text = exc.message
            return self._serialise(root)
        root = self._envelope(args, echo=True)
        try:
            with self.hub.read() as s:
                getattr(self, f"_verb_{verb}")(s, root, args)
        except OaiError as exc:
            root = self._envelope(args, echo=exc.code not in ("badArgument", "badVerb"))
            etree.SubElement(root, f"{{{OAI}}}error", code=exc.code).text = exc.message
        return self._serialise(root)

    @staticmethod
    def _serialise(root: etree._Element) -> bytes:
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _check_arguments(verb: str, args: dict[str, str]) -> None:
        required, optional = VERBS[verb]
        given = set(args) - {"verb"}
        illegal = sorted(given - required - optional)
        if illegal:
            raise OaiError("badArgument", f"{verb} does not take argument(s): {', '.join(illegal)}")
        empty = sorted(k for k in given if not args[k].strip())
        if empty:
            raise OaiError("badArgument", f"argument(s) with an empty value: {', '.join(empty)}")
        if "resumptionToken" in given:
            if len(given) > 1:
                raise OaiError("badArgument", "resumptionToken is exclusive: send it with the verb only")
            return
        missing = sorted(required - given)
        if missing:
            raise OaiError("badArgument", f"{verb} needs the argument(s): {', '.join(missing)}")

    # -- verbs ------------------------------------------------------------------------------------
    def _verb_Identify(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        earliest = s.scalar(
            select(func.min(self._datestamp()))
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(self._records_clause())
        )
        node = etree.SubElement(root, f"{{{OAI}}}Identify")
        settings = self.hub.settings
        for tag, text in (
            ("repositoryName", settings.hub_name),
            ("baseURL", self.base_url),
            ("protocolVersion", "2.0"),
            ("adminEmail", self._admin_email(s)),
            ("earliestDatestamp", _stamp(earliest or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))),
            ("deletedRecord", "persistent"),
            ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
        ):
            etree.SubElement(node, f"{{{OAI}}}{tag}").text = text
        if _DOMAIN.match(self.host):
            desc = etree.SubElement(node, f"{{{OAI}}}description")
            ident = etree.SubElement(desc, f"{{{OAI_ID}}}oai-identifier", nsmap={None: OAI_ID})
            ident.set(
                f"{{{XSI}}}schemaLocation", f"{OAI_ID} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
            )
            for tag, text in (
                ("scheme", "oai"),
                ("repositoryIdentifier", self.host),
                ("delimiter", ":"),
                ("sampleIdentifier", f"oai:{self.host}:abcd-efgh.v1"),
            ):
                etree.SubElement(ident, f"{{{OAI_ID}}}{tag}").text = text

    def _admin_email(self, s: Session) -> str:
        """The first administrator's address (Identify requires one), else a reserved placeholder."""
        email = s.scalar(
            select(User.email)
            .where(User.is_admin.is_(True), User.email.is_not(None))
            .order_by(User.id)
            .limit(1)
        )
        return email or f"admin@{self.host if '.' in self.host else self.host + '.invalid'}"

    def _find(self, s: Session, identifier: str) -> tuple[Version, dt.datetime, bool]:
        """The record an identifier names, its datestamp and whether it is deleted (else idDoesNotExist)."""
        pid = self._pid_of(identifier)
        row = s.execute(
            select(Version, self._datestamp())
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(Version.pid == pid, self._records_clause())
            .options(selectinload(Version.files), selectinload(Version.dataset))
        ).first()
        if row is None:
            raise OaiError("idDoesNotExist", f"no record {identifier!r} in this repository")
        version, stamp = row
        return version, stamp, not can(ANONYMOUS, Action.read_metadata, version)

    def _verb_ListMetadataFormats(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        if "identifier" in args:
            self._find(s, args["identifier"])
        node = etree.SubElement(root, f"{{{OAI}}}ListMetadataFormats")
        for prefix, (schema, namespace) in FORMATS.items():
            fmt = etree.SubElement(node, f"{{{OAI}}}metadataFormat")
            etree.SubElement(fmt, f"{{{OAI}}}metadataPrefix").text = prefix
            etree.SubElement(fmt, f"{{{OAI}}}schema").text = schema
            etree.SubElement(fmt, f"{{{OAI}}}metadataNamespace").text = namespace

    def _verb_ListSets(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        if "resumptionToken" in args:
            raise OaiError(
                "badResumptionToken", "ListSets answers in one response; there is nothing to resume"
            )
        wps = sorted(
            {
                wp
                for wp in s.scalars(
                    select(Version.meta["work_package"].as_string())
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(self._records_clause())
                    .distinct()
                )
                if wp
            },
            key=lambda w: (len(w), w),
        )
        node = etree.SubElement(root, f"{{{OAI}}}ListSets")
        entries = [("wp", "Work packages")] + [(f"wp:{wp}", f"Work package {wp}") for wp in wps]
        entries += [("openness", "Openness")] + [(f"openness:{o}", f"Openness: {o}") for o in OPENNESS]
        for spec, name in entries:
            item = etree.SubElement(node, f"{{{OAI}}}set")
            etree.SubElement(item, f"{{{OAI}}}setSpec").text = spec
            etree.SubElement(item, f"{{{OAI}}}setName").text = name

    def _verb_GetRecord(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        prefix = self._prefix(args["metadataPrefix"])
        version, stamp, deleted = self._find(s, args["identifier"])
        metadata = None if deleted else self._metadata(s, version, prefix)
        record = etree.SubElement(etree.SubElement(root, f"{{{OAI}}}GetRecord"), f"{{{OAI}}}record")
        self._header(record, version, stamp, deleted)
        if metadata is not None:
            etree.SubElement(record, f"{{{OAI}}}metadata").append(metadata)

    def _verb_ListIdentifiers(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        self._list(s, root, args, "ListIdentifiers")

    def _verb_ListRecords(self, s: Session, root: etree._Element, args: dict[str, str]) -> None:
        self._list(s, root, args, "ListRecords")

    @staticmethod
    def _prefix(prefix: str) -> str:
        if prefix not in FORMATS:
            raise OaiError(
                "cannotDisseminateFormat",
                f"metadataPrefix {prefix!r} is not supported; use one of {', '.join(FORMATS)}",
            )
        return prefix

    def _state(self, args: dict[str, str], verb: str) -> ListState:
        if "resumptionToken" in args:
            try:
                data = self._serializer().loads(
                    args["resumptionToken"], max_age=int(self.token_ttl.total_seconds())
                )
            except SignatureExpired:
                raise OaiError(
                    "badResumptionToken", "the resumption token has expired; start the list again"
                ) from None
            except BadSignature:
                raise OaiError(
                    "badResumptionToken", "the resumption token is not one this repository issued"
                ) from None
            state = ListState.load(data)
            if state.verb != verb:
                raise OaiError(
                    "badResumptionToken", f"the resumption token belongs to {state.verb}, not {verb}"
                )
            return state
        return ListState(
            verb=verb,
            prefix=self._prefix(args["metadataPrefix"]),
            set_spec=args.get("set"),
            from_=args.get("from"),
            until=args.get("until"),
        )

    def _list(self, s: Session, root: etree._Element, args: dict[str, str], verb: str) -> None:
        state = self._state(args, verb)
        where = [self._records_clause(), self._set_clause(state.set_spec)]
        datestamp = self._datestamp()
        granularities = set()
        if state.from_:
            start, g = _parse_date("from", state.from_, upper=False)
            granularities.add(g)
            where.append(datestamp >= start)
        if state.until:
            end, g = _parse_date("until", state.until, upper=True)
            granularities.add(g)
            where.append(datestamp < end)
        if len(granularities) > 1:
            raise OaiError("badArgument", "from and until must have the same granularity")
        if state.from_ and state.until and start >= end:
            raise OaiError("badArgument", f"from ({state.from_}) is later than until ({state.until})")
        total = state.total
        if total is None:
            total = (
                s.scalar(
                    select(func.count(Version.id))
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(*where)
                )
                or 0
            )
        rows = list(
            s.execute(
                select(Version, datestamp)
                .join(Dataset, Dataset.id == Version.dataset_id)
                .where(*where, Version.id > state.after_id)
                .order_by(Version.id)
                .limit(self.page_size + 1)
                .options(selectinload(Version.files), selectinload(Version.dataset))
            ).all()
        )
        if not rows and state.cursor == 0:
            raise OaiError("noRecordsMatch", "no records match these arguments")
        more, rows = len(rows) > self.page_size, rows[: self.page_size]
        node = etree.SubElement(root, f"{{{OAI}}}{verb}")
        for version, stamp in rows:
            deleted = not can(ANONYMOUS, Action.read_metadata, version)
            if verb == "ListIdentifiers":
                self._header(node, version, stamp, deleted)
                continue
            metadata = None
            if not deleted:
                try:
                    metadata = self._metadata(s, version, state.prefix)
                except OaiError:
                    continue  # a record that cannot be written in this format is left out of the list
            record = etree.SubElement(node, f"{{{OAI}}}record")
            self._header(record, version, stamp, deleted)
            if metadata is not None:
                etree.SubElement(record, f"{{{OAI}}}metadata").append(metadata)
        if more or state.cursor:
            token = etree.SubElement(node, f"{{{OAI}}}resumptionToken")
            token.set("completeListSize", str(total))
            token.set("cursor", str(state.cursor))
            if more:
                following = ListState(
                    verb=verb,
                    prefix=state.prefix,
                    set_spec=state.set_spec,
                    from_=state.from_,
                    until=state.until,
                    after_id=rows[-1][0].id,
                    cursor=state.cursor + len(rows),
                    total=total,
                )
                token.set("expirationDate", _stamp(dt.datetime.now(dt.UTC) + self.token_ttl))
                token.text = self._serializer().dumps(following.dump())


def record_exposure(s: Session, version: Version) -> None:
    """after_publish hook: note that this version became harvestable, so hiding it later leaves a
    `deleted` header instead of a silent disappearance."""
    if can(ANONYMOUS, Action.read_metadata, version):
        s.add(
            AuditEvent(actor_id=None, action=EXPOSED, target=version.pid, detail={"access": version.access})
        )


router = APIRouter(tags=["interoperability"])
XML = "text/xml; charset=utf-8"


@router.get("/oai", response_class=Response, responses={200: {"content": {"text/xml": {}}}})
async def oai_get(request: Request) -> Response:
    """OAI-PMH 2.0 (GET): Identify, ListMetadataFormats, ListSets, GetRecord, ListIdentifiers, ListRecords."""
    service: OaiService = request.app.state.hub.ext["oai"]
    pairs = list(request.query_params.multi_items())
    return Response(await run_in_threadpool(service.handle, pairs), media_type=XML)


@router.post("/oai", response_class=Response, responses={200: {"content": {"text/xml": {}}}})
async def oai_post(request: Request) -> Response:
    """OAI-PMH 2.0 (POST, application/x-www-form-urlencoded), as some harvesters send it."""
    service: OaiService = request.app.state.hub.ext["oai"]
    body = (await request.body()).decode("utf-8", errors="replace")
    pairs = parse_qsl(body, keep_blank_values=True) + list(request.query_params.multi_items())
    return Response(await run_in_threadpool(service.handle, pairs), media_type=XML)
