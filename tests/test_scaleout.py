"""Scale-out: several `databahn serve` processes share one PostgreSQL database and one S3 bucket."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from databahn.client import Client
from databahn.config import Settings
from databahn.services.hub import Hub
from tests.conftest import free_port

pytestmark = pytest.mark.scaleout


@pytest.fixture
def cluster(
    postgres_database_url: str, s3_storage_url: str, tmp_path: Path
) -> Iterator[tuple[list[str], str]]:
    settings = Settings(
        home=tmp_path / "admin", database_url=postgres_database_url, storage_url=s3_storage_url
    )
    hub = Hub(settings)
    with hub.engine.begin() as conn:
        names = [
            r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        ]
        names = [n for n in names if n != "alembic_version"]
        conn.execute(text("TRUNCATE " + ", ".join(names) + " RESTART IDENTITY CASCADE"))
    hub.users.add("alice")
    token = hub.users.create_token("alice").secret
    hub.close()
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    for i in range(2):
        port = free_port()
        env = {
            **os.environ,
            "DATABAHN_HOME": str(tmp_path / f"node{i}"),
            "DATABAHN_DATABASE_URL": postgres_database_url,
            "DATABAHN_STORAGE_URL": s3_storage_url,
            "DATABAHN_SECRET_KEY": "shared-secret-for-the-cluster",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "databahn", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server {url} did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                    )
                time.sleep(0.2)
        yield urls, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def test_two_servers_share_database_and_bucket(cluster: tuple[list[str], str], tmp_path: Path) -> None:
    (url_a, url_b), token = cluster
    data = os.urandom(2_000_000)
    src = tmp_path / "cell.bin"
    src.write_bytes(data)
    with Client(url_a, token) as a, Client(url_b, token) as b:
        draft = a.create(
            {
                "title": "Shared across nodes",
                "creators": [{"name": "Doe, J"}],
                "description": "x",
                "license": "CC0-1.0",
            }
        )
        # upload through node B in chunks, publish through node A, read through node B
        b.upload(draft["pid"], src, simple_limit=100_000, chunk_size=512 * 1024)
        a.publish(draft["pid"])
        record = b.get(draft["pid"].split(".")[0])
        assert record["state"] == "published"
        out = b.download(record["pid"], "cell.bin", tmp_path / "back.bin")
        assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
        assert b.search("Shared")["total"] == 1

        # concurrent deposits spread over both nodes all land, each exactly once
        def deposit(i: int) -> str:
            client = a if i % 2 else b
            d = client.create(
                {
                    "title": f"Concurrent deposit {i}",
                    "creators": [{"name": "Doe, J"}],
                    "description": "x",
                    "license": "CC0-1.0",
                }
            )
            tiny = tmp_path / f"f{i}.txt"
            tiny.write_text(f"file {i}\n")
            client.upload(d["pid"], tiny)
            client.publish(d["pid"])
            return str(d["pid"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            pids = list(pool.map(deposit, range(16)))
        assert len(set(pids)) == 16
        assert a.search("Concurrent", size=50)["total"] == 16
        assert b.search("Concurrent", size=50)["total"] == 16
