"""Checking what people send: parameters with units, ordered steps, software versions, kinds.

Each refusal is the hub's InvalidInput (422) with the engine's explanation of what was wrong.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from databahn.errors import FieldError, InvalidInput
from databahn.provenance.graph import explain
from databahn.provenance.model import ActivityType, Parameter, ProvenanceError, Step


def refuse(exc: ProvenanceError | ValidationError, what: str = "") -> InvalidInput:
    """A provenance refusal as the hub's 422, keeping the engine's explanation."""
    text = explain(exc) if isinstance(exc, ValidationError) else str(exc)
    return InvalidInput(f"{what}{text}", errors=[FieldError("provenance", text)])


def parse_parameters(raw: Any, where: str = "parameters") -> list[Parameter]:
    """Parameters from a list of {name, value, unit} or a mapping name -> "-1 mA" / number / text."""
    if raw is None:
        return []
    out: list[Parameter] = []
    try:
        if isinstance(raw, dict):
            for name, value in raw.items():
                if isinstance(value, dict):
                    out.append(Parameter.model_validate({"name": str(name), **value}))
                elif isinstance(value, str):
                    try:
                        out.append(Parameter.parse(str(name), value))
                    except ProvenanceError:
                        out.append(Parameter(name=str(name), value=value))
                else:
                    out.append(Parameter(name=str(name), value=value))
        elif isinstance(raw, list):
            out = [Parameter.model_validate(p) for p in raw]
        else:
            raise InvalidInput(f"{where} must be a list of {{name, value, unit}} or a mapping name: '1 mA'")
    except ValidationError as exc:
        raise refuse(exc, f"{where}: ") from None
    except ProvenanceError as exc:
        raise refuse(exc, f"{where}: ") from None
    return out


def parse_steps(raw: Any) -> list[Step]:
    """Ordered steps; `order` defaults to the position, parameters as in :func:`parse_parameters`."""
    if raw is None:
        return []
    if isinstance(raw, dict) and "steps" in raw:
        raw = raw["steps"]
    if not isinstance(raw, list):
        raise InvalidInput("steps must be a list, e.g. [{kind: rest, action: 'rest', parameters: {...}}]")
    steps: list[Step] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"step {i}: must be a mapping with kind, action and parameters")
        data = dict(item)
        data.setdefault("order", i)
        data.setdefault("action", str(data.get("kind", "")))
        data["parameters"] = parse_parameters(data.get("parameters"), f"step {i} parameters")
        try:
            steps.append(Step.model_validate(data))
        except ValidationError as exc:
            raise refuse(exc, f"step {i}: ") from None
    return steps


def parse_software(text: str) -> tuple[str, str | None, str | None]:
    """'NAME==VERSION[@COMMIT]' -> (name, version, commit)."""
    name, sep, rest = text.partition("==")
    version, _, commit = rest.partition("@")
    if not name.strip() or (sep and not version.strip()):
        raise InvalidInput(
            f"software {text!r} must look like NAME==VERSION (optionally NAME==VERSION@COMMIT), "
            "e.g. galvani==0.4.1"
        )
    return name.strip(), version.strip() or None, commit.strip() or None


def activity_type(kind: str) -> ActivityType:
    try:
        return ActivityType(kind.strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in ActivityType)
        raise InvalidInput(
            f"unknown activity kind {kind!r}; use one of: {known}", errors=[FieldError("kind", known)]
        ) from None


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise InvalidInput(f"expected an identifier or a list of them, got {type(value).__name__}")
