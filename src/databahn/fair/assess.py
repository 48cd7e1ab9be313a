"""FAIR self-assessment of a dataset version, modelled on F-UJI's metrics (FAIRsFAIR, Devaraju & Huber).

F-UJI tests a landing page from outside; the hub knows its own records, so each metric here is
computed from what the version really carries: its identifiers, creators, license, ontology terms,
relations, files and access level. Every metric says why it scored as it did and what to do about
it, so the UI can show advice next to the field to fix, and `gate` can hold back publication of
versions below a configurable score.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from databahn.domain.licenses import LICENSES, is_open
from databahn.domain.metadata import RelationType
from databahn.domain.records import Access, FileRecord, VersionRecord, VersionState

EMMO_PREFIX = "https://w3id.org/emmo"

#: Media types of documented, openly specified formats (DMP 2.2.3 asks for open formats or named software).
OPEN_MEDIA_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "text/tab-separated-values",
        "text/markdown",
        "text/turtle",
        "application/json",
        "application/ld+json",
        "application/xml",
        "text/xml",
        "application/x-hdf5",
        "application/x-hdf",
        "application/x-netcdf",
        "application/netcdf",
        "application/pdf",
        "application/zip",
        "application/x-tar",
        "application/gzip",
        "image/png",
        "image/tiff",
        "image/jpeg",
        "image/svg+xml",
        "chemical/x-cif",
        "chemical/x-xyz",
        "chemical/x-pdb",
        "application/vnd.apache.parquet",
        "application/x-parquet",
    }
)


class Status(StrEnum):
    passed = "passed"
    partial = "partial"
    failed = "failed"


@dataclass(frozen=True)
class MetricResult:
    """One metric's verdict, with the reason (what was found) and the advice (what to change)."""

    id: str
    name: str
    principle: str
    status: Status
    points: float
    max_points: float
    reason: str
    advice: str = ""
    field: str | None = None  # the metadata field the advice is about, for the UI to link to

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "principle": self.principle,
            "status": self.status.value,
            "points": self.points,
            "max_points": self.max_points,
            "reason": self.reason,
            "advice": self.advice,
            "field": self.field,
        }


@dataclass(frozen=True)
class FairReport:
    pid: str
    metrics: list[MetricResult]

    @property
    def points(self) -> float:
        return sum(m.points for m in self.metrics)

    @property
    def max_points(self) -> float:
        return sum(m.max_points for m in self.metrics)

    @property
    def score(self) -> float:
        """Percentage of the attainable points, rounded to one decimal."""
        return round(100 * self.points / self.max_points, 1) if self.max_points else 0.0

    def by_principle(self) -> dict[str, float]:
        """Score per FAIR letter (F, A, I, R), in percent."""
        out: dict[str, float] = {}
        for letter in "FAIR":
            ms = [m for m in self.metrics if m.principle == letter]
            total = sum(m.max_points for m in ms)
            out[letter] = round(100 * sum(m.points for m in ms) / total, 1) if total else 0.0
        return out

    def metric(self, metric_id: str) -> MetricResult:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(f"no metric {metric_id!r}; known: {', '.join(m.id for m in self.metrics)}")

    def advice(self) -> list[MetricResult]:
        """Metrics that did not pass, the costliest first: what the UI lists as 'to improve'."""
        todo = [m for m in self.metrics if m.status != Status.passed]
        return sorted(todo, key=lambda m: m.points - m.max_points)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "score": self.score,
            "points": self.points,
            "max_points": self.max_points,
            "by_principle": self.by_principle(),
            "metrics": [m.to_dict() for m in self.metrics],
        }


@dataclass(frozen=True)
class FairConfig:
    """Hub policy for the assessment and the publication gate (from the hub's settings)."""

    #: minimum score (percent) a version needs before it may be published
    minimum_score: float = 50.0
    #: metrics that must not fail, whatever the score (e.g. a license: FsF-R1.1-01M)
    required: frozenset[str] = frozenset()
    #: metric id → max points, to weigh what the consortium cares about
    weights: dict[str, float] = field(default_factory=dict)
    #: metric ids to leave out entirely
    disabled: frozenset[str] = frozenset()
    #: IRI prefixes of the community vocabularies (BattINFO lives under EMMO)
    vocabularies: tuple[str, ...] = (EMMO_PREFIX,)

    def __post_init__(self) -> None:
        if not 0 <= self.minimum_score <= 100:
            raise ValueError(f"minimum_score must be between 0 and 100, not {self.minimum_score}")
        known = {m[0] for m in METRICS}
        unknown = (set(self.required) | set(self.weights) | set(self.disabled)) - known
        if unknown:
            raise ValueError(
                f"unknown FAIR metric id(s) {sorted(unknown)}; known: {', '.join(sorted(known))}"
            )
        bad = {k: v for k, v in self.weights.items() if v < 0}
        if bad:
            raise ValueError(f"metric weights must not be negative: {bad}")


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    score: float
    minimum: float
    blocking: list[MetricResult]
    message: str


# -- the metrics -------------------------------------------------------------------------------
@dataclass
class _Verdict:
    fraction: float  # 0..1 of the metric's points
    reason: str
    advice: str = ""
    field: str | None = None


def _status(fraction: float) -> Status:
    if fraction >= 0.999:
        return Status.passed
    return Status.partial if fraction > 0 else Status.failed


def _list(items: Iterable[str], limit: int = 4) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _iri(value: str | None) -> bool:
    return bool(value) and bool(re.match(r"^https?://", value or ""))


def _f1_unique(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if r.doi:
        return _Verdict(1, f"the version has a globally unique DOI ({r.doi}) and the hub PID {r.pid}")
    if r.pid:
        return _Verdict(1, f"the version has the hub identifier {r.pid}, unique within the hub's namespace")
    return _Verdict(0, "the version has no identifier", "save the version so the hub assigns it a PID")


def _f1_persistent(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if r.doi:
        return _Verdict(1, f"DOI {r.doi} resolves through doi.org, independent of this hub's address")
    others = [
        i for i in r.identifiers if i.scheme in {"handle", "ark", "facility-doi"} and i.level == "version"
    ]
    if others:
        return _Verdict(0.75, f"persistent {others[0].scheme} identifier {others[0].value}, but no DOI")
    if r.url or r.state == VersionState.published:
        where = f"at {r.url}" if r.url else "at the hub's landing page"
        return _Verdict(
            0.5,
            f"only the hub PID {r.pid}, which resolves {where} while the hub keeps its address; no DOI",
            "publish the version to mint a DOI (or register a Handle) so citations survive a move of the hub",
            "identifiers",
        )
    return _Verdict(
        0.25,
        f"only the hub PID {r.pid}, with no resolvable landing page yet (state: {r.state.value}); no DOI",
        "publish the version: publication gives it a landing page and a DOI",
        "identifiers",
    )


def _f2_core(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    md = r.metadata
    have = {
        "title": bool(md.title),
        "creators": bool(md.creators),
        "description": bool(md.description and len(md.description) >= 50),
        "keywords": bool(md.keywords or md.subjects),
        "publication date": bool(r.published or md.dates),
        "resource type": bool(md.resource_type),
        "version": bool(md.version),
    }
    missing = [k for k, ok in have.items() if not ok]
    if not missing:
        return _Verdict(
            1, "title, creators, description, keywords, date, resource type and version are all given"
        )
    short = "description" in missing and md.description
    return _Verdict(
        (len(have) - len(missing)) / len(have),
        "missing: "
        + ", ".join(missing)
        + (" (the description has fewer than 50 characters)" if short else ""),
        "add " + ", ".join(missing) + ": search engines and DataCite index exactly these fields",
        missing[0].replace(" ", "_"),
    )


def _f3_data_id(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if not r.files:
        if not r.files_visible:
            return _Verdict(
                0.5,
                "the files are withheld (metadata-only), so the metadata cannot list them",
                "state in the description what the files contain and how to request them",
            )
        return _Verdict(
            0, "the version has no files, so the metadata identifies no data", "upload the data files"
        )
    unhashed = [f.key for f in r.files if not (f.sha256 or f.external_url)]
    if unhashed:
        return _Verdict(
            0.5,
            f"files without a checksum or URL: {_list(unhashed)}",
            "re-upload these files so the hub records their sha256",
            "files",
        )
    return _Verdict(1, f"all {len(r.files)} files are listed with their sha256 or URL")


def _f4_indexed(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if r.state == VersionState.published:
        return _Verdict(1, "published: offered as DataCite, schema.org JSON-LD, DCAT-AP and over OAI-PMH")
    if r.state == VersionState.withdrawn:
        return _Verdict(0.5, "withdrawn: only a tombstone remains harvestable")
    return _Verdict(
        0,
        f"the version is a {r.state.value}: harvesters and search engines do not see it",
        "publish the version so that it is offered to harvesters (OAI-PMH, DCAT, Google Dataset Search)",
    )


def _a1_access(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if r.access == Access.public and r.files_visible and not r.embargo_until:
        return _Verdict(1, "open access, stated as such in the metadata")
    if r.embargo_until:
        return _Verdict(
            1, f"embargoed until {r.embargo_until.isoformat()}, with the end date in the metadata"
        )
    contact = r.metadata.contributors and any(p.role == "ContactPerson" for p in r.metadata.contributors)
    if contact:
        return _Verdict(1, f"{r.access.value} access, with a contact person to request the files")
    return _Verdict(
        0.5,
        f"{r.access.value} access is stated, but nobody is named to ask for the files",
        "add a contributor with the role ContactPerson so that others know whom to ask for access",
        "contributors",
    )


def _a1_protocol_metadata(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if r.url and r.url.startswith("https://"):
        return _Verdict(1, f"the landing page {r.url} is served over HTTPS")
    if r.url:
        return _Verdict(0.5, f"the landing page {r.url} is not HTTPS", "serve the hub over HTTPS")
    if r.state == VersionState.published:
        return _Verdict(1, "published: the landing page and API are served by the hub over HTTP(S)")
    return _Verdict(
        0.5,
        "no landing page yet; the metadata is reachable through the hub's API only",
        "publish the version to give it a landing page",
    )


def _a1_protocol_data(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if not r.files:
        return _Verdict(0, "no files to access", "upload the data files", "files")
    if not r.files_visible or r.access != Access.public:
        return _Verdict(
            0.5,
            "the files are withheld; they can only be requested through the landing page",
            "if the data may be shared, open access to the files (or set an embargo end date)",
        )
    insecure = [
        f.key for f in r.files if (f.download_url or f.external_url or "https://").startswith("http://")
    ]
    if insecure:
        return _Verdict(0.5, f"files only reachable over plain HTTP: {_list(insecure)}", "use HTTPS URLs")
    return _Verdict(1, "all files download over HTTPS")


def _i1_formal(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    return _Verdict(1, "the hub exports the metadata as JSON-LD (schema.org, RO-Crate) and RDF (DCAT-AP)")


def _i2_vocabularies(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    md = r.metadata
    community = [k for k in md.keywords if k.startswith(cfg.vocabularies)]
    other_iris = [k for k in md.keywords if _iri(k) and k not in community]
    extracted_iris = sorted(
        {
            str(info[key])
            for info in _extracted(r)
            for key in ("technique_iri",)
            if isinstance(info.get(key), str) and _iri(info[key])
        }
    )
    method_iri = bool(md.method and _iri(md.method.name))
    if community:
        extra = " and a method IRI" if method_iri else ""
        return _Verdict(1, f"{len(community)} keyword(s) are ontology terms ({_list(community, 2)}){extra}")
    if other_iris or extracted_iris or method_iri:
        found = other_iris or extracted_iris or [str(md.method.name if md.method else "")]
        return _Verdict(
            0.5,
            f"some terms are IRIs ({_list(found, 2)}), but no keyword is a BattINFO/EMMO term",
            "add keywords as BattINFO/EMMO IRIs (https://w3id.org/emmo/...), e.g. the technique and material",
            "keywords",
        )
    return _Verdict(
        0,
        "no keyword, method or technique is an ontology term (plain-text keywords only)"
        if md.keywords
        else "there are no keywords and no ontology terms",
        "pick keywords from BattINFO/EMMO (https://w3id.org/emmo/...) in the keyword search",
        "keywords",
    )


def _i3_links(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    md = r.metadata
    people = [p for p in md.creators if _is_person(p.name, p.orcid, p.given_name)]
    without_orcid = [p.name for p in people if not p.orcid]
    orcid_todo = "ORCID iDs for " + _list(without_orcid) if md.creators else "creators with ORCID iDs"
    parts: list[tuple[bool, str, str]] = [
        (
            bool(md.related_identifiers),
            "related identifiers with relation types",
            "related publications or data",
        ),
        (
            bool(md.creators) and not without_orcid,
            "ORCID iDs for every person among the creators",
            orcid_todo,
        ),
        (
            any(a.ror for p in md.creators for a in p.affiliation),
            "ROR ids for affiliations",
            "ROR ids for the creators' affiliations",
        ),
        (
            bool(md.funding) and all(f.funder_id for f in md.funding),
            "funder ids",
            "the funder and its ROR/Crossref id",
        ),
    ]
    have = [what for ok, what, _ in parts if ok]
    missing = [todo for ok, _, todo in parts if not ok]
    if not missing:
        return _Verdict(1, "qualified links: " + ", ".join(have))
    return _Verdict(
        len(have) / len(parts),
        "missing: " + "; ".join(missing),
        "add " + "; ".join(missing) + " — each becomes a machine-followable link",
        "related_identifiers" if not md.related_identifiers else "creators",
    )


def _r1_content(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if not r.files:
        if not r.files_visible:
            return _Verdict(0.5, "the files are withheld; their content is described only in the text")
        return _Verdict(0, "no files, so no content to describe", "upload the data files", "files")
    untyped = [f.key for f in r.files if not f.media_type or f.media_type == "application/octet-stream"]
    unsized = [f.key for f in r.files if f.size is None]
    quantities = any(info.get("quantities") for info in _extracted(r))
    score = 1.0 - 0.25 * bool(untyped) - 0.25 * bool(unsized) - 0.25 * (not quantities)
    if score >= 0.999:
        return _Verdict(1, "every file has a format and size, and measured quantities with units are listed")
    missing = []
    if untyped:
        missing.append(f"no specific format for {_list(untyped)}")
    if unsized:
        missing.append(f"no size for {_list(unsized)}")
    if not quantities:
        missing.append("no measured quantities (variables with units) were extracted")
    return _Verdict(
        score,
        "; ".join(missing),
        "upload files in a format the hub can read, or describe the columns and units in the description",
        "files",
    )


def _r1_license(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    lic = r.metadata.license
    if not lic:
        return _Verdict(
            0,
            "no license is given, so nobody may legally reuse the data",
            "choose a license, e.g. CC-BY-4.0 (the DMP asks for open licenses for published data)",
            "license",
        )
    if is_open(lic):
        return _Verdict(1, f"{lic} is an open license known to SPDX")
    if lic in LICENSES:
        return _Verdict(
            0.5,
            f"{lic} is a known SPDX license but not an open one",
            "use an open license such as CC-BY-4.0 or CC0-1.0 if the partners allow it",
            "license",
        )
    return _Verdict(0.25, f"{lic} is not a known SPDX license", "use an SPDX license id", "license")


def _r1_provenance(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    md = r.metadata
    derived = [x.identifier for x in md.related_identifiers if x.relation == RelationType.is_derived_from]
    derived_files = [f.key for f in r.files if f.derived_from]
    parts: list[tuple[bool, str, str]] = [
        (bool(md.creators), "creators", "the creators"),
        (
            bool(md.generated_on or any(d.type.value in ("Created", "Collected") for d in md.dates)),
            "the generation date",
            "the date the data was generated",
        ),
        (bool(md.method), "the method", "the method (a BattINFO/CHAMEO term)"),
        (
            bool(md.method and md.method.protocol),
            "the protocol/SOP",
            "the protocol or SOP followed (DOI or URL)",
        ),
        (
            bool(md.method and md.method.instrument) or any(info.get("instrument") for info in _extracted(r)),
            "the instrument",
            "the instrument used",
        ),
        (
            bool(derived or derived_files or md.data_level == "raw"),
            "what the data was derived from",
            "what the data was derived from (an IsDerivedFrom relation to the source data)",
        ),
    ]
    have = [what for ok, what, _ in parts if ok]
    missing = [todo for ok, _, todo in parts if not ok]
    if not missing:
        source = f" (derived from {_list(derived, 2)})" if derived else ""
        return _Verdict(1, "provenance: " + ", ".join(have) + source)
    return _Verdict(
        len(have) / len(parts),
        "missing: " + "; ".join(missing),
        "add " + "; ".join(missing),
        "method" if not md.method else "related_identifiers",
    )


def _r1_community(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    md = r.metadata
    fields = {
        "work package": md.work_package,
        "partner": md.partner,
        "interface aspect": md.interface_aspect,
        "method": md.method,
        "data level": md.data_level,
        "fidelity": md.fidelity,
        "dimensionality": md.dimensionality,
    }
    missing = [k for k, v in fields.items() if not v]
    if not missing:
        return _Verdict(1, "all the BIG-MAP DMP minimum metadata (2.1.6) is given")
    return _Verdict(
        (len(fields) - len(missing)) / len(fields),
        "BIG-MAP DMP minimum metadata missing: " + ", ".join(missing),
        "fill in " + ", ".join(missing) + " (the consortium's agreed minimum, DMP 2.1.6)",
        missing[0].replace(" ", "_"),
    )


def _r1_formats(r: VersionRecord, cfg: FairConfig) -> _Verdict:
    if not r.files:
        if not r.files_visible:
            return _Verdict(0.5, "the files are withheld; their formats cannot be judged")
        return _Verdict(0, "no files", "upload the data files", "files")
    closed = [f.key for f in r.files if not _open_format(r, f)]
    if not closed:
        return _Verdict(1, f"all {len(r.files)} files are in open, documented formats")
    open_copies = {f.derived_from for f in r.files if f.derived_from and _open_format(r, f)}
    uncovered = [k for k in closed if k not in open_copies]
    if not uncovered:
        return _Verdict(1, f"proprietary files ({_list(closed, 2)}) all have open-format copies")
    software = r.metadata.software
    if software:
        names = ", ".join(f"{s.name} {s.version or ''}".strip() for s in software)
        return _Verdict(
            0.5,
            f"files in proprietary formats without open copies: {_list(uncovered)}; software named: {names}",
            "add open-format exports (e.g. CSV or HDF5) next to the proprietary files",
            "files",
        )
    return _Verdict(
        0,
        f"files in proprietary formats without open copies: {_list(uncovered)}, and no software named to read them",
        "add open-format exports, or name the software and version needed to read the files (DMP 2.2.3)",
        "software",
    )


# id, name, principle, default max points, function
METRICS: list[tuple[str, str, str, float, Callable[[VersionRecord, FairConfig], _Verdict]]] = [
    ("FsF-F1-01D", "Globally unique identifier", "F", 1, _f1_unique),
    ("FsF-F1-02D", "Persistent identifier", "F", 1, _f1_persistent),
    ("FsF-F2-01M", "Descriptive core metadata (citation metadata)", "F", 2, _f2_core),
    ("FsF-F3-01M", "Metadata includes the identifiers of the data", "F", 1, _f3_data_id),
    ("FsF-F4-01M", "Machine-readable metadata offered to harvesters", "F", 2, _f4_indexed),
    ("FsF-A1-01M", "Access level and access conditions", "A", 1, _a1_access),
    ("FsF-A1-02M", "Metadata over a standard protocol", "A", 1, _a1_protocol_metadata),
    ("FsF-A1-03D", "Data over a standard protocol", "A", 1, _a1_protocol_data),
    ("FsF-I1-01M", "Formal knowledge representation", "I", 1, _i1_formal),
    ("FsF-I2-01M", "Semantic resources (vocabularies)", "I", 2, _i2_vocabularies),
    ("FsF-I3-01M", "Qualified links to related entities", "I", 2, _i3_links),
    ("FsF-R1-01MD", "Content of the data described", "R", 2, _r1_content),
    ("FsF-R1.1-01M", "License", "R", 2, _r1_license),
    ("FsF-R1.2-01M", "Provenance", "R", 2, _r1_provenance),
    ("FsF-R1.3-01M", "Community metadata standard (BIG-MAP DMP)", "R", 2, _r1_community),
    ("FsF-R1.3-02D", "Open file formats", "R", 1, _r1_formats),
]


def _extracted(r: VersionRecord) -> list[dict[str, Any]]:
    infos = [f.extracted for f in r.files if isinstance(f.extracted, dict)]
    infos += [v for v in r.extracted.values() if isinstance(v, dict)]
    return infos


def _open_format(r: VersionRecord, f: FileRecord) -> bool:
    for info in (f.extracted, r.extracted.get(f.key)):
        if isinstance(info, dict) and "open_format" in info:
            return bool(info["open_format"])
    return (f.media_type or "").split(";")[0].strip().lower() in OPEN_MEDIA_TYPES


def _is_person(name: str, orcid: str | None, given: str | None) -> bool:
    return bool(orcid or given or "," in name)


def assess(record: VersionRecord, *, config: FairConfig | None = None) -> FairReport:
    """Score one version; never raises on incomplete metadata (that is what it measures)."""
    cfg = config or FairConfig()
    results: list[MetricResult] = []
    for metric_id, name, principle, default_max, fn in METRICS:
        if metric_id in cfg.disabled:
            continue
        max_points = cfg.weights.get(metric_id, default_max)
        v = fn(record, cfg)
        fraction = min(max(v.fraction, 0.0), 1.0)
        status = _status(fraction)
        results.append(
            MetricResult(
                id=metric_id,
                name=name,
                principle=principle,
                status=status,
                points=round(fraction * max_points, 2),
                max_points=max_points,
                reason=v.reason,
                advice="" if status == Status.passed else v.advice,
                field=None if status == Status.passed else v.field,
            )
        )
    return FairReport(pid=record.pid, metrics=results)


def gate(
    report: FairReport, minimum: float | None = None, *, config: FairConfig | None = None
) -> GateDecision:
    """The publication gate: enough points overall, and none of the required metrics failed."""
    cfg = config or FairConfig()
    floor = cfg.minimum_score if minimum is None else minimum
    if not 0 <= floor <= 100:
        raise ValueError(f"the FAIR gate minimum must be between 0 and 100, not {floor}")
    blocking = [m for m in report.metrics if m.id in cfg.required and m.status == Status.failed]
    problems: list[str] = []
    if report.score < floor:
        problems.append(f"FAIR score {report.score}% is below the hub's minimum of {floor}%")
    problems += [f"{m.name} ({m.id}) is required: {m.reason}" for m in blocking]
    if not problems:
        return GateDecision(
            True, report.score, floor, [], f"FAIR score {report.score}% meets the minimum {floor}%"
        )
    todo = blocking or report.advice()[:3]
    hints = "; ".join(m.advice for m in todo if m.advice)
    return GateDecision(
        False, report.score, floor, todo, ". ".join(problems) + (f". To fix: {hints}" if hints else "")
    )


def publication_problems(record: VersionRecord, config: FairConfig | None = None) -> list[tuple[str, str]]:
    """The gate as (field, message) pairs, like `DatasetMetadata.publish_problems`, for the publish service.

    The draft is judged as it will be once published (a draft is never harvestable, which would
    otherwise cost every draft the same points), so only what the depositor can fix counts."""
    as_published = record.model_copy(
        update={"state": VersionState.published, "published": record.published or dt.datetime.now(dt.UTC)}
    )
    cfg = config or FairConfig()
    report = assess(as_published, config=cfg)
    decision = gate(report, config=cfg)
    if decision.allowed:
        return []
    problems = [
        (m.field or "metadata", f"{m.name}: {m.reason}. {m.advice}".strip()) for m in decision.blocking
    ]
    return [("fair", decision.message.split(". To fix:")[0]), *problems]
