"""Databahn benchmarks: `python -m bench [ingest] [deposits] [search] [--size-mb N] [--datasets N]`.

Each prints a table. Figures are measured on the machine that runs them, against its physical
limit where there is one (ingest is compared with `cp` + fsync of the same file on the same disk).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

console = Console()
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`databahn serve` in a subprocess on a temp home (embedded default unless env says otherwise)."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABAHN_HOME": str(home), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "databahn", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    def children_pids(self) -> list[int]:
        assert self.proc
        return [self.proc.pid]

    def rss_peak_mb(self) -> float:
        """VmHWM: the peak resident set size of the server process since it started."""
        assert self.proc
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def rss_now_mb(self) -> float:
        assert self.proc
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def _token(home: Path, env: dict[str, str] | None = None) -> str:
    run_env = {**os.environ, "DATABAHN_HOME": str(home), **(env or {})}
    subprocess.run(
        [sys.executable, "-m", "databahn", "user", "add", "bench"],
        env=run_env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-m", "databahn", "token", "create", "bench"],
        env=run_env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(8 * 1024 * 1024)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            n = min(len(block), size - written)
            fh.write(block[:n])
            written += n


def _cp_fsync(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def _drop(path: Path) -> None:
    path.unlink(missing_ok=True)


def bench_ingest(sizes_mb: list[int], workdir: Path) -> None:
    """One file over HTTP (single streaming PUT, server hashes sha256+md5) vs cp + fsync."""
    table = Table(title="Ingest of one file over HTTP vs cp + fsync (same disk)")
    for col in ("size", "cp+fsync s", "cp MB/s", "HTTP PUT s", "HTTP MB/s", "ratio", "server peak RSS MB"):
        table.add_column(col, justify="right")
    home = workdir / "ingest-home"
    token = _token(home)
    with Server(home) as server:
        headers = {"Authorization": f"Bearer {token}"}
        base_rss = server.rss_now_mb()
        for size_mb in sizes_mb:
            size = size_mb * 1024 * 1024
            src = workdir / f"src-{size_mb}.bin"
            _make_file(src, size)
            cp_s = min(_cp_fsync(src, workdir / "copy.bin") for _ in range(2))
            _drop(workdir / "copy.bin")
            best = float("inf")
            for attempt in range(2):
                draft = httpx.post(
                    server.url + "/api/datasets",
                    json={"metadata": {"title": f"ingest {size_mb} {attempt}"}},
                    headers=headers,
                ).json()
                with open(src, "rb") as fh:
                    t0 = time.perf_counter()
                    r = httpx.put(
                        f"{server.url}/api/datasets/{draft['pid']}/files/big.bin",
                        content=iter(lambda: fh.read(4 * 1024 * 1024), b""),
                        headers={**headers, "Content-Length": str(size)},
                        timeout=600,
                    )
                    elapsed = time.perf_counter() - t0
                assert r.status_code == 201, r.text
                best = min(best, elapsed)
                # drop the stored blob so the next attempt writes it again (no dedupe shortcut)
                blob = r.json()["sha256"]
                httpx.delete(f"{server.url}/api/datasets/{draft['pid']}", headers=headers)
                blob_path = home / "files" / "blobs" / blob[:2] / blob[2:4] / blob
                if blob_path.exists():
                    blob_path.chmod(0o644)
                    blob_path.unlink()
            mb = size / 1024 / 1024
            table.add_row(
                f"{size_mb} MB",
                f"{cp_s:.2f}",
                f"{mb / cp_s:.0f}",
                f"{best:.2f}",
                f"{mb / best:.0f}",
                f"{cp_s / best:.2f}x",
                f"{server.rss_peak_mb():.0f} (idle {base_rss:.0f})",
            )
            _drop(src)
    console.print(table)


def bench_deposits(count: int, workdir: Path) -> None:
    """Small deposits (one 10 kB file each): create + upload + publish, through the Python client."""
    from databahn.client import Client

    home = workdir / "deposit-home"
    token = _token(home)
    payload = workdir / "small.csv"
    payload.write_bytes(os.urandom(10 * 1024))
    table = Table(title=f"Small-dataset deposits (1 file of 10 kB each, {count} per run)")
    for col in ("clients", "deposits/s", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    meta = {
        "title": "small deposit",
        "creators": [{"name": "Bench, B."}],
        "description": "d",
        "license": "CC0-1.0",
    }
    with Server(home) as server:
        for clients in (1, 4):
            latencies: list[float] = []
            lock = threading.Lock()

            def worker(n: int, latencies: list[float] = latencies, lock: threading.Lock = lock) -> None:
                with Client(server.url, token) as client:
                    for _ in range(n):
                        t0 = time.perf_counter()
                        d = client.create(meta)
                        client.upload(d["pid"], payload)
                        client.publish(d["pid"])
                        with lock:
                            latencies.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(count // clients,)) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            latencies.sort()
            table.add_row(
                str(clients),
                f"{len(latencies) / wall:.1f}",
                f"{statistics.median(latencies) * 1000:.0f}",
                f"{latencies[int(0.99 * (len(latencies) - 1))] * 1000:.0f}",
            )
    console.print(table)


QUERIES = [
    ("text", {"text": "cycling LFP"}),
    ("text, rare", {"text": "dendrite Li6PS5Cl"}),
    ("text prefix", {"text": "NMC8"}),
    ("facet", {"facets": {"work_package": ["WP5"]}}),
    ("text + 2 facets", {"text": "diffraction", "facets": {"data_level": ["raw"], "year": ["2023"]}}),
    ("empty query (all)", {}),
    ("sort by title", {"text": "impedance", "sort": "title"}),
]


def bench_search(n: int, workdir: Path, *, database_url: str | None = None, runs: int = 40) -> None:
    """Search latency (server time: service call incl. facets and records) at n datasets."""
    from bench.synthetic import populate
    from databahn.config import Settings
    from databahn.search.index import SearchQuery
    from databahn.services.hub import Hub
    from databahn.services.policy import ANONYMOUS

    home = workdir / f"search-home-{n}"
    hub = Hub(Settings(home=home, database_url=database_url))
    seconds = populate(hub, n, log=lambda m: console.print(m, style="dim"))
    console.print(f"  {n:,} datasets generated and indexed in {seconds:.1f} s ({n / seconds:,.0f}/s)")
    table = Table(
        title=f"Search latency at {n:,} datasets ({hub.describe()['database']}, anonymous, 20 hits + facets)"
    )
    for col in ("query", "hits", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "query" else "left")
    all_times: list[float] = []
    for label, spec in QUERIES:
        q = SearchQuery(**spec)  # type: ignore[arg-type]
        hub.datasets.search(ANONYMOUS, q)  # warm
        times = []
        total = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            page = hub.datasets.search(ANONYMOUS, SearchQuery(**spec))  # type: ignore[arg-type]
            times.append(time.perf_counter() - t0)
            total = page.total
        times.sort()
        all_times += times
        table.add_row(
            label,
            f"{total:,}",
            f"{statistics.median(times) * 1000:.1f}",
            f"{times[int(0.99 * (len(times) - 1))] * 1000:.1f}",
        )
    all_times.sort()
    table.add_row(
        "[bold]all queries[/]",
        "",
        f"[bold]{statistics.median(all_times) * 1000:.1f}[/]",
        f"[bold]{all_times[int(0.99 * (len(all_times) - 1))] * 1000:.1f}[/]",
    )
    console.print(table)
    hub.close()


def bench_web(n: int, workdir: Path, runs: int = 60) -> None:
    """Server time of the search page and dataset pages at n datasets (in-process ASGI, no network)."""
    import random

    from fastapi.testclient import TestClient

    from bench.synthetic import populate
    from databahn.api.app import create_app
    from databahn.config import Settings
    from databahn.services.hub import Hub

    home = workdir / f"web-home-{n}"
    hub = Hub(Settings(home=home))
    populate(hub, n, log=lambda m: console.print(m, style="dim"))
    client = TestClient(create_app(hub))
    rng = random.Random(7)
    with hub.read() as s:
        from sqlalchemy import text as sql_text

        pids = [r[0] for r in s.execute(sql_text("SELECT pid FROM versions ORDER BY random() LIMIT 200"))]
    pages = {
        "search page, text": lambda: (
            f"/search?q={rng.choice(['cycling', 'NMC811', 'diffraction LFP', 'impedance'])}"
        ),
        "search page, facet": lambda: f"/search?facet=work_package:{rng.choice(['WP2', 'WP5', 'WP6'])}",
        "search page, all": lambda: "/search",
        "dataset page": lambda: f"/datasets/{rng.choice(pids)}",
        "dataset JSON (API)": lambda: f"/api/datasets/{rng.choice(pids)}",
    }
    table = Table(title=f"Web pages at {n:,} datasets (server time, in-process, anonymous)")
    for col in ("page", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "page" else "left")
    for label, url in pages.items():
        client.get(url())
        times = []
        for _ in range(runs):
            target = url()
            t0 = time.perf_counter()
            r = client.get(target, headers={"Accept": "text/html"})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (target, r.status_code)
        times.sort()
        table.add_row(
            label,
            f"{statistics.median(times) * 1000:.1f}",
            f"{times[int(0.99 * (len(times) - 1))] * 1000:.1f}",
        )
    console.print(table)
    hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("what", nargs="*", default=["ingest", "deposits", "search", "web"])
    parser.add_argument("--size-mb", type=int, nargs="*", default=[256, 1024])
    parser.add_argument("--deposits", type=int, default=200)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="run the search benchmark on PostgreSQL")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where temp files go (same disk as the hub)"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="databahn-bench-", dir=args.workdir))
    console.print(f"[dim]work dir {workdir}; {os.cpu_count()} CPUs[/]")
    try:
        if "ingest" in args.what:
            bench_ingest(args.size_mb, workdir)
        if "deposits" in args.what:
            bench_deposits(args.deposits, workdir)
        if "search" in args.what:
            bench_search(args.datasets, workdir, database_url=args.database_url)
        if "web" in args.what:
            bench_web(args.datasets, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
