"""Loading a plan file (YAML or JSON) with errors that name the line and say how to fix it.

The file is composed with PyYAML first so every value keeps its line number; semantic checks
(unknown WPs in a flow, duplicate WP numbers, unknown size classes, unknown partners or affinity
groups) and pydantic's own validation errors are then reported against those lines, all at once.
JSON is read through the same path (YAML 1.2 is a JSON superset for plan files), so JSON plans get
line numbers too. maDMP JSON is recognised by its top-level "dmp" object and imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from databahn.dmp.model import Plan, SizeRange, wp_key

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class PlanProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class PlanError(ValueError):
    """A plan file was refused; `problems` lists every problem found, each with its line."""

    def __init__(self, problems: list[PlanProblem], source: str = "plan") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(str(p) for p in problems))

    def report(self) -> str:
        return f"{self.source} was refused:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _line_map(node: yaml.Node, path: Path_, out: dict[Path_, int], problems: list[PlanProblem]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = str(k.value)
            if key in seen:
                problems.append(
                    PlanProblem(k.start_mark.line + 1, f"key {key!r} appears twice in this mapping")
                )
            seen.add(key)
            _line_map(v, (*path, key), out, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, (*path, i), out, problems)


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


def _semantic_checks(data: dict[str, Any], lines: dict[Path_, int]) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    wps = data.get("work_packages")
    if not isinstance(wps, list) or not wps:
        return [
            PlanProblem(
                _line_for(lines, ("work_packages",)), "the plan needs a non-empty 'work_packages' list"
            )
        ]
    known: dict[int, int] = {}
    for i, wp in enumerate(wps):
        if not isinstance(wp, dict):
            problems.append(
                PlanProblem(_line_for(lines, ("work_packages", i)), "a work package must be a mapping")
            )
            continue
        num = wp.get("number")
        line = _line_for(lines, ("work_packages", i, "number"))
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            problems.append(PlanProblem(line, f"work package number must be a positive integer, not {num!r}"))
            continue
        if num in known:
            problems.append(
                PlanProblem(
                    line, f"duplicate work package number {num} (already defined on line {known[num]})"
                )
            )
        else:
            known[num] = line or 0
    known_keys = {f"WP{n}" for n in known}
    known_text = ", ".join(f"WP{n}" for n in sorted(known))
    partners = {p.get("abbreviation") for p in data.get("partners") or [] if isinstance(p, dict)}
    groups = {str(g.get("key")) for g in data.get("affinity_groups") or [] if isinstance(g, dict)}
    for i, wp in enumerate(wps):
        if not isinstance(wp, dict):
            continue
        base: Path_ = ("work_packages", i)
        here = f"WP{wp.get('number')}"
        if partners:
            for j, p in enumerate(wp.get("partners") or []):
                if p not in partners:
                    problems.append(
                        PlanProblem(
                            _line_for(lines, (*base, "partners", j)),
                            f"{here} names partner {p!r}, which is not in the plan's partner list",
                        )
                    )
        grp = wp.get("affinity_group")
        if groups and grp is not None and grp not in groups:
            problems.append(
                PlanProblem(
                    _line_for(lines, (*base, "affinity_group")),
                    f"{here} has unknown affinity group {grp!r} (known: {', '.join(sorted(groups))})",
                )
            )
        for table in ("data_types", "collected_examples", "collected_from", "delivered_to"):
            for j, row in enumerate(wp.get(table) or []):
                if not isinstance(row, dict):
                    continue
                size = row.get("size")
                if size is not None:
                    try:
                        SizeRange.parse(str(size))
                    except ValueError as exc:
                        problems.append(
                            PlanProblem(
                                _line_for(lines, (*base, table, j, "size")),
                                f"{here} {table} row {j + 1}: {exc}",
                            )
                        )
                if table not in ("collected_from", "delivered_to"):
                    continue
                refs = row.get("wp")
                if refs is None:
                    problems.append(
                        PlanProblem(
                            _line_for(lines, (*base, table, j)),
                            f"{here} {table} row {j + 1} has no 'wp' (the other work package of the flow)",
                        )
                    )
                    continue
                for k, ref in enumerate(refs if isinstance(refs, list) else [refs]):
                    path = (*base, table, j, "wp", k) if isinstance(refs, list) else (*base, table, j, "wp")
                    try:
                        key = wp_key(ref)
                    except ValueError as exc:
                        problems.append(
                            PlanProblem(_line_for(lines, path), f"{here} {table} row {j + 1}: {exc}")
                        )
                        continue
                    if known and key not in known_keys:
                        problems.append(
                            PlanProblem(
                                _line_for(lines, path),
                                f"{here} {table} row {j + 1} names {key}, which is not a work package of this "
                                f"plan (known: {known_text})",
                            )
                        )
    return problems


def _pydantic_problems(exc: ValidationError, lines: dict[Path_, int]) -> list[PlanProblem]:
    out = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if isinstance(x, str | int))
        where = ".".join(str(x) for x in loc) or "plan"
        msg = err["msg"].removeprefix("Value error, ")
        out.append(PlanProblem(_line_for(lines, loc), f"{where}: {msg}"))
    return out


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse plan text (YAML or JSON); raise PlanError listing every problem with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PlanError([PlanProblem(line, f"not valid YAML/JSON: {exc.problem}")], source) from None
    if node is None or not isinstance(data, dict):
        raise PlanError(
            [PlanProblem(1, "a plan file must be a mapping with 'project' and 'work_packages'")], source
        )
    lines: dict[Path_, int] = {}
    problems: list[PlanProblem] = []
    _line_map(node, (), lines, problems)
    problems += _semantic_checks(data, lines)
    if not problems:
        try:
            return Plan.model_validate(data)
        except ValidationError as exc:
            problems = _pydantic_problems(exc, lines)
    raise PlanError(sorted(problems, key=lambda p: p.line or 0), source)


def load_plan(path: str | Path) -> Plan:
    """Load a plan in the package's YAML/JSON format from a file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([PlanProblem(None, f"cannot read {p}: {exc.strerror}")], str(p)) from None
    except UnicodeDecodeError:
        raise PlanError([PlanProblem(None, "the file is not UTF-8 text")], str(p)) from None
    return parse_plan(text, str(p))


def load_any(path: str | Path) -> Plan:
    """Load a plan file or a maDMP JSON file (recognised by a top-level "dmp" object)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if isinstance(data, dict) and "dmp" in data and "work_packages" not in data:
            from databahn.dmp.madmp import import_madmp

            return import_madmp(data)
    return load_plan(p)


def default_plan_text() -> str:
    return resources.files("databahn.dmp").joinpath("data/bigmap.yaml").read_text(encoding="utf-8")


def load_default_plan() -> Plan:
    """The shipped BIG-MAP plan, transcribed from the DMP paper."""
    return parse_plan(default_plan_text(), "bigmap.yaml")


def dump_plan_yaml(plan: Plan) -> str:
    """Serialise a plan back to the package's YAML format (re-loadable with load_plan)."""
    data = plan.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    for wp in data.get("work_packages", []):
        for table in ("data_types", "collected_examples"):
            for row in wp.get(table, []):
                if row.pop("merged", False):
                    row.pop("datatype", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
