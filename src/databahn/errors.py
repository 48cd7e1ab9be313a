"""The error hierarchy every layer speaks; interfaces map it to HTTP problems or CLI exits.

DatabahnError                 (status 400)
├── InvalidInput              400/422: bad data, with per-field messages
├── Unauthenticated           401: no or bad credentials
├── Forbidden                 403: known principal, not allowed
├── NotFound                  404: absent, or not visible to this principal
├── Conflict                  409: the state forbids it (editing a published version, ...)
├── PayloadTooLarge           413
└── RangeNotSatisfiable       416
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DatabahnError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://databahn.dev/problems/{type(self).__name__}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


class InvalidInput(DatabahnError):
    status = 422
    title = "Invalid input"


class Unauthenticated(DatabahnError):
    status = 401
    title = "Authentication required"


class Forbidden(DatabahnError):
    status = 403
    title = "Forbidden"


class NotFound(DatabahnError):
    status = 404
    title = "Not found"


class Conflict(DatabahnError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(DatabahnError):
    status = 413
    title = "Payload too large"


class RangeNotSatisfiable(DatabahnError):
    status = 416
    title = "Range not satisfiable"


def pydantic_field_errors(exc: Any, prefix: str = "") -> list[FieldError]:
    """Turn a pydantic ValidationError into FieldErrors that name the field and say why."""
    out: list[FieldError] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (see /api/schemas/metadata for the allowed fields)"
        out.append(FieldError(f"{prefix}{loc}" if loc else prefix.rstrip(".") or "metadata", msg))
    return out
