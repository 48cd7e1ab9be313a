"""Run extractors on one file safely: pick by sniff score, isolate in a child process, bound time+memory.

Extraction reads untrusted uploads with parsers that may loop, explode in memory or crash. Each job
therefore runs in a long-lived worker process (spawned, so no inherited threads or locks) that has
an address-space limit (RLIMIT_AS) set before it imports any parser. The parent waits at most
`timeout_s`; on timeout it kills the worker and starts a fresh one for the next file. Any failure
becomes an `InspectReport` with `ok=False` and a specific human reason ("could not read: ...",
"unsupported: ..."), never an exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile

HEAD_BYTES = 64 * 1024
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = int(os.environ.get("DATABAHN_EXTRACT_MEMORY_MB", "3072"))
#: a worker is recycled after this many jobs, so leaks in parsers cannot accumulate
JOBS_PER_WORKER = 200
STARTUP_TIMEOUT_S = 120.0


class InspectReport(BaseModel):
    """What the hub learnt about one file, or precisely why it learnt nothing."""

    file_name: str
    size: int
    sha256: str | None = None
    ok: bool
    result: ExtractionResult | None = None
    error: str | None = Field(
        None, description="'could not read: ...' or 'unsupported: ...' when ok is False"
    )
    candidates: list[str] = Field(default_factory=list, description="extractors tried, best sniff first")
    elapsed_s: float | None = None


# ----------------------------------------------------------------------------- content description


def describe_content(head: bytes) -> str:
    """A short human description of what the bytes look like (for error messages)."""
    sigs: list[tuple[bytes, str]] = [
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a zip archive (or an Office/zip-based document)"),
        (b"\x1f\x8b", "gzip-compressed data"),
        (b"BZh", "bzip2-compressed data"),
        (b"\xfd7zXZ\x00", "xz-compressed data"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
        (b"CDF\x01", "a NetCDF-3 file"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (b"\x00\x01\x00\x00Standard Jet DB", "a Microsoft Access (Jet) database"),
        (b"\x00\x01\x00\x00Standard ACE DB", "a Microsoft Access (ACE) database"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office (OLE2) document"),
        (b"BIO-LOGIC MODULAR FILE", "a BioLogic EC-Lab .mpr file"),
        (b"MATLAB 5.0", "a MATLAB .mat file"),
        (b"\x7fELF", "an executable (ELF)"),
        (b"MZ", "a Windows executable"),
    ]
    for sig, what in sigs:
        if head.startswith(sig):
            return what
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if not head:
        return "nothing (empty)"
    text = head[:4096]
    stripped = text.lstrip()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "XML/HTML text"
    if b"\x00" in text:
        return "binary data"
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        try:
            decoded = text.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
            return "binary data"
    if sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded) < 0.95 * len(decoded):
        return "binary data"
    first = decoded.splitlines()[0] if decoded.splitlines() else ""
    if first.count(",") >= 2 or first.count("\t") >= 2 or first.count(";") >= 2:
        return "a delimited text table"
    return "plain text"


# ----------------------------------------------------------------------------- the work (in the child)


def _label(ext: Extractor) -> str:
    return str(getattr(ext, "label", "") or ext.name)


def _candidates(extractors: Sequence[Extractor], path: Path, head: bytes) -> list[tuple[float, Extractor]]:
    scored = []
    for ext in extractors:
        try:
            score = float(ext.sniff(path, head))
        except Exception:
            score = 0.0
        if score > 0:
            scored.append((score, ext))
    scored.sort(key=lambda p: -p[0])
    return scored


def _owners(extractors: Sequence[Extractor], path: Path) -> list[Extractor]:
    lname = path.name.lower()
    return [e for e in extractors if any(lname.endswith(s) for s in e.suffixes)]


def _mislabel_reason(owners: Sequence[Extractor], path: Path, head: bytes) -> str:
    what = describe_content(head)
    if len(owners) == 1:
        return f"could not read: not a {_label(owners[0])} file (content is {what})"
    suffix = path.suffix.lower() or "extension-less"
    return f"could not read: not a valid {suffix} file of any supported kind (content is {what})"


def _no_candidate_reason(extractors: Sequence[Extractor], path: Path, head: bytes) -> str:
    owners = _owners(extractors, path)
    if owners:
        return _mislabel_reason(owners, path, head)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffixes else ""
    shown = suffix or "extension-less"
    return f"unsupported: no extractor for {shown} files (content looks like {describe_content(head)})"


def _do_job(extractors: Sequence[Extractor], op: str, path: Path, out_dir: Path | None) -> dict[str, Any]:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head:
        return {"error": "could not read: the file is empty (0 bytes)", "candidates": []}
    scored = _candidates(extractors, path, head)
    names = [e.name for _, e in scored]
    if not scored:
        return {"error": _no_candidate_reason(extractors, path, head), "candidates": []}
    owners = _owners(extractors, path)
    if owners and not any(e in owners for _, e in scored):
        # the name promises a format whose readers all reject the content: a mislabelled file
        return {"error": _mislabel_reason(owners, path, head), "candidates": names}
    reasons: list[str] = []
    for _, ext in scored:
        try:
            if op == "convert":
                assert out_dir is not None
                paths = ext.convert(path, out_dir)
                return {"paths": [str(p) for p in paths], "candidates": names, "extractor": ext.name}
            result = ext.extract(path)
            return {"result": result.model_dump(mode="json"), "candidates": names}
        except UnsupportedFile as exc:
            reasons.append(f"{_label(ext)}: {exc}")
        except MemoryError:
            reasons.append(f"{_label(ext)}: the file needs more memory than the extraction limit allows")
        except RecursionError:
            reasons.append(f"{_label(ext)}: the file's structure is nested too deeply")
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            reasons.append(f"{_label(ext)}: {type(exc).__name__}: {exc}{where}")
    first = reasons[0]
    if len(reasons) > 1:
        first += " (also tried: " + "; ".join(reasons[1:]) + ")"
    return {"error": "could not read: " + first, "candidates": names}


def _worker_main(inbox: Connection, conn: Connection, memory_mb: int, specs: tuple[str, ...] | None) -> None:
    """Child process loop: limit memory first, then load extractors and serve jobs."""
    if memory_mb > 0:
        with contextlib.suppress(ValueError, OSError, ImportError):
            import resource

            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from databahn.extractors.registry import get_extractors, load_spec

    try:
        extractors = [load_spec(s) for s in specs] if specs is not None else get_extractors()
    except Exception as exc:
        conn.send({"ready": False, "error": f"could not load extractors: {type(exc).__name__}: {exc}"})
        return
    conn.send({"ready": True})
    while True:
        try:
            job = inbox.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        op, path, out_dir = job
        try:
            reply = _do_job(extractors, op, Path(path), Path(out_dir) if out_dir else None)
        except MemoryError:
            reply = {"error": "could not read: the file needs more memory than the extraction limit allows"}
        except Exception as exc:
            reply = {"error": f"could not read: {type(exc).__name__}: {exc}"}
        try:
            conn.send(reply)
        except Exception as exc:
            conn.send({"error": f"could not read: result could not be sent back ({exc})"})


# ----------------------------------------------------------------------------- the parent side


class _Worker:
    def __init__(self, memory_mb: int, specs: tuple[str, ...] | None) -> None:
        self.memory_mb = memory_mb
        self.specs = specs
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.send_conn: Connection | None = None
        self.jobs = 0
        self.lock = threading.Lock()

    def _start(self) -> None:
        # A fresh interpreter (not multiprocessing): no re-import of the caller's __main__, no
        # inherited threads/locks, and its own address-space limit. Jobs travel over two private pipes.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        config = json.dumps({"memory_mb": self.memory_mb, "specs": self.specs, "sys_path": sys.path})
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "databahn.extractors.runner",
                    str(to_child_r),
                    str(from_child_w),
                    config,
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.jobs = 0
        # wait for start-up (interpreter + parser imports) outside the per-file time limit
        msg: dict[str, Any] = (
            self.conn.recv() if self.conn.poll(STARTUP_TIMEOUT_S) else {"error": "timed out"}
        )
        if not msg.get("ready"):
            raise RuntimeError(f"extraction worker failed to start: {msg.get('error')}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        for conn in (self.conn, self.send_conn):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self.proc, self.conn, self.send_conn = None, None, None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, op: str, path: Path, out_dir: Path | None, timeout_s: float) -> dict[str, Any]:
        with self.lock:
            if not self.alive() or self.jobs >= JOBS_PER_WORKER:
                self.stop()
                try:
                    self._start()
                except (RuntimeError, EOFError, OSError) as exc:
                    self.stop()
                    return {"error": f"could not read: extraction worker unavailable ({exc})"}
            assert self.conn is not None and self.send_conn is not None
            self.jobs += 1
            try:
                self.send_conn.send((op, str(path), str(out_dir) if out_dir else None))
                if self.conn.poll(timeout_s):
                    reply: dict[str, Any] = self.conn.recv()
                    return reply
                self.stop()
                return {
                    "error": f"could not read: extraction took longer than the {timeout_s:g} s limit (stopped)"
                }
            except (EOFError, OSError, BrokenPipeError):
                code = self.proc.wait(5) if self.proc is not None else None
                self.stop()
                hint = " (probably out of its memory limit)" if code in (-9, -6, 1, 137) else ""
                return {"error": f"could not read: the extraction process died (exit code {code}){hint}"}


_workers: dict[tuple[int, tuple[str, ...] | None], _Worker] = {}
_workers_lock = threading.Lock()
_owner_pid = os.getpid()


def _worker(memory_mb: int, specs: tuple[str, ...] | None) -> _Worker:
    global _owner_pid
    key = (memory_mb, specs)
    with _workers_lock:
        if os.getpid() != _owner_pid:  # we were forked (e.g. by a server): the workers are not ours
            _workers.clear()
            _owner_pid = os.getpid()
        if key not in _workers:
            _workers[key] = _Worker(memory_mb, specs)
        return _workers[key]


def shutdown_workers() -> None:
    """Stop all worker processes (tests and CLI call this at exit; workers are daemons anyway)."""
    with _workers_lock:
        for w in _workers.values():
            w.stop()
        _workers.clear()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def inspect_file(
    path: Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    extractors: Sequence[str] | None = None,
) -> InspectReport:
    """Extract metadata from one file in an isolated, time- and memory-limited worker.

    `extractors` optionally restricts/replaces the installed plugins with 'module:Class' specs
    (used by tests and by callers that want one specific extractor)."""
    path = Path(path)
    start = time.monotonic()
    try:
        if path.is_symlink():
            return InspectReport(
                file_name=path.name, size=0, ok=False, error="could not read: the path is a symlink"
            )
        if not path.is_file():
            return InspectReport(
                file_name=path.name,
                size=0,
                ok=False,
                error="could not read: not a regular file (missing or a folder)",
            )
        size = path.stat().st_size
        sha = _sha256(path)
    except OSError as exc:
        return InspectReport(
            file_name=path.name, size=0, ok=False, error=f"could not read: {exc.strerror or exc}"
        )
    if size == 0:
        return InspectReport(
            file_name=path.name,
            size=0,
            sha256=sha,
            ok=False,
            error="could not read: the file is empty (0 bytes)",
        )
    specs = tuple(extractors) if extractors is not None else None
    reply = _worker(memory_mb, specs).run("extract", path.resolve(), None, timeout_s)
    report = InspectReport(
        file_name=path.name,
        size=size,
        sha256=sha,
        ok="result" in reply,
        result=ExtractionResult.model_validate(reply["result"]) if "result" in reply else None,
        error=reply.get("error"),
        candidates=reply.get("candidates", []),
        elapsed_s=round(time.monotonic() - start, 4),
    )
    return report


def convert_file(
    path: Path,
    out_dir: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    extractors: Sequence[str] | None = None,
) -> list[Path]:
    """Write open-format copies of `path` into out_dir; raise UnsupportedFile with the reason on failure.

    Only paths inside out_dir are returned; anything an extractor wrote elsewhere is an error."""
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    if not path.is_file() or path.stat().st_size == 0:
        raise UnsupportedFile("could not read: the file is missing or empty")
    specs = tuple(extractors) if extractors is not None else None
    reply = _worker(memory_mb, specs).run("convert", path.resolve(), root, timeout_s)
    if "error" in reply:
        raise UnsupportedFile(reply["error"])
    paths = [Path(p).resolve() for p in reply.get("paths", [])]
    for p in paths:
        if not p.is_relative_to(root) or p.is_symlink():
            raise UnsupportedFile(f"could not convert: extractor wrote {p} outside {root} (refused)")
    return paths


def inspect_many(
    paths: Iterable[Path], *, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB
) -> list[InspectReport]:
    """Inspect several files one after another (the worker is reused between them)."""
    return [inspect_file(p, timeout_s=timeout_s, memory_mb=memory_mb) for p in paths]


def _child_entry(argv: list[str]) -> None:
    """Entry of `python -m databahn.extractors.runner IN_FD OUT_FD CONFIG` (the worker process)."""
    in_fd, out_fd, config = int(argv[0]), int(argv[1]), json.loads(argv[2])
    for entry in reversed(config.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    specs = tuple(config["specs"]) if config.get("specs") is not None else None
    _worker_main(
        Connection(in_fd, writable=False), Connection(out_fd, readable=False), int(config["memory_mb"]), specs
    )


if __name__ == "__main__":
    _child_entry(sys.argv[1:])
