"""The issue's scenario in a real browser (Playwright + Debian's Chromium) against a real server.

Sign in, deposit two files through the form (chunked, resumable uploads by the page's script),
publish, find the dataset by search and by a facet, open its page, download a file and compare its
checksum, and be refused someone else's draft. Screenshots of the main pages go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from databahn.config import Settings
from databahn.services.hub import Hub
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser
CHROMIUM = Path(os.environ.get("DATABAHN_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _require_browser() -> Any:
    """The Playwright sync API, or skip (fail under DATABAHN_REQUIRE_BROWSER=1) with the reason."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "needs Playwright for Python (pip install playwright)"
    if reason is None and not CHROMIUM.exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason:
        if os.environ.get("DATABAHN_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; DATABAHN_REQUIRE_BROWSER=1 demands it", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Hub]]:
    """A real uvicorn server in a thread, on a free port, with a temporary hub home."""
    _require_browser()
    import uvicorn

    from databahn.api.app import create_app

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path_factory.mktemp("browser-hub")
    # small chunks so the larger test file really travels in several resumable pieces
    hub = Hub(Settings(home=home, base_url=base, upload_chunk_bytes=256 * 1024))
    hub.users.add("alice", name="Alice Adams", password=PASSWORD)
    hub.users.add("bob", name="Bob Brown", password=PASSWORD)
    hub.users.add("root", name="Ada Admin", password=PASSWORD, is_admin=True)
    config = uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start within 20 s")
        time.sleep(0.05)
    yield base, hub
    srv.should_exit = True
    thread.join(timeout=10)
    hub.close()


@pytest.fixture(scope="module")
def browser(server: tuple[str, Hub]) -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_text(f"Signed in as {username}").is_visible()


def test_deposit_publish_find_download_and_refuse(
    server: tuple[str, Hub], browser: Any, tmp_path: Path
) -> None:
    base, _hub = server
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    _shot(page, "01-home-empty")
    _sign_in(page, base, "alice")

    # -- deposit: metadata form, then two files through the upload form ------------------------
    page.get_by_role("link", name="Deposit").first.click()
    page.get_by_role("link", name="Battery cycling").click()
    # a mistake first: the messages appear beside the fields, what was typed is kept
    page.get_by_label("Title").fill("ab")
    page.get_by_label("Creators").fill("Adams, Alice | 0000-0002-1825-0098")
    page.get_by_role("button", name="Save draft and add files").click()
    assert "at least 3 characters" in page.locator("#f-title-error").inner_text()
    assert "wrong check digit" in page.locator("#f-creators-error").inner_text()
    assert page.get_by_label("Work package").input_value() == ""
    assert page.get_by_label("Method").input_value() == "galvanostatic cycling"
    _shot(page, "02-deposit-errors")
    page.get_by_label("Title").fill("Zirconia-coated NMC811 half cells, rate test")
    page.get_by_label("Description").fill("Rate capability of ZrO2-coated NMC811 vs Li metal at 25 °C.")
    page.get_by_label("Creators").fill("Adams, Alice | 0000-0002-1825-0097 | KIT")
    page.get_by_label("License").fill("CC-BY-4.0")
    page.get_by_label("Work package").fill("WP7")
    page.get_by_label("Partner").fill("KIT")
    _shot(page, "02-deposit-filled")
    page.get_by_role("button", name="Save draft and add files").click()
    page.wait_for_url("**/edit")
    pid = page.url.rstrip("/").split("/")[-2]
    assert page.get_by_text("No files yet.").is_visible()

    big = tmp_path / "rate_test.csv"
    big.write_bytes(b"".join(f"{i},{3.0 + (i % 100) / 100:.3f}\n".encode() for i in range(90_000)))
    small = tmp_path / "cell_notes.txt"
    small.write_text("cell 7, 25 °C, 1 M LiPF6 in EC/EMC\n")
    assert big.stat().st_size > 3 * 256 * 1024  # several chunks
    page.set_input_files("#file-input", [str(big), str(small)])
    # the script uploads both in chunks, then reloads the page with the stored files listed
    page.wait_for_selector("table.files td.file-name:has-text('cell_notes.txt')")
    page.wait_for_selector("table.files td.file-name:has-text('rate_test.csv')")
    _shot(page, "03-edit-with-files")

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(f"{base}/datasets/{pid}")
    assert page.get_by_role("heading", level=1).inner_text() == "Zirconia-coated NMC811 half cells, rate test"
    assert page.get_by_text(f"Published {pid}.").is_visible()

    # -- find it: full text from the home page, then a facet ----------------------------------
    page.goto(f"{base}/")
    page.get_by_role("combobox", name="Search datasets").fill("zirconia")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?q=zirconia$"))
    assert page.get_by_role("heading", name="1 result for “zirconia”").is_visible()
    page.goto(f"{base}/search")
    page.locator(".facet-link", has_text="WP7").click()
    page.wait_for_url(re.compile(r"facet=work_package%3AWP7$"))
    assert page.locator(".results-count").inner_text() == "1 result"
    _shot(page, "04-search-facet")
    page.get_by_role("link", name="Zirconia-coated NMC811 half cells, rate test").click()
    page.wait_for_url(f"{base}/datasets/{pid}")
    _shot(page, "05-dataset")

    # -- download and compare the checksum ----------------------------------------------------
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    assert page.locator(f"code.checksum[title='{expected}']").count() == 1
    with page.expect_download() as info:
        page.get_by_role("link", name="Download rate_test.csv").click()
    download = info.value
    assert download.suggested_filename == "rate_test.csv"
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == expected

    # -- a second, unpublished dataset stays alice's alone ------------------------------------
    page.goto(f"{base}/deposit")
    page.get_by_label("Title").fill("Unpublished sulfide electrolyte screening")
    page.get_by_role("button", name="Save draft and add files").click()
    page.wait_for_url("**/edit")
    draft_pid = page.url.rstrip("/").split("/")[-2]
    page.goto(f"{base}/my")
    _shot(page, "06-my-data")

    other = browser.new_context(viewport={"width": 1280, "height": 900})
    other.set_default_timeout(20_000)
    bob = other.new_page()
    _sign_in(bob, base, "bob")
    response = bob.goto(f"{base}/datasets/{draft_pid}")
    assert response is not None and response.status == 404
    assert bob.get_by_role("heading", name="Not found").is_visible()
    assert "Unpublished sulfide" not in bob.content()
    _shot(bob, "07-refused")
    response = bob.goto(f"{base}/datasets/{draft_pid}/edit")
    assert response is not None and response.status == 404
    bob.goto(f"{base}/search?q=sulfide")
    assert bob.locator(".results-count").inner_text() == "0 results for “sulfide”"
    other.close()

    # -- the remaining main pages, for the screenshots ----------------------------------------
    page.goto(f"{base}/")
    _shot(page, "08-home")
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_ctx.new_page()
    _sign_in(admin, base, "root")
    admin.goto(f"{base}/admin")
    _shot(admin, "09-admin")
    admin_ctx.close()
    page.goto(f"{base}/login")
    _shot(page, "10-login")
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def test_search_suggestions_as_you_type(server: tuple[str, Hub], browser: Any) -> None:
    base, _hub = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/search")
    box = page.get_by_role("combobox", name="Search datasets")
    if page.locator(".results-count").inner_text() == "0 results":
        pytest.skip("needs the dataset published by the scenario test (run the module as a whole)")
    box.press_sequentially("cycl", delay=30)
    options = page.locator(".suggestions [role=option]")
    options.first.wait_for()
    texts = options.all_inner_texts()
    assert any("battery cycling" in t for t in texts), texts  # a keyword of the published dataset
    _shot(page, "11-suggestions")
    box.press("ArrowDown")
    box.press("Enter")
    assert box.input_value() in {t.split("\n")[0].strip() for t in texts}
    context.close()


def test_interrupted_upload_resumes_where_it_stopped(
    server: tuple[str, Hub], browser: Any, tmp_path: Path
) -> None:
    """An upload that stopped after its first chunk continues from the server's offset."""
    base, hub = server
    alice = hub.users.principal_for_user(hub.users.get("alice").id)
    draft = hub.datasets.create(alice, {"title": "Resumed upload test"})
    data = bytes(range(256)) * 4096  # 1 MiB: four chunks of 256 KiB
    path = tmp_path / "spectrum.bin"
    path.write_bytes(data)
    state = hub.files.start_upload(alice, draft.pid, "spectrum.bin", len(data))
    # the first chunk arrived, then the connection broke
    hub.files.append_chunk(alice, state.id, 0, [data[: 256 * 1024]])

    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    _sign_in(page, base, "alice")
    chunk_offsets: list[str] = []
    unsafe_api_calls: list[tuple[str, str | None]] = []

    def watch(request: Any) -> None:
        if "offset=" in request.url:
            chunk_offsets.append(request.url.split("offset=")[1])
        if "/api/" in request.url and request.method not in ("GET", "HEAD"):
            unsafe_api_calls.append((request.method, request.headers.get("x-csrf-token")))

    page.on("request", watch)
    page.goto(f"{base}/datasets/{draft.pid}/edit")
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("table.files td.file-name:has-text('spectrum.bin')")
    assert chunk_offsets == [str(256 * 1024), str(512 * 1024), str(768 * 1024)]  # chunk 0 was not resent
    # every state-changing JSON call of the script carries the session's CSRF token
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert len(unsafe_api_calls) == 5 and {h for _m, h in unsafe_api_calls} == {token}
    stored = hub.datasets.get(alice, draft.pid).files
    assert [(f.key, f.sha256) for f in stored] == [("spectrum.bin", hashlib.sha256(data).hexdigest())]
    context.close()


def test_pages_work_without_javascript(server: tuple[str, Hub], browser: Any, tmp_path: Path) -> None:
    """Progressive enhancement: with scripts off, signing in, depositing and uploading still work."""
    base, _hub = server
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    _sign_in(page, base, "bob")
    page.goto(f"{base}/deposit?template=diffraction")
    assert page.get_by_label("Method").input_value() == "X-ray diffraction"
    page.get_by_label("Title").fill("Operando XRD of LNMO, no-script deposit")
    page.get_by_role("button", name="Save draft and add files").click()
    page.wait_for_url("**/edit")
    pattern = tmp_path / "lnmo_scan.xy"
    pattern.write_text("".join(f"{10 + i * 0.02:.2f} {100 + (i % 50)}\n" for i in range(3000)))
    page.set_input_files("#file-input", str(pattern))
    page.get_by_role("button", name="Upload").click()  # the plain multipart form
    page.wait_for_selector("table.files td.file-name:has-text('lnmo_scan.xy')")
    assert page.get_by_text("Uploaded lnmo_scan.xy.").is_visible()
    page.goto(f"{base}/search?facet=work_package%3AWP7")
    assert page.locator(".results-count").inner_text() == "1 result"
    context.close()


def test_dataset_page_shows_previews(server: tuple[str, Hub], browser: Any) -> None:
    """Curves and structures found by the extractors are drawn on the dataset page."""
    from sqlalchemy import select

    from databahn.db.models import FileEntry

    base, hub = server
    alice = hub.users.principal_for_user(hub.users.get("alice").id)
    draft = hub.datasets.create(alice, {"title": "LiCoO2 cathode: cycling and structure"})
    hub.files.put(alice, draft.pid, "cycle_1.mpr", [b"not really an mpr"])
    hub.files.put(alice, draft.pid, "relax.vasprun.xml", [b"<xml/>"])
    times = [i * 60.0 for i in range(200)]
    volts = [3.0 + 1.2 * (i % 100) / 100 for i in range(200)]
    with hub.write() as s:
        for entry in s.scalars(
            select(FileEntry).where(FileEntry.key.in_(["cycle_1.mpr", "relax.vasprun.xml"]))
        ):
            if entry.key == "cycle_1.mpr":
                entry.extracted = {
                    "previews": [
                        {
                            "title": "voltage vs time",
                            "x_name": "time",
                            "x_unit": "s",
                            "y_name": "voltage",
                            "y_unit": "V",
                            "x": times,
                            "y": volts,
                        }
                    ]
                }
            else:
                entry.extracted = {
                    "structures": [
                        {
                            "formula": "CoLiO2",
                            "elements": ["Co", "Li", "O"],
                            "n_sites": 4,
                            "cell_lengths": [2.816, 2.816, 14.05],
                            "volume": 96.5,
                            "space_group": "R-3m",
                            "engine": "VASP",
                        }
                    ]
                }
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, base, "alice")
    page.goto(f"{base}/datasets/{draft.pid}")
    plot = page.get_by_role("img", name="voltage vs time: voltage (V) against time (s), 200 points")
    assert plot.is_visible()
    assert page.get_by_role("cell", name="CoLiO2").is_visible()
    _shot(page, "12-dataset-previews")
    context.close()
