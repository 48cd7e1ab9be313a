"""Every generated DMP document is kept: a small file-based version store.

The hub's database can take over storage later (the lead's part); until then, and for the CLI used
without a server, versions live in a directory as ``v0001.html`` plus an ``index.json`` with their
metadata. Versions are append-only: a number, once given, always returns the same document.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel


class DocumentVersion(BaseModel):
    number: int
    generated_at: datetime
    plan_acronym: str
    plan_version: str
    file: str


class DocumentArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def versions(self) -> list[DocumentVersion]:
        if not self._index_path.exists():
            return []
        data = json.loads(self._index_path.read_text(encoding="utf-8"))
        return [DocumentVersion.model_validate(v) for v in data]

    def save(
        self, html: str, *, plan_acronym: str, plan_version: str, generated_at: datetime | None = None
    ) -> int:
        """Store a new version and return its number (1, 2, ...)."""
        self.root.mkdir(parents=True, exist_ok=True)
        versions = self.versions()
        number = (versions[-1].number + 1) if versions else 1
        name = f"v{number:04d}.html"
        (self.root / name).write_text(html, encoding="utf-8")
        versions.append(
            DocumentVersion(
                number=number,
                generated_at=generated_at or datetime.now(UTC),
                plan_acronym=plan_acronym,
                plan_version=plan_version,
                file=name,
            )
        )
        tmp = self._index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps([v.model_dump(mode="json") for v in versions], indent=1), encoding="utf-8")
        tmp.replace(self._index_path)
        return number

    def get(self, number: int) -> str:
        for v in self.versions():
            if v.number == number:
                return (self.root / v.file).read_text(encoding="utf-8")
        known = ", ".join(str(v.number) for v in self.versions()) or "none yet"
        raise KeyError(f"no DMP document version {number} (versions: {known})")

    def next_number(self) -> int:
        versions = self.versions()
        return (versions[-1].number + 1) if versions else 1
