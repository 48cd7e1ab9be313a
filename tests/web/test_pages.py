"""Web pages through the ASGI app: rendering, sign-in, CSRF, validation messages, access."""

from __future__ import annotations

import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.middleware.sessions import SessionMiddleware

from databahn.errors import DatabahnError
from databahn.services.hub import Hub
from databahn.web.render import check_csrf_header, csrf_token
from tests.web.conftest import PASSWORD, client_for, csrf_of, login

FULL = {
    "title": "NMC811 coin cells, C/10 formation",
    "description": "Formation cycling of NMC811 | graphite coin cells at 25 °C.",
    "creators": "Doe, Jane | 0000-0002-1825-0097 | KIT\nRoe, Richard",
    "keywords": "formation, NMC811",
    "license": "CC-BY-4.0",
    "work_package": "WP2",
    "partner": "KIT",
    "data_level": "raw",
    "method_name": "galvanostatic cycling",
    "access": "public",
}


def field_error(html: str, name: str) -> str | None:
    """The validation message shown right beside form field `name` (None when there is none)."""
    m = re.search(rf'id="f-{name}-error">([^<]*)<', html)
    return m.group(1) if m else None


def deposit(client: TestClient, **overrides: str) -> str:
    """Create a draft through the form; returns its version PID."""
    token = csrf_of(client.get("/deposit").text)
    resp = client.post("/deposit", data={**FULL, **overrides, "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"].split("/")[2]


def upload(client: TestClient, pid: str, files: dict[str, bytes]) -> None:
    token = csrf_of(client.get(f"/datasets/{pid}/edit").text)
    resp = client.post(
        f"/datasets/{pid}/files",
        data={"csrf_token": token},
        files=[("files", (name, body, "application/octet-stream")) for name, body in files.items()],
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text


def publish(client: TestClient, pid: str, **overrides: str) -> str:
    token = csrf_of(client.get(f"/datasets/{pid}/edit").text)
    resp = client.post(
        f"/datasets/{pid}/edit",
        data={**FULL, **overrides, "csrf_token": token, "action": "publish"},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"])


def test_every_page_renders_for_anonymous_and_signed_in(hub: Hub) -> None:
    anon = client_for(hub, None)
    for path in ("/", "/search", "/login"):
        resp = anon.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/html")
        assert 'href="#main"' in resp.text  # skip link
        assert "Sign in" in resp.text
    admin = client_for(hub, "root")
    for path in ("/", "/search", "/deposit", "/deposit?template=cycler", "/my", "/admin"):
        resp = admin.get(path)
        assert resp.status_code == 200, path
        assert "Signed in as <strong>root</strong>" in resp.text
    assert admin.get("/static/databahn.css").headers["content-type"].startswith("text/css")
    assert admin.get("/static/databahn.js").status_code == 200
    assert admin.get("/static/../routes.py").status_code == 404
    assert admin.get("/api-docs", follow_redirects=False).headers["location"] == "/api/docs"


def test_every_input_has_a_label(hub: Hub) -> None:
    client = client_for(hub, "root")
    for path in ("/deposit", "/admin", "/login", "/search"):
        html = client.get(path).text
        ids = re.findall(
            r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|submit)")[^>]*\bid="([^"]+)"', html
        )
        assert ids, path
        for ident in ids:
            assert f'for="{ident}"' in html, f"{path}: input #{ident} has no <label for>"


def test_sign_in_and_out(hub: Hub) -> None:
    client = client_for(hub, None)
    page = client.get("/login?next=/deposit")
    wrong = client.post(
        "/login",
        data={"username": "alice", "password": "nope", "csrf_token": csrf_of(page.text), "next": "/deposit"},
    )
    assert wrong.status_code == 401
    assert "wrong user name or password" in wrong.text
    assert 'value="alice"' in wrong.text  # the name is kept, the password is not
    resp = client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_of(wrong.text),
            "next": "/deposit",
        },
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/deposit"
    assert "Signed in as <strong>alice</strong>" in client.get("/").text
    assert client.get("/api/me").json()["username"] == "alice"
    out = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/api/me").json() == {"anonymous": True}
    assert client.get("/deposit", follow_redirects=False).headers["location"] == "/login?next=%2Fdeposit"


def test_login_refuses_open_redirects(hub: Hub) -> None:
    client = client_for(hub, None)
    page = client.get("/login?next=https://evil.example/")
    assert 'name="next" value="/"' in page.text
    resp = client.post(
        "/login",
        data={
            "username": "bob",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/"


def test_csrf_token_is_required_and_checked(hub: Hub) -> None:
    client = client_for(hub, "alice")
    no_token = client.post("/deposit", data=FULL)
    assert no_token.status_code == 403
    assert "reload the page" in no_token.text
    assert no_token.headers["content-type"].startswith("text/html")
    forged = client.post("/deposit", data={**FULL, "csrf_token": "x" * 43})
    assert forged.status_code == 403
    # a token from another session does not work either
    other = client_for(hub, "bob")
    foreign = csrf_of(other.get("/deposit").text)
    assert client.post("/deposit", data={**FULL, "csrf_token": foreign}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/api/drafts").json() == []  # nothing was created


def test_validation_messages_are_shown_beside_the_fields(hub: Hub) -> None:
    client = client_for(hub, "alice")
    token = csrf_of(client.get("/deposit").text)
    bad = {
        **FULL,
        "title": "ab",
        "creators": "Doe, Jane | 0000-0002-1825-0098",
        "work_package": "work two",
        "generated_on": "31.05.2024",
        "csrf_token": token,
    }
    resp = client.post("/deposit", data=bad)
    assert resp.status_code == 422
    # parse errors (date) are reported first; fix it and the model's errors appear
    assert field_error(resp.text, "generated_on") == "use a date like 2024-05-31"
    resp = client.post("/deposit", data={**bad, "generated_on": "2024-05-31"})
    assert resp.status_code == 422
    assert "at least 3 characters" in (field_error(resp.text, "title") or "")
    assert (
        field_error(resp.text, "creators") == "line 1: ORCID iD 0000-0002-1825-0098 has a wrong check digit"
    )
    assert field_error(resp.text, "work_package") == "a work package looks like WP2"
    assert 'aria-invalid="true"' in resp.text
    assert 'value="work two"' in resp.text  # what was typed is kept
    assert field_error(resp.text, "license") is None


def test_deposit_upload_publish_and_read(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    pid = deposit(alice)
    edit = alice.get(f"/datasets/{pid}/edit")
    assert edit.status_code == 200 and "No files yet." in edit.text
    # publishing without files or a license shows why, beside the fields
    token = csrf_of(edit.text)
    resp = alice.post(
        f"/datasets/{pid}/edit", data={**FULL, "license": "", "csrf_token": token, "action": "publish"}
    )
    assert resp.status_code == 422
    assert "license" in (field_error(resp.text, "license") or "")
    assert "at least one file" in resp.text
    body = b"cycle,voltage\n1,3.7\n2,3.8\n"
    upload(alice, pid, {"cycling.csv": body, "notes.txt": b"cell 7"})
    location = publish(alice, pid)
    assert location == f"/datasets/{pid}"
    page = alice.get(location)
    assert page.status_code == 200
    assert "NMC811 coin cells, C/10 formation" in page.text
    assert hashlib.sha256(body).hexdigest() in page.text
    assert f'href="/api/datasets/{pid}/files/cycling.csv"' in page.text
    assert "Doe, Jane; Roe, Richard" in page.text  # citation
    assert "first version" in page.text
    download = client_for(hub, None).get(f"/api/datasets/{pid}/files/cycling.csv")
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(body).hexdigest()
    # visible to anyone now: home counts, search, facet
    anon = client_for(hub, None)
    home = anon.get("/").text
    assert "<strong>1</strong> published dataset visible to you" in home
    assert "WP2" in home
    assert pid in anon.get("/search?q=formation").text
    facet = anon.get("/search?facet=work_package:WP2&facet=data_level:raw")
    assert pid in facet.text and "2 results" not in facet.text
    assert pid not in anon.get("/search?facet=work_package:WP3").text
    assert (
        "application/json"
        in anon.get(f"/datasets/{pid}", headers={"accept": "application/json"}).headers["content-type"]
    )


def test_search_facets_combine_sort_and_page(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    for n in range(23):
        pid = deposit(alice, title=f"Dataset number {n:02d}", work_package="WP2" if n % 2 else "WP3")
        upload(alice, pid, {f"data{n}.csv": f"{n}".encode()})
        publish(alice, pid, title=f"Dataset number {n:02d}", work_package="WP2" if n % 2 else "WP3")
    anon = client_for(hub, None)
    first = anon.get("/search?sort=title")
    assert "23 results" in first.text
    assert first.text.index("Dataset number 00") < first.text.index("Dataset number 01")
    assert "Page 1 of 2" in first.text and "Dataset number 22" not in first.text
    second = anon.get("/search?sort=title&page=2")
    assert "Dataset number 22" in second.text
    wp2 = anon.get("/search?facet=work_package:WP2")
    assert "11 results" in wp2.text
    both = anon.get("/search?facet=work_package:WP2&facet=work_package:WP3")
    assert "23 results" in both.text  # OR within one facet
    none = anon.get("/search?facet=work_package:WP2&facet=format:txt")
    assert "0 results" in none.text  # AND across facets
    assert anon.get("/search?page=zwei").status_code == 422
    assert anon.get("/search?sort=sideways").status_code == 422


def test_drafts_and_restricted_are_invisible_to_others(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    pid = deposit(alice, title="Secret draft about sulfides")
    upload(alice, pid, {"x.csv": b"1"})
    bob = client_for(hub, "bob")
    for client in (bob, client_for(hub, None)):
        page = client.get(f"/datasets/{pid}")
        assert page.status_code == 404
        assert "Secret draft" not in page.text
        assert client.get(f"/datasets/{pid}/edit", follow_redirects=False).status_code in (303, 404)
        assert "Secret draft" not in client.get("/search?q=sulfides").text
    # bob cannot change it either, even with a valid CSRF token of his own
    token = csrf_of(bob.get("/deposit").text)
    assert bob.post(f"/datasets/{pid}/discard", data={"csrf_token": token}).status_code == 404
    # a published but restricted dataset: metadata hidden from others, counts too
    pid2 = deposit(alice, title="Restricted sulfide cycling", access="restricted")
    upload(alice, pid2, {"y.csv": b"2"})
    publish(alice, pid2, title="Restricted sulfide cycling", access="restricted")
    assert bob.get(f"/datasets/{pid2}").status_code == 404
    assert "<strong>0</strong> published datasets" in bob.get("/").text
    assert "<strong>1</strong> published dataset visible" in alice.get("/").text
    assert alice.get(f"/datasets/{pid2}").status_code == 200


def test_my_data_lists_drafts_and_published(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    draft = deposit(alice, title="Still a draft")
    done = deposit(alice, title="Already out")
    upload(alice, done, {"a.csv": b"1"})
    publish(alice, done, title="Already out")
    html = alice.get("/my").text
    drafts, published = html.split('id="pub-h"')
    assert draft in drafts and "Still a draft" in drafts
    assert done in published and "Already out" in published
    assert "Still a draft" not in client_for(hub, "bob").get("/my").text


def test_new_version_and_edit_keeps_metadata(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    pid = deposit(alice)
    upload(alice, pid, {"a.csv": b"1"})
    publish(alice, pid)
    token = csrf_of(alice.get(f"/datasets/{pid}").text)
    resp = alice.post(f"/datasets/{pid}/new-version", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    v2 = resp.headers["location"].split("/")[2]
    assert v2.endswith(".v2")
    edit = alice.get(f"/datasets/{v2}/edit").text
    assert 'value="WP2"' in edit and "Doe, Jane | 0000-0002-1825-0097 | KIT" in edit
    upload(alice, v2, {"b.csv": b"2"})
    publish(alice, v2)
    page = alice.get(f"/datasets/{v2}").text
    assert "added b.csv" in page
    # the published v1 cannot be edited any more
    assert alice.get(f"/datasets/{pid}/edit", follow_redirects=False).status_code == 303


def test_no_js_upload_and_remove_file(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    pid = deposit(alice)
    token = csrf_of(alice.get(f"/datasets/{pid}/edit").text)
    empty = alice.post(f"/datasets/{pid}/files", data={"csrf_token": token})
    assert empty.status_code == 422 and "choose at least one file" in empty.text
    upload(alice, pid, {"a.csv": b"1", "b.csv": b"22"})
    dup = alice.post(
        f"/datasets/{pid}/files", data={"csrf_token": token}, files=[("files", ("a.csv", b"x", "text/csv"))]
    )
    assert dup.status_code == 409 and "a.csv" in dup.text
    resp = alice.post(
        f"/datasets/{pid}/files/delete", data={"csrf_token": token, "key": "a.csv"}, follow_redirects=False
    )
    assert resp.status_code == 303
    files = [f["key"] for f in alice.get(f"/api/datasets/{pid}/files").json()]
    assert files == ["b.csv"]


def test_admin_pages_are_for_admins_only(hub: Hub) -> None:
    assert client_for(hub, "alice").get("/admin").status_code == 403
    root = client_for(hub, "root")
    page = root.get("/admin")
    assert "alice" in page.text and "Bob Brown" in page.text
    token = csrf_of(page.text)
    bad = root.post("/admin/users", data={"csrf_token": token, "username": "x", "password": "short"})
    assert bad.status_code == 422 and "invalid user name" in bad.text
    ok = root.post(
        "/admin/users",
        data={"csrf_token": token, "username": "carol", "name": "Carol", "password": PASSWORD},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    carol = client_for(hub, None)
    login(carol, "carol")
    made = root.post(
        "/admin/tokens",
        data={
            "csrf_token": token,
            "username": "carol",
            "name": "laptop",
            "scope": "read",
            "expires_in_days": "30",
        },
    )
    assert made.status_code == 201
    secret = re.search(r'id="new-token">(dbn_[^<]+)<', made.text)
    assert secret
    me = client_for(hub, None).get("/api/me", headers={"authorization": f"Bearer {secret.group(1)}"})
    assert me.json()["username"] == "carol"
    assert secret.group(1) not in root.get("/admin").text  # shown once only
    bad_days = root.post(
        "/admin/tokens", data={"csrf_token": token, "username": "carol", "expires_in_days": "x"}
    )
    assert bad_days.status_code == 422 and "whole number of days" in bad_days.text
    token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', root.get("/admin").text)
    assert token_id
    root.post(f"/admin/tokens/{token_id.group(1)}/revoke", data={"csrf_token": token})
    me = client_for(hub, None).get("/api/me", headers={"authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 401


def test_errors_are_friendly_html(hub: Hub) -> None:
    client = client_for(hub, None)
    resp = client.get("/datasets/zzzz-zzzz.v9")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Traceback" not in resp.text and "signing in" in resp.text
    assert client.get("/deposit?template=nonsense", follow_redirects=False).status_code == 303
    alice = client_for(hub, "alice")
    bad = alice.get("/deposit?template=nonsense")
    assert bad.status_code == 422 and "unknown data template" in bad.text


def test_templates_prefill_the_form(hub: Hub) -> None:
    html = client_for(hub, "alice").get("/deposit?template=impedance").text
    assert 'value="electrochemical impedance spectroscopy"' in html


def test_suggestions_come_from_visible_keywords(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    pid = deposit(alice, keywords="formation, NMC811, sulfide electrolyte")
    upload(alice, pid, {"a.csv": b"1"})
    publish(alice, pid, keywords="formation, NMC811, sulfide electrolyte")
    hidden = deposit(alice, title="Hidden draft", keywords="sulfur secret")
    assert hidden
    labels = [s["label"] for s in client_for(hub, None).get("/suggest?q=sulf").json()["suggestions"]]
    assert "sulfide electrolyte" in labels
    assert "sulfur secret" not in labels
    assert client_for(hub, None).get("/suggest?q=s").json()["suggestions"] == []


def test_dataset_page_draws_previews_from_extracted_data(hub: Hub) -> None:
    from sqlalchemy import select

    from databahn.db.models import FileEntry

    alice = client_for(hub, "alice")
    pid = deposit(alice)
    upload(alice, pid, {"cycle.csv": b"1"})
    with hub.write() as s:
        entry = s.scalar(select(FileEntry).where(FileEntry.key == "cycle.csv"))
        assert entry is not None
        entry.extracted = {
            "previews": [
                {
                    "title": "voltage vs time",
                    "x_name": "time",
                    "x_unit": "s",
                    "y_name": "voltage",
                    "y_unit": "V",
                    "x": [0, 1, 2, 3],
                    "y": [3.0, 3.5, 3.9, 4.2],
                }
            ],
            "structures": [{"formula": "LiCoO2", "elements": ["Co", "Li", "O"], "n_sites": 4}],
        }
    html = alice.get(f"/datasets/{pid}").text
    assert '<svg class="plot"' in html and "voltage (V) against time (s), 4 points" in html
    assert "LiCoO2" in html


def test_csrf_header_check_for_cookie_authenticated_json_calls() -> None:
    """`check_csrf_header` (offered to the JSON API) refuses unsafe calls without the session's token."""
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="k" * 32)

    @app.get("/token")
    def token(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.api_route("/change", methods=["GET", "POST", "PUT", "DELETE"])
    def change(request: Request) -> JSONResponse:
        try:
            check_csrf_header(request)
        except DatabahnError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        return JSONResponse({"ok": True})

    client = TestClient(app)
    secret = client.get("/token").json()["token"]
    assert client.get("/change").status_code == 200  # safe methods need no token
    refused = client.post("/change")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert client.put("/change", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/change", headers={"X-CSRF-Token": secret}).status_code == 200
    assert client.delete("/change", headers={"X-CSRF-Token": secret}).status_code == 200


def test_suggestions_offer_ontology_terms(hub: Hub) -> None:
    """With the BattINFO ontology configured, typing offers its terms (label and IRI)."""
    from tests.shared import require_shared

    source = require_shared("ontology")
    hub.settings.ontology_dir = source
    found = client_for(hub, None).get("/suggest?q=cycling").json()["suggestions"]
    terms = [s for s in found if s["kind"] == "term"]
    assert terms, found
    assert any(
        t["label"].lower().startswith("cycling") and t["iri"].startswith("https://w3id.org/emmo")
        for t in terms
    )


def test_user_text_is_escaped(hub: Hub) -> None:
    alice = client_for(hub, "alice")
    evil = '<script>alert("x")</script> cells'
    pid = deposit(alice, title=evil, description=evil, keywords="<b>bold</b>")
    for path in (f"/datasets/{pid}", f"/datasets/{pid}/edit", "/my"):
        html = alice.get(path).text
        assert '<script>alert("x")' not in html and "<b>bold</b>" not in html, path
        assert "&lt;script&gt;" in html, path
