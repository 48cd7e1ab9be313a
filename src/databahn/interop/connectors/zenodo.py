"""Zenodo's deposit API: create a deposition, upload files to its bucket, set metadata, publish.

Zenodo pre-reserves the DOI on the draft and mints it on publish; the DOI from the publish answer is
what the hub records. Restricted data goes out as a closed-access record without files: the
metadata announces the data, the bytes stay in the hub.
See https://developers.zenodo.org/#deposit (legacy REST API, still served by Zenodo on InvenioRDM).
"""

from __future__ import annotations

import html
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

#: DataCite resourceTypeGeneral → Zenodo upload_type
UPLOAD_TYPES = {
    "Dataset": "dataset",
    "Software": "software",
    "Image": "image",
    "Text": "publication",
    "JournalArticle": "publication",
    "Preprint": "publication",
    "Report": "publication",
    "Audiovisual": "video",
    "Workflow": "software",
    "ComputationalNotebook": "software",
    "PhysicalObject": "physicalobject",
}
#: DataCite contributor types Zenodo accepts
CONTRIBUTOR_TYPES = {
    "ContactPerson",
    "DataCollector",
    "DataCurator",
    "DataManager",
    "Distributor",
    "Editor",
    "HostingInstitution",
    "Producer",
    "ProjectLeader",
    "ProjectManager",
    "ProjectMember",
    "RegistrationAgency",
    "RegistrationAuthority",
    "RelatedPerson",
    "Researcher",
    "ResearchGroup",
    "RightsHolder",
    "Supervisor",
    "Sponsor",
    "WorkPackageLeader",
    "Other",
}


def _person(p: Any) -> dict[str, Any]:
    n = c.split_name(p)
    out: dict[str, Any] = {"name": n.full}
    if p.affiliation:
        out["affiliation"] = "; ".join(a.name for a in p.affiliation)
    if p.orcid:
        out["orcid"] = p.orcid.rsplit("/", 1)[-1]
    return out


def access_right(deposit: Deposit) -> dict[str, Any]:
    """Zenodo's access fields: open, embargoed (files released by Zenodo on the date) or closed."""
    r = deposit.record
    if deposit.metadata_only:
        return {"access_right": "closed"}
    if r.embargo_until:
        return {"access_right": "embargoed", "embargo_date": r.embargo_until.isoformat()}
    return {"access_right": "open"}


def zenodo_metadata(deposit: Deposit) -> dict[str, Any]:
    """The deposition metadata Zenodo validates (upload_type, creators, description are required)."""
    r, md = deposit.record, deposit.record.metadata
    description = md.description or md.title
    notes = f"Deposited from {deposit.ctx.hub_name}: {deposit.landing_url} (hub identifier {r.pid})."
    if deposit.metadata_only:
        notes += " The data files are kept at the hub and can be requested there."
    meta: dict[str, Any] = {
        "upload_type": UPLOAD_TYPES.get(md.resource_type, "other"),
        "publication_date": deposit.publication_date,
        "title": md.title,
        "creators": [_person(p) for p in md.creators] or [{"name": deposit.ctx.publisher_name}],
        "description": "<p>" + html.escape(description).replace("\n\n", "</p><p>") + "</p>",
        "notes": notes,
        "version": c.version_label(r),
        **access_right(deposit),
        "related_identifiers": [
            {"identifier": deposit.landing_url, "relation": "isIdenticalTo", "scheme": "url"}
        ],
    }
    if md.license:
        meta["license"] = md.license.lower()
    keywords = [c.keyword_label(k, deposit.ctx) for k in md.keywords] + list(md.subjects)
    if keywords:
        meta["keywords"] = keywords
    contributors = [
        _person(p) | {"type": p.role if p.role in CONTRIBUTOR_TYPES else "Other"} for p in md.contributors
    ]
    if contributors:
        meta["contributors"] = contributors
    for rel in md.related_identifiers:
        relation = rel.relation.value[0].lower() + rel.relation.value[1:]
        meta["related_identifiers"].append({"identifier": rel.identifier, "relation": relation})
    return meta


class ZenodoConnector(Connector):
    type: ClassVar[str] = "zenodo"
    label: ClassVar[str] = "Zenodo"

    def push(self, deposit: Deposit, *, resume_id: str | None, on_created: RemoteCreated) -> PushResult:
        dep: dict[str, Any] | None = None
        if resume_id:
            dep = self._existing(resume_id)
            if dep is not None and (dep.get("state") == "done" or dep.get("submitted") is True):
                return self._result(dep, [], already=True)
        if dep is None:
            dep = self.json(self.call("POST", "/deposit/depositions", json={}))
            on_created(str(dep["id"]), (dep.get("links") or {}).get("html"))
        dep_id = str(dep["id"])
        bucket = (dep.get("links") or {}).get("bucket")
        uploaded: list[dict[str, Any]] = []
        if deposit.files:
            if not bucket:
                raise RemoteError(
                    f"{self.config.name} gave deposition {dep_id} no bucket link to upload files to"
                )
            for f in deposit.files:
                answer = self.json(
                    self.call(
                        "PUT",
                        f"{bucket}/{quote(f.key, safe='')}",
                        content=deposit.open_file(f),
                        headers=upload_headers(f),
                    )
                )
                check_md5(f.key, f.md5, answer.get("checksum"), self.config.name)
                uploaded.append(
                    {"key": f.key, "size": answer.get("size", f.size), "checksum": answer.get("checksum")}
                )
        self.call("PUT", f"/deposit/depositions/{dep_id}", json={"metadata": zenodo_metadata(deposit)})
        published = self.json(self.call("POST", f"/deposit/depositions/{dep_id}/actions/publish"))
        return self._result(published, uploaded)

    def _existing(self, dep_id: str) -> dict[str, Any] | None:
        """The deposition an earlier, interrupted push created (None if it is gone)."""
        response = self.call("GET", f"/deposit/depositions/{dep_id}", expect=(200, 404, 410))
        return None if response.status_code != 200 else self.json(response)

    def _result(
        self, dep: dict[str, Any], files: list[dict[str, Any]], *, already: bool = False
    ) -> PushResult:
        links = dep.get("links") or {}
        doi = dep.get("doi") or (dep.get("metadata") or {}).get("doi")
        if not doi:
            raise RemoteError(
                f"{self.config.name} published deposition {dep.get('id')} but returned no DOI; "
                "look it up there and add it to the version's identifiers (POST /api/datasets/PID/identifiers)"
            )
        return PushResult(
            remote_id=str(dep["id"]),
            url=links.get("record_html") or links.get("html") or links.get("latest_html"),
            doi=str(doi),
            files=files,
            already_published=already,
        )
