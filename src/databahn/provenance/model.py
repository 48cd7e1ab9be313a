"""Typed provenance vocabulary: node kinds, link types, steps with units and ML model cards.

The link vocabulary follows AiiDA's ``LinkType`` (``input_calc``, ``create``, ``input_work``, ``return``,
``call_calc``, ``call_work``) so that imported computations keep their meaning, and adds the few relations a
laboratory needs (derivation, revision, association with an agent, attribution). Which node kinds may stand
at either end of each link type is one declarative table, :data:`ALLOWED_LINKS`, so that the rules are read
in one place and enforced by :func:`validate_link` everywhere a link is made.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from itertools import product
from typing import Annotated, Any, Literal

import pint
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

JSONValue = Any


class ProvenanceError(ValueError):
    """Base class: a provenance record or operation was refused, with a message saying why."""


class UnknownNodeError(ProvenanceError, KeyError):
    """An identifier that is not in the graph was used."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it readable.
        return str(self.args[0]) if self.args else ""


class LinkNotAllowedError(ProvenanceError):
    """A link type was used between node kinds the vocabulary does not allow."""


class CycleError(ProvenanceError):
    """A link would make an entity derive, directly or indirectly, from itself."""

    def __init__(self, message: str, path: list[str]) -> None:
        super().__init__(message)
        self.path = path


class NodeKind(StrEnum):
    """What a provenance node is; datasets, samples and models are PROV entities."""

    DATASET = "dataset"
    SAMPLE = "sample"
    MODEL = "model"
    ACTIVITY = "activity"
    WORKFLOW = "workflow"
    AGENT = "agent"


ENTITY_KINDS: frozenset[NodeKind] = frozenset({NodeKind.DATASET, NodeKind.SAMPLE, NodeKind.MODEL})
ACTIVITY_KINDS: frozenset[NodeKind] = frozenset({NodeKind.ACTIVITY, NodeKind.WORKFLOW})


class SampleType(StrEnum):
    MATERIAL = "material"
    ELECTRODE = "electrode"
    ELECTROLYTE = "electrolyte"
    SEPARATOR = "separator"
    CELL = "cell"
    COMPONENT = "component"


class ActivityType(StrEnum):
    SYNTHESIS = "synthesis"
    ASSEMBLY = "assembly"
    MEASUREMENT = "measurement"
    SIMULATION = "simulation"
    ANALYSIS = "analysis"
    TRAINING = "training"
    IMPORT = "import"


class AgentType(StrEnum):
    PERSON = "person"
    SOFTWARE = "software"
    INSTRUMENT = "instrument"
    COMPUTER = "computer"
    ORGANIZATION = "organization"


class LinkType(StrEnum):
    """Typed links, always drawn from the earlier node (source) to the later one (target).

    The AiiDA names mean the same as in AiiDA; ``input_calc``/``create`` apply to every non-workflow
    activity (a synthesis "creates" its product just as a calculation creates its output).
    """

    INPUT_CALC = "input_calc"  # entity -> activity: the activity used the entity
    CREATE = "create"  # activity -> entity: the activity generated the entity
    INPUT_WORK = "input_work"  # entity -> workflow
    RETURN = "return"  # workflow -> entity it returned (created by a called activity)
    CALL_CALC = "call_calc"  # workflow -> activity it started
    CALL_WORK = "call_work"  # workflow -> sub-workflow
    DERIVED_FROM = "derived_from"  # origin entity -> derived entity (no recorded activity)
    REVISION_OF = "revision_of"  # earlier version -> later version of the same thing
    ASSOCIATED_WITH = "associated_with"  # agent -> activity it ran / took part in (role in the label)
    ATTRIBUTED_TO = "attributed_to"  # agent -> entity it is responsible for (e.g. supplier)
    DELEGATED = "delegated"  # responsible agent -> agent acting on its behalf


def _pairs(sources: Iterable[NodeKind], targets: Iterable[NodeKind]) -> frozenset[tuple[NodeKind, NodeKind]]:
    return frozenset(product(sources, targets))


_E, _A, _W, _G = ENTITY_KINDS, {NodeKind.ACTIVITY}, {NodeKind.WORKFLOW}, {NodeKind.AGENT}

#: The one table of allowed links: link type -> allowed (source kind, target kind) pairs.
ALLOWED_LINKS: dict[LinkType, frozenset[tuple[NodeKind, NodeKind]]] = {
    LinkType.INPUT_CALC: _pairs(_E, _A),
    LinkType.CREATE: _pairs(_A, _E),
    LinkType.INPUT_WORK: _pairs(_E, _W),
    LinkType.RETURN: _pairs(_W, _E),
    LinkType.CALL_CALC: _pairs(_W, _A),
    LinkType.CALL_WORK: _pairs(_W, _W),
    LinkType.DERIVED_FROM: _pairs(_E, _E),
    LinkType.REVISION_OF: frozenset((k, k) for k in ENTITY_KINDS),
    LinkType.ASSOCIATED_WITH: _pairs(_G, ACTIVITY_KINDS),
    LinkType.ATTRIBUTED_TO: _pairs(_G, _E),
    LinkType.DELEGATED: _pairs(_G, _G),
}

#: Links that carry data provenance: they must never form a cycle and are what lineage follows.
#: (AiiDA's logical links -- input_work, return, call -- may legitimately loop, e.g. a workflow
#: returning one of its own inputs, so they are not part of the derivation relation.)
DERIVATION_LINKS: frozenset[LinkType] = frozenset(
    {LinkType.INPUT_CALC, LinkType.CREATE, LinkType.DERIVED_FROM, LinkType.REVISION_OF}
)


def validate_link(
    source_kind: NodeKind | str, link_type: LinkType | str, target_kind: NodeKind | str
) -> None:
    """Raise :class:`LinkNotAllowedError` unless ``source -[link_type]-> target`` is in the table."""
    try:
        lt = LinkType(link_type)
    except ValueError:
        known = ", ".join(t.value for t in LinkType)
        raise LinkNotAllowedError(f"unknown link type {link_type!r}; use one of: {known}") from None
    try:
        src, tgt = NodeKind(source_kind), NodeKind(target_kind)
    except ValueError:
        known = ", ".join(k.value for k in NodeKind)
        raise LinkNotAllowedError(
            f"unknown node kind in {source_kind!r} -[{lt.value}]-> {target_kind!r}; kinds are: {known}"
        ) from None
    allowed = ALLOWED_LINKS[lt]
    if (src, tgt) not in allowed:
        options = "; ".join(sorted(f"{s.value} -> {t.value}" for s, t in allowed))
        raise LinkNotAllowedError(
            f"a {lt.value!r} link cannot go from a {src.value} to a {tgt.value}; it is allowed for: {options}"
        )


# --------------------------------------------------------------------------------------------- units


@lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry:
    """One shared pint registry (building it costs ~0.25 s, so only on first use)."""
    return pint.UnitRegistry()


#: Expected physical dimension for well-known parameter names, so "current: 30 s" is refused.
PARAMETER_DIMENSIONS: dict[str, str] = {
    "current": "[current]",
    "current_density": "[current] / [length] ** 2",
    "voltage": "[electric_potential]",
    "potential": "[electric_potential]",
    "cutoff_voltage": "[electric_potential]",
    "upper_voltage": "[electric_potential]",
    "lower_voltage": "[electric_potential]",
    "duration": "[time]",
    "time": "[time]",
    "temperature": "[temperature]",
    "pressure": "[pressure]",
    "capacity": "[charge]",
    "mass": "[mass]",
    "thickness": "[length]",
    "frequency": "[frequency]",
    "power": "[power]",
    # A C-rate is relative (1C = full capacity in one hour): pint would read a unit "C" as coulomb.
    "c_rate": "",
}


def parse_unit(unit: str) -> pint.Unit:
    """Parse a unit string with pint, raising :class:`ProvenanceError` with a hint when it is unknown."""
    ureg = unit_registry()
    try:
        return ureg.Unit(unit)
    except Exception as exc:  # pint raises several unrelated exception types for bad strings
        raise ProvenanceError(
            f"unknown unit {unit!r} ({exc}); write units as pint understands them, e.g. 'mA', 'V', 's', "
            "'degC', 'mA/cm^2', or '1' for a dimensionless number"
        ) from None


class Parameter(BaseModel):
    """A named value with an optional unit, checked against :data:`PARAMETER_DIMENSIONS`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    value: float | int | bool | str
    unit: str | None = None

    @field_validator("unit")
    @classmethod
    def _blank_is_missing(cls, unit: str | None) -> str | None:
        return unit.strip() or None if unit is not None else None

    @classmethod
    def parse(cls, name: str, text: str) -> Parameter:
        """Build from text such as ``"-1 mA"`` or ``"30 s"`` (number first, then the unit)."""
        number, _, unit = text.strip().partition(" ")
        try:
            value: float | int = int(number)
        except ValueError:
            try:
                value = float(number)
            except ValueError:
                raise ProvenanceError(
                    f"parameter {name!r}: {text!r} does not start with a number; write e.g. '-1 mA'"
                ) from None
        return cls(name=name, value=value, unit=unit.strip() or None)

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, int | float) and not isinstance(self.value, bool)

    @model_validator(mode="after")
    def _check_unit(self) -> Parameter:
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"parameter {self.name!r}: value must be a finite number, got {self.value}")
        if self.unit is None:
            return self
        if not self.is_numeric:
            raise ValueError(f"parameter {self.name!r}: a unit ({self.unit!r}) only makes sense on a number")
        unit = parse_unit(self.unit)
        expected = PARAMETER_DIMENSIONS.get(self.name.lower())
        if expected is not None:
            ureg = unit_registry()
            if ureg.get_dimensionality(expected) != unit.dimensionality:
                wanted = expected or "dimensionless (unit='1')"
                raise ValueError(
                    f"parameter {self.name!r}: unit {self.unit!r} has dimension {unit.dimensionality}, "
                    f"but a {self.name} must be {wanted}"
                )
        return self

    def quantity(self) -> pint.Quantity:
        """The value as a pint quantity (for unit conversion); refuses non-numeric values."""
        if not self.is_numeric:
            raise ProvenanceError(f"parameter {self.name!r} is not numeric")
        return unit_registry().Quantity(self.value, self.unit or "1")


class StepKind(StrEnum):
    """What an experimental step does; physical steps need units on every numeric parameter."""

    CONSTANT_CURRENT = "constant_current"
    CONSTANT_VOLTAGE = "constant_voltage"
    REST = "rest"
    TEMPERATURE = "temperature"
    HEAT = "heat"
    DRY = "dry"
    PRESS = "press"
    MIX = "mix"
    MEASURE = "measure"
    LOAD_SAMPLE = "load_sample"
    TRANSFER = "transfer"
    NOTE = "note"


#: Step kinds whose numeric parameters may go without a unit (handling steps and notes).
UNITLESS_STEP_KINDS: frozenset[StepKind] = frozenset({StepKind.LOAD_SAMPLE, StepKind.TRANSFER, StepKind.NOTE})


class Step(BaseModel):
    """One ordered step of an experiment, e.g. ``constant_current`` with current=-1 mA, duration=30 s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order: int = Field(ge=0)
    kind: StepKind
    action: str = Field(min_length=1, max_length=500, description="what was done, in words")
    parameters: tuple[Parameter, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Step:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"step {self.order} ({self.action!r}): parameter(s) given twice: {', '.join(dupes)}"
            )
        if self.kind not in UNITLESS_STEP_KINDS:
            missing = [p.name for p in self.parameters if p.is_numeric and p.unit is None]
            if missing:
                raise ValueError(
                    f"step {self.order} ({self.kind.value}: {self.action!r}): numeric parameter(s) "
                    f"{', '.join(missing)} need a unit, e.g. unit='mA' or unit='s' "
                    "(use unit='1' for a plain count)"
                )
        return self


def check_step_sequence(steps: Iterable[Step]) -> tuple[Step, ...]:
    """Return the steps sorted by ``order``, refusing repeated order numbers."""
    ordered = tuple(sorted(steps, key=lambda s: s.order))
    seen: set[int] = set()
    for step in ordered:
        if step.order in seen:
            raise ProvenanceError(f"two steps share order {step.order}; each step needs its own position")
        seen.add(step.order)
    return ordered


# ----------------------------------------------------------------------------------------- model card


def canonical_json(value: JSONValue) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8) so equal metadata always hashes equally."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ProvenanceError(
            f"metadata cannot be hashed: {exc} (NaN and infinity are not allowed)"
        ) from None


class ModelCard(BaseModel):
    """What it takes to trust and reproduce a trained ML model; its hash identifies that metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    training_data: tuple[str, ...] = Field(min_length=1, description="identifiers of the training datasets")
    init_parameters: dict[str, JSONValue] = Field(default_factory=dict)
    seeds: dict[str, int] = Field(default_factory=dict, description="e.g. {'numpy': 0, 'torch': 42}")
    hardware: str = Field(min_length=1, description="e.g. '1x NVIDIA A100 40GB' or 'CPU, 2 cores'")
    framework_versions: dict[str, str] = Field(min_length=1, description="e.g. {'torch': '2.3.1'}")
    timestamp: datetime
    architecture: str | None = None
    notes: str | None = None

    @field_validator("training_data")
    @classmethod
    def _ids(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        if any(not i.strip() for i in ids):
            raise ValueError("training_data identifiers must not be empty")
        return ids

    @field_validator("init_parameters")
    @classmethod
    def _finite(cls, params: dict[str, JSONValue]) -> dict[str, JSONValue]:
        # JSON dumping would silently turn NaN into null and change what the hash certifies.
        stack: list[JSONValue] = [params]
        while stack:
            value = stack.pop()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError("init_parameters must not contain NaN or infinity (they have no JSON form)")
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list | tuple):
                stack.extend(value)
        return params

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, ts: datetime) -> datetime:
        if ts.tzinfo is None:
            raise ValueError("timestamp needs a time zone, e.g. '2024-05-01T12:00:00Z'")
        return ts

    def canonical_json(self) -> str:
        return canonical_json(self.model_dump(mode="json"))

    def metadata_hash(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of this card."""
        return "sha256:" + hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------------------------- nodes


class _NodeBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=500)
    label: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20_000)
    attributes: dict[str, JSONValue] = Field(default_factory=dict)
    created_at: datetime | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value != value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"node id {value!r} must not contain whitespace")
        return value

    @property
    def display(self) -> str:
        return self.label or self.id


class _EntityBase(_NodeBase):
    version: str | None = None
    commercial: bool = False
    source_identifier: str | None = Field(
        default=None, description="for commercially licensed inputs: the only thing kept, tracking the source"
    )

    @model_validator(mode="after")
    def _commercial(self) -> _EntityBase:
        if self.commercial:
            if not self.source_identifier:
                raise ValueError(
                    f"{self.id}: a commercially licensed input must carry source_identifier "
                    "(e.g. the vendor's catalogue or licence id) so its origin can be tracked"
                )
            if self.attributes or self.description:
                raise ValueError(
                    f"{self.id}: a commercially licensed input keeps only its source_identifier; "
                    "remove its attributes and description"
                )
        return self


class DatasetNode(_EntityBase):
    kind: Literal[NodeKind.DATASET] = NodeKind.DATASET


class SampleNode(_EntityBase):
    """A material, electrode, electrolyte, separator, cell or component, with supplier and lot if bought."""

    kind: Literal[NodeKind.SAMPLE] = NodeKind.SAMPLE
    sample_type: SampleType
    supplier: str | None = None
    lot: str | None = None


class ModelNode(_EntityBase):
    """An ML model: a dataset of its own kind, described by a :class:`ModelCard`."""

    kind: Literal[NodeKind.MODEL] = NodeKind.MODEL
    card: ModelCard | None = None

    @property
    def metadata_hash(self) -> str | None:
        return self.card.metadata_hash() if self.card else None


class _TimedBase(_NodeBase):
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parameters: tuple[Parameter, ...] = ()

    @model_validator(mode="after")
    def _times(self) -> _TimedBase:
        if self.started_at and self.ended_at:
            if (self.started_at.tzinfo is None) != (self.ended_at.tzinfo is None):
                raise ValueError(f"{self.id}: give both start and end with a time zone, or neither")
            if self.ended_at < self.started_at:
                raise ValueError(
                    f"{self.id}: ends ({self.ended_at.isoformat()}) before it starts "
                    f"({self.started_at.isoformat()})"
                )
        return self


class ActivityNode(_TimedBase):
    """A synthesis, assembly, measurement, simulation, analysis, training or import."""

    kind: Literal[NodeKind.ACTIVITY] = NodeKind.ACTIVITY
    activity_type: ActivityType
    steps: tuple[Step, ...] = ()

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return check_step_sequence(steps)


class WorkflowNode(_TimedBase):
    """An orchestrating process (AiiDA WorkChain / workfunction) that calls activities."""

    kind: Literal[NodeKind.WORKFLOW] = NodeKind.WORKFLOW


class AgentNode(_NodeBase):
    """A person, software or code (with version and commit), instrument, computer or organisation."""

    kind: Literal[NodeKind.AGENT] = NodeKind.AGENT
    agent_type: AgentType
    version: str | None = None
    commit: str | None = None

    @model_validator(mode="after")
    def _software(self) -> AgentNode:
        if (self.version or self.commit) and self.agent_type not in (
            AgentType.SOFTWARE,
            AgentType.INSTRUMENT,
        ):
            raise ValueError(f"{self.id}: only software and instruments carry a version or commit")
        return self


class RestrictedNode(BaseModel):
    """Placeholder for a node the viewer may not see: an opaque id and the kind, nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: NodeKind
    restricted: Literal[True] = True

    @property
    def label(self) -> str:
        return f"restricted {self.kind.value}"

    @property
    def display(self) -> str:
        return self.label


def _node_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "restricted" if value.get("restricted") else str(value.get("kind", ""))
    return "restricted" if getattr(value, "restricted", False) else str(getattr(value, "kind", ""))


ProvNode = Annotated[
    Annotated[DatasetNode, Tag("dataset")]
    | Annotated[SampleNode, Tag("sample")]
    | Annotated[ModelNode, Tag("model")]
    | Annotated[ActivityNode, Tag("activity")]
    | Annotated[WorkflowNode, Tag("workflow")]
    | Annotated[AgentNode, Tag("agent")]
    | Annotated[RestrictedNode, Tag("restricted")],
    Discriminator(_node_tag),
]
"""Any node of a provenance graph; parse dicts with :data:`NODE_ADAPTER`."""


class Edge(BaseModel):
    """A typed link ``source -[link_type]-> target``; ``label`` is the role (AiiDA link label)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    target: str
    link_type: LinkType
    label: str = Field(default="", max_length=500)


NODE_ADAPTER: TypeAdapter[ProvNode] = TypeAdapter(ProvNode)
