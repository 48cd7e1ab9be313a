"""Citations: BibTeX and CSL-JSON, so a dataset can be cited as easily as a paper.

BibTeX text is LaTeX: every special character of the metadata is escaped so that titles such as
"LiFePO4 & 50% SoC_test {draft}" survive `bibtex`/`biber` unchanged. CSL-JSON is plain JSON and
feeds citeproc (Zotero, pandoc) directly.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, ClassVar

from databahn.domain.metadata import Person
from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import DocumentExporter, ExportContext, ExportError

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; other Unicode stays (biber and modern bibtex read UTF-8).

    Braces become \\{ \\} when they pair up; BibTeX counts braces even when escaped, so unpaired
    ones are spelled \\textbraceleft{} / \\textbraceright{} instead."""
    specials = dict(_LATEX_SPECIALS)
    if _balanced(text):
        specials.update({"{": r"\{", "}": r"\}"})
    return _SPECIAL_RE.sub(lambda m: specials[m.group(0)], " ".join(text.split()))


def _url_escape(url: str) -> str:
    # URLs go through \url, which copes with everything but a bare % (a TeX comment) and braces.
    return url.replace("%", r"\%").replace("{", "%7B").replace("}", "%7D")


def _bib_author(p: Person) -> str:
    n = c.split_name(p)
    if n.is_person and n.family:
        name = latex_escape(n.family) + (", " + latex_escape(n.given) if n.given else "")
        # "and" inside a name would split it into two authors
        return re.sub(r"\band\b", "{and}", name)
    return "{" + latex_escape(n.full) + "}"  # an organisation: keep it as one unit


def citation_key(record: VersionRecord, ctx: ExportContext) -> str:
    """ASCII key: first creator's family name + year + the version PID."""
    first = record.metadata.creators[0] if record.metadata.creators else None
    stem = (c.split_name(first).family or first.name) if first else c.publisher(record, ctx)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem_part = re.sub(r"[^A-Za-z0-9]", "", ascii_stem) or "dataset"
    pid_part = re.sub(r"[^A-Za-z0-9]", "", record.pid)
    return f"{stem_part}{c.publication_year(record, ctx)}_{pid_part}"


def bibtex(record: VersionRecord, ctx: ExportContext, entry_type: str = "misc") -> str:
    md = record.metadata
    date = c.issued(record, ctx)
    fields: list[tuple[str, str]] = []
    if md.creators:
        fields.append(("author", " and ".join(_bib_author(p) for p in md.creators)))
    else:
        fields.append(("author", "{" + latex_escape(c.publisher(record, ctx)) + "}"))
    fields.append(("title", "{" + latex_escape(md.title) + "}"))  # inner braces keep the case
    fields.append(("year", str(c.publication_year(record, ctx))))
    fields.append(("month", str(date.month)))
    fields.append(("publisher", latex_escape(c.publisher(record, ctx))))
    fields.append(("version", latex_escape(c.version_label(record))))
    if record.doi:
        fields.append(("doi", _url_escape(record.doi)))
    fields.append(("url", _url_escape(c.persistent_url(record, ctx))))
    if md.keywords:
        fields.append(("keywords", latex_escape(", ".join(c.keyword_label(k, ctx) for k in md.keywords))))
    notes = []
    if md.license:
        notes.append(f"License: {md.license}")
    if not c.is_public(record, ctx):
        notes.append(c.access_statement(record, ctx))
    if notes:
        fields.append(("note", latex_escape(". ".join(n.rstrip(".") for n in notes) + ".")))
    if entry_type == "misc":
        fields.append(("howpublished", latex_escape(f"{md.resource_type}, {ctx.hub_name}")))
    width = max(len(k) for k, _ in fields)
    body = ",\n".join(f"  {k.ljust(width)} = {{{v}}}" for k, v in fields)
    return f"@{entry_type}{{{citation_key(record, ctx)},\n{body}\n}}\n"


def _csl_name(p: Person) -> dict[str, str]:
    n = c.split_name(p)
    if n.is_person and n.family:
        out = {"family": n.family}
        if n.given:
            out["given"] = n.given
        return out
    return {"literal": n.full}


def csl_item(record: VersionRecord, ctx: ExportContext) -> dict[str, Any]:
    md = record.metadata
    d = c.issued(record, ctx)
    item: dict[str, Any] = {
        "id": record.pid,
        "type": "dataset",
        "title": md.title,
        "author": [_csl_name(p) for p in md.creators] or [{"literal": c.publisher(record, ctx)}],
        "issued": {"date-parts": [[d.year, d.month, d.day]]},
        "publisher": c.publisher(record, ctx),
        "version": c.version_label(record),
        "URL": c.persistent_url(record, ctx),
    }
    if record.doi:
        item["DOI"] = record.doi
    if md.description:
        item["abstract"] = md.description
    if md.keywords:
        item["keyword"] = ", ".join(c.keyword_label(k, ctx) for k in md.keywords)
    if md.language:
        item["language"] = md.language
    if md.contributors:
        item["contributor"] = [_csl_name(p) for p in md.contributors]
    notes = [f"License: {md.license}"] if md.license else []
    if not c.is_public(record, ctx):
        notes.append(c.access_statement(record, ctx))
    if notes:
        item["note"] = " ".join(notes)
    return item


class BibTeXExporter(DocumentExporter):
    name = "bibtex"
    label = "BibTeX"
    media_type = "application/x-bibtex"
    suffix = ".bib"
    entry_types: ClassVar[tuple[str, ...]] = ("misc", "dataset")

    def __init__(self, entry_type: str = "misc") -> None:
        if entry_type not in self.entry_types:
            raise ExportError(
                f"BibTeX entry type must be one of {', '.join(self.entry_types)}, not {entry_type!r}"
            )
        self.entry_type = entry_type

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return bibtex(record, ctx, self.entry_type).encode("utf-8")


class CslJsonExporter(DocumentExporter):
    name = "csl"
    label = "CSL-JSON"
    media_type = "application/vnd.citationstyles.csl+json"
    suffix = ".csl.json"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return json.dumps([csl_item(record, ctx)], indent=2, ensure_ascii=False).encode("utf-8")
