"""Safe reading of untrusted containers: zip/tar archives, gzip files and XML.

Uploaded files are hostile until proven otherwise. Archive members may try to escape the target
folder (`../x`, `/etc/x`), be symlinks/hardlinks/devices, or expand a few KiB into gigabytes; XML may
declare entities that expand exponentially ("billion laughs") or fetch external resources. Every
archive or XML reader in `databahn.extractors` goes through this module, so the rules live in one
place. Any refusal raises `UnsafeContent` (an `UnsupportedFile`) whose message says what was wrong.

Usage for archive extractors::

    for member in safe_members(path):              # validates the whole archive first
        print(member.name, member.size)
    data = read_member(path, member, max_bytes=1 << 20)
    target = extract_member_to(path, member, out_dir)  # never writes outside out_dir
    paths = extract_all_to(path, out_dir)          # one pass over the archive
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as DET

from databahn.extractors.base import UnsupportedFile

__all__ = [
    "ArchiveLimits",
    "SafeMember",
    "UnsafeContent",
    "archive_kind",
    "extract_all_to",
    "extract_member_to",
    "gunzip_to",
    "parse_xml",
    "parse_xml_bytes",
    "read_member",
    "safe_members",
]


class UnsafeContent(UnsupportedFile):
    """The container was refused for safety; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps for expanding untrusted archives (defaults suit research data uploads)."""

    max_members: int = 20_000
    max_total_bytes: int = 4 * 1024**3
    max_member_bytes: int = 2 * 1024**3
    #: expanded size / archive size; real data rarely exceeds ~20x, bombs reach 1000x+
    max_ratio: float = 200.0
    #: below this expanded total the ratio is not checked (tiny archives of zeros are harmless)
    ratio_floor_bytes: int = 16 * 1024**2


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class SafeMember:
    """A validated archive member: a regular file or directory with a clean relative POSIX name."""

    name: str
    size: int
    is_dir: bool = False
    compressed_size: int | None = None


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar', 'tar.gz', 'tar.bz2', 'tar.xz' from content (not the name), else None."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    comp = _compression(head)
    if comp is None:
        return "tar" if len(head) >= 262 and head[257:262] == b"ustar" else None
    try:
        with _open_decompressed(path, comp) as fh:
            inner = fh.read(512)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise UnsafeContent(f"corrupt {comp} data: {exc}") from exc
    if len(inner) >= 262 and inner[257:262] == b"ustar":
        return "tar." + comp
    return None


def _compression(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


def _open_decompressed(path: Path, comp: str) -> IO[bytes]:
    if comp == "gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if comp == "bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return cast(IO[bytes], lzma.open(path, "rb"))


def _clean_name(raw: str) -> str:
    """Validate a member name; return it normalised or raise UnsafeContent."""
    if not raw or "\x00" in raw:
        raise UnsafeContent(f"archive member with an empty or NUL-containing name {raw!r}")
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeContent(
            f"archive member {raw!r} has an absolute path (refused: it could overwrite files)"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeContent(f"archive member {raw!r} contains '..' (path traversal; refused)")
    if not parts:
        raise UnsafeContent(f"archive member {raw!r} has no usable name")
    return posixpath.join(*parts)


class _CappedReader(io.RawIOBase):
    """Wraps a decompressing stream and raises once more than `cap` bytes came out of it."""

    def __init__(self, inner: IO[bytes], cap: int) -> None:
        self._inner = inner
        self._cap = cap
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self.count += len(data)
        if self.count > self._cap:
            raise UnsafeContent(
                f"archive expands to more than {self._cap:,} bytes (decompression bomb guard); "
                "split it or raise the limit"
            )
        buffer[: len(data)] = data
        return len(data)


def _tar_stream(path: Path, kind: str, limits: ArchiveLimits) -> tarfile.TarFile:
    # tar headers add overhead beyond member sizes; allow a margin for them
    cap = limits.max_total_bytes + 512 * (2 * limits.max_members + 4)
    if kind == "tar":
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed with the TarFile
    else:
        raw = _open_decompressed(path, kind.split(".", 1)[1])
    reader = io.BufferedReader(_CappedReader(raw, cap), buffer_size=1 << 16)
    return tarfile.open(fileobj=reader, mode="r|")


def _check_tar_member(info: tarfile.TarInfo) -> SafeMember:
    name = _clean_name(info.name)
    if info.issym() or info.islnk():
        raise UnsafeContent(
            f"archive member {info.name!r} is a link to {info.linkname!r} (links are refused)"
        )
    if info.ischr() or info.isblk() or info.isfifo() or info.isdev():
        raise UnsafeContent(f"archive member {info.name!r} is a device or FIFO (refused)")
    if not (info.isfile() or info.isdir()):
        raise UnsafeContent(f"archive member {info.name!r} has an unsupported type {info.type!r}")
    return SafeMember(name=name, size=int(info.size), is_dir=info.isdir())


def _check_zip_member(info: zipfile.ZipInfo) -> SafeMember:
    name = _clean_name(info.filename)
    mode = (info.external_attr >> 16) & 0xFFFF
    kind = stat.S_IFMT(mode)  # 0 when the zip tool stored no Unix file type (plain file)
    if kind and stat.S_ISLNK(mode):
        raise UnsafeContent(f"archive member {info.filename!r} is a symbolic link (refused)")
    if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UnsafeContent(f"archive member {info.filename!r} is a device or special file (refused)")
    if info.flag_bits & 0x1:
        raise UnsafeContent(f"archive member {info.filename!r} is encrypted (cannot read it)")
    return SafeMember(
        name=name, size=int(info.file_size), is_dir=info.is_dir(), compressed_size=int(info.compress_size)
    )


def _check_totals(members: list[SafeMember], archive_size: int, limits: ArchiveLimits) -> None:
    total = 0
    for m in members:
        if m.size > limits.max_member_bytes:
            raise UnsafeContent(
                f"archive member {m.name!r} expands to {m.size:,} bytes, over the "
                f"{limits.max_member_bytes:,}-byte limit per member"
            )
        total += m.size
    if total > limits.max_total_bytes:
        raise UnsafeContent(
            f"archive expands to {total:,} bytes, over the {limits.max_total_bytes:,}-byte limit"
        )
    if total > limits.ratio_floor_bytes and total > limits.max_ratio * max(archive_size, 1):
        raise UnsafeContent(
            f"archive expands {total / max(archive_size, 1):,.0f}x ({archive_size:,} -> {total:,} bytes), "
            f"over the {limits.max_ratio:.0f}x limit (looks like a decompression bomb)"
        )


def safe_members(archive_path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[SafeMember]:
    """Yield the members of a zip or tar(.gz/.bz2/.xz) archive after validating ALL of them.

    Raises UnsafeContent for traversal/absolute names, links, devices, encrypted members, too many
    members, or an expansion over the size/ratio caps; UnsupportedFile if it is not an archive."""
    archive_path = Path(archive_path)
    kind = archive_kind(archive_path)
    if kind is None:
        raise UnsupportedFile("not a zip or tar archive")
    size = archive_path.stat().st_size
    members: list[SafeMember] = []
    seen: set[str] = set()
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive_path) as zf:
                infos = zf.infolist()
                if len(infos) > limits.max_members:
                    raise UnsafeContent(
                        f"archive has {len(infos):,} members, over the {limits.max_members:,} limit"
                    )
                members = [_check_zip_member(i) for i in infos]
        else:
            with _tar_stream(archive_path, kind, limits) as tf:
                for info in tf:
                    members.append(_check_tar_member(info))
                    if len(members) > limits.max_members:
                        raise UnsafeContent(f"archive has more than {limits.max_members:,} members (limit)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, lzma.LZMAError) as exc:
        raise UnsupportedFile(f"corrupt or truncated {kind} archive: {exc}") from exc
    for m in members:
        if not m.is_dir and m.name in seen:
            raise UnsafeContent(f"archive has the member {m.name!r} twice (refused: ambiguous content)")
        seen.add(m.name)
    _check_totals(members, size, limits)
    yield from members


def _target(dest_dir: Path, member: SafeMember) -> Path:
    root = Path(dest_dir).resolve()
    target = (root / member.name).resolve()
    if not target.is_relative_to(root):
        raise UnsafeContent(f"archive member {member.name!r} would be written outside {root}")
    return target


def _copy_capped(src: IO[bytes], dst: IO[bytes], cap: int, name: str) -> int:
    written = 0
    while chunk := src.read(1 << 20):
        written += len(chunk)
        if written > cap:
            raise UnsafeContent(f"archive member {name!r} expands beyond {cap:,} bytes (limit)")
        dst.write(chunk)
    return written


def _write_member(src: IO[bytes], target: Path, cap: int, name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        raise UnsafeContent(f"refusing to write {name!r} through an existing symlink")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as dst:
        _copy_capped(src, dst, cap, name)


def read_member(archive_path: Path, member: SafeMember | str, max_bytes: int = 64 * 1024**2) -> bytes:
    """Return the bytes of one member (validated by `safe_members`), at most `max_bytes`."""
    name = member.name if isinstance(member, SafeMember) else _clean_name(member)
    buf = io.BytesIO()
    kind = archive_kind(Path(archive_path))
    if kind == "zip":
        with zipfile.ZipFile(archive_path) as zf, zf.open(name) as src:
            _copy_capped(src, buf, max_bytes, name)
        return buf.getvalue()
    if kind is None:
        raise UnsupportedFile("not a zip or tar archive")
    with _tar_stream(Path(archive_path), kind, DEFAULT_LIMITS) as tf:
        for info in tf:
            if info.isfile() and _clean_name(info.name) == name:
                member_src = tf.extractfile(info)
                if member_src is None:
                    break
                _copy_capped(member_src, buf, max_bytes, name)
                return buf.getvalue()
    raise UnsupportedFile(f"archive has no member {name!r}")


def extract_member_to(
    archive_path: Path, member: SafeMember, dest_dir: Path, limits: ArchiveLimits = DEFAULT_LIMITS
) -> Path:
    """Write one validated member below dest_dir (never outside it) and return its path."""
    target = _target(dest_dir, member)
    if member.is_dir:
        target.mkdir(parents=True, exist_ok=True)
        return target
    data = read_member(archive_path, member, max_bytes=limits.max_member_bytes)
    _write_member(io.BytesIO(data), target, limits.max_member_bytes, member.name)
    return target


def extract_all_to(archive_path: Path, dest_dir: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[Path]:
    """Validate the whole archive, then write every file below dest_dir in one pass."""
    archive_path = Path(archive_path)
    members = {m.name: m for m in safe_members(archive_path, limits)}
    budget = limits.max_total_bytes
    out: list[Path] = []
    kind = archive_kind(archive_path)
    if kind == "zip":
        with zipfile.ZipFile(archive_path) as zf:
            for zinfo in zf.infolist():
                m = members[_clean_name(zinfo.filename)]
                target = _target(dest_dir, m)
                if m.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(zinfo) as zsrc:
                    _write_member(zsrc, target, min(limits.max_member_bytes, budget), m.name)
                budget -= target.stat().st_size
                out.append(target)
        return out
    assert kind is not None
    with _tar_stream(archive_path, kind, limits) as tf:
        for info in tf:
            m = members[_clean_name(info.name)]
            target = _target(dest_dir, m)
            if m.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            src = tf.extractfile(info)
            if src is None:
                continue
            _write_member(src, target, min(limits.max_member_bytes, budget), m.name)
            budget -= target.stat().st_size
            out.append(target)
    return out


def gunzip_to(path: Path, dest: Path, max_bytes: int = DEFAULT_LIMITS.max_member_bytes) -> Path:
    """Decompress a single .gz file to `dest`, refusing output larger than max_bytes."""
    try:
        with _open_decompressed(Path(path), "gz") as src, open(dest, "wb") as dst:
            _copy_capped(src, dst, max_bytes, Path(path).name)
    except (OSError, EOFError) as exc:
        raise UnsupportedFile(f"corrupt or truncated gzip data: {exc}") from exc
    return dest


def _xml_error(exc: Exception) -> UnsupportedFile:
    if isinstance(exc, defusedxml.DefusedXmlException):
        return UnsafeContent(
            f"the XML declares entities or external references ({type(exc).__name__}); refused for safety "
            "(entity expansion / external entity attacks)"
        )
    return UnsupportedFile(f"malformed XML: {exc}")


def parse_xml_bytes(data: bytes) -> Element:
    """Parse untrusted XML (no DTD entities, no external entities), returning the root element."""
    try:
        return DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except Exception as exc:
        raise _xml_error(exc) from exc


def parse_xml(path: Path, max_bytes: int = 256 * 1024**2) -> Element:
    """Parse an untrusted XML file (size-capped) and return the root element."""
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise UnsupportedFile(
            f"XML file is {size:,} bytes, over the {max_bytes:,}-byte limit for XML parsing"
        )
    with open(path, "rb") as fh:
        return parse_xml_bytes(fh.read())


def copy_file_into(src: Path, dest_dir: Path, name: str) -> Path:
    """Copy a file to dest_dir/name, refusing names that escape dest_dir."""
    target = _target(dest_dir, SafeMember(name=_clean_name(name), size=0))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target
