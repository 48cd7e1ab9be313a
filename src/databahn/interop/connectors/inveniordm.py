"""InvenioRDM's records API (the engine of Zenodo and of the BIG-MAP Archive).

The documented sequence (https://inveniordm.docs.cern.ch/reference/rest_api_drafts_records/):
create a draft (POST /records), declare its files (POST /records/{id}/draft/files), upload each
file's content (PUT .../files/{key}/content), commit it (POST .../files/{key}/commit), set the
metadata (PUT /records/{id}/draft) and publish (POST /records/{id}/draft/actions/publish).
Restricted data becomes a metadata-only record (`files.enabled: false`) whose files are marked
restricted; embargoes map onto InvenioRDM's own embargo, which releases the files on the date.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from databahn.exporters import common as c
from databahn.interop.connectors import (
    Connector,
    Deposit,
    PushResult,
    RemoteCreated,
    RemoteError,
    check_md5,
    upload_headers,
)

#: DataCite resourceTypeGeneral → InvenioRDM resource type vocabulary id
RESOURCE_TYPES = {
    "Dataset": "dataset",
    "Software": "software",
    "Image": "image",
    "Text": "publication",
    "JournalArticle": "publication-article",
    "Preprint": "publication-preprint",
    "Report": "publication-report",
    "Workflow": "workflow",
    "Model": "model",
    "PhysicalObject": "physicalobject",
}


def _creator(p: Any) -> dict[str, Any]:
    n = c.split_name(p)
    if n.is_person and n.family:
        person: dict[str, Any] = {"type": "personal", "family_name": n.family, "given_name": n.given or ""}
        if p.orcid:
            person["identifiers"] = [{"scheme": "orcid", "identifier": p.orcid.rsplit("/", 1)[-1]}]
    else:
        person = {"type": "organizational", "name": n.full}
    out: dict[str, Any] = {"person_or_org": person}
    if p.affiliation:
        out["affiliations"] = [{"name": a.name} for a in p.affiliation]
    return out


def access(deposit: Deposit) -> dict[str, Any]:
    r = deposit.record
    out: dict[str, Any] = {"record": "public", "files": "restricted" if deposit.metadata_only else "public"}
    if r.embargo_until and not deposit.metadata_only:
        out["files"] = "restricted"
        out["embargo"] = {
            "active": True,
            "until": r.embargo_until.isoformat(),
            "reason": "embargoed at the source hub",
        }
    return out


def invenio_record(deposit: Deposit) -> dict[str, Any]:
    """The draft body: access, files switch and metadata in InvenioRDM's schema."""
    r, md = deposit.record, deposit.record.metadata
    meta: dict[str, Any] = {
        "resource_type": {"id": RESOURCE_TYPES.get(md.resource_type, "other")},
        "title": md.title,
        "publication_date": deposit.publication_date,
        "creators": [_creator(p) for p in md.creators]
        or [{"person_or_org": {"type": "organizational", "name": deposit.ctx.publisher_name}}],
        "publisher": md.publisher or deposit.ctx.publisher_name,
        "version": c.version_label(r),
        "identifiers": [{"identifier": deposit.landing_url, "scheme": "url"}],
    }
    description = md.description or ""
    if deposit.metadata_only:
        description += (
            f"\n\nThe data files are kept at {deposit.ctx.hub_name} ({deposit.landing_url}) "
            "and can be requested there."
        )
    if description.strip():
        meta["description"] = description.strip()
    if md.license:
        meta["rights"] = [{"id": md.license.lower()}]
    subjects = [c.keyword_label(k, deposit.ctx) for k in md.keywords] + list(md.subjects)
    if subjects:
        meta["subjects"] = [{"subject": s} for s in subjects]
    if md.contributors:
        meta["contributors"] = [
            _creator(p) | {"role": {"id": (p.role or "other").lower()}} for p in md.contributors
        ]
    related = [
        {
            "identifier": rel.identifier,
            "scheme": (rel.scheme or "url").lower(),
            "relation_type": {"id": rel.relation.value.lower()},
        }
        for rel in md.related_identifiers
    ]
    if related:
        meta["related_identifiers"] = related
    return {
        "access": access(deposit),
        "files": {"enabled": bool(deposit.files)},
        "metadata": meta,
    }


class InvenioRDMConnector(Connector):
    type: ClassVar[str] = "inveniordm"
    label: ClassVar[str] = "InvenioRDM"

    def push(self, deposit: Deposit, *, resume_id: str | None, on_created: RemoteCreated) -> PushResult:
        body = invenio_record(deposit)
        draft: dict[str, Any] | None = None
        if resume_id:
            published = self._published(resume_id)
            if published is not None:
                return self._result(published, [], already=True)
            draft = self._draft(resume_id)
        if draft is None:
            draft = self.json(self.call("POST", "/records", json=body))
            on_created(str(draft["id"]), (draft.get("links") or {}).get("self_html"))
        rid = str(draft["id"])
        uploaded = self._upload(rid, deposit) if deposit.files else []
        self.call("PUT", f"/records/{rid}/draft", json=body)
        record = self.json(self.call("POST", f"/records/{rid}/draft/actions/publish"))
        return self._result(record, uploaded)

    def _upload(self, rid: str, deposit: Deposit) -> list[dict[str, Any]]:
        # files an interrupted earlier push already committed with the right checksum are kept
        existing = self.json(self.call("GET", f"/records/{rid}/draft/files"))
        done = {
            e.get("key"): e.get("checksum")
            for e in existing.get("entries") or []
            if e.get("status") == "completed"
        }
        todo = [f for f in deposit.files if not (f.md5 and done.get(f.key) == f"md5:{f.md5}")]
        stale = [f.key for f in todo if f.key in done]
        for key in stale:
            self.call("DELETE", f"/records/{rid}/draft/files/{quote(key, safe='')}")
        if todo:
            self.call("POST", f"/records/{rid}/draft/files", json=[{"key": f.key} for f in todo])
        todo_keys = {f.key for f in todo}
        uploaded: list[dict[str, Any]] = []
        for f in deposit.files:
            key = quote(f.key, safe="")
            if f.key in todo_keys:
                self.call(
                    "PUT",
                    f"/records/{rid}/draft/files/{key}/content",
                    content=deposit.open_file(f),
                    headers=upload_headers(f),
                )
                committed = self.json(self.call("POST", f"/records/{rid}/draft/files/{key}/commit"))
                check_md5(f.key, f.md5, committed.get("checksum"), self.config.name)
                checksum = committed.get("checksum")
            else:
                checksum = done.get(f.key)
            uploaded.append({"key": f.key, "size": f.size, "checksum": checksum})
        return uploaded

    def _published(self, rid: str) -> dict[str, Any] | None:
        response = self.call("GET", f"/records/{rid}", expect=(200, 404, 410))
        return self.json(response) if response.status_code == 200 else None

    def _draft(self, rid: str) -> dict[str, Any] | None:
        response = self.call("GET", f"/records/{rid}/draft", expect=(200, 404, 410))
        return self.json(response) if response.status_code == 200 else None

    def _result(
        self, record: dict[str, Any], files: list[dict[str, Any]], *, already: bool = False
    ) -> PushResult:
        links = record.get("links") or {}
        doi = ((record.get("pids") or {}).get("doi") or {}).get("identifier")
        url = links.get("self_html") or links.get("latest_html") or links.get("self")
        if not doi and not url:
            raise RemoteError(
                f"{self.config.name} published record {record.get('id')} but returned no DOI or link"
            )
        return PushResult(
            remote_id=str(record["id"]),
            url=url,
            doi=str(doi) if doi else None,
            files=files,
            already_published=already,
        )
