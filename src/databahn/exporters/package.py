"""Writing packages (RO-Crate, BagIt): a directory, or a zip when the destination ends in .zip.

File bytes are streamed from the hub's store through `ExportContext.open_file`, hashed on the way,
and checked against the sha256 the hub recorded, so a package never carries silently corrupt data.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from databahn.domain.records import FileRecord
from databahn.exporters import common as c
from databahn.exporters.base import ExportContext, ExportError


def prepare_dir(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExportError(f"{dest} already exists and is not an empty directory; choose a new output path")
    dest.mkdir(parents=True, exist_ok=True)


def materialise(dest: Path, build: Callable[[Path], None], *, top_folder: str | None = None) -> Path:
    """Run `build(directory)` into `dest`, or into a temporary directory zipped to `dest` (.zip).

    `top_folder` puts the content under one folder inside the zip (BagIt's convention)."""
    if dest.suffix.lower() != ".zip":
        prepare_dir(dest)
        build(dest)
        return dest
    if dest.exists():
        raise ExportError(f"{dest} already exists; choose a new output path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".export-") as tmp:
        work = Path(tmp) / (top_folder or "content")
        work.mkdir()
        build(work)
        partial = dest.with_name(dest.name + ".part")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for path in sorted(work.rglob("*")):
                rel = path.relative_to(work.parent if top_folder else work)
                zf.write(path, rel.as_posix())
        partial.replace(dest)
    return dest


def copy_file(ctx: ExportContext, f: FileRecord, target: Path) -> c.Digests:
    """Stream one file into `target`, returning its digests; a checksum mismatch is an error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digests = c.Digests()
    with target.open("wb") as out:
        for chunk in c.stream_file(ctx, f):
            digests.update(chunk)
            out.write(chunk)
    if f.sha256 and digests.sha256.hexdigest() != f.sha256.lower():
        target.unlink()
        raise ExportError(
            f"file {f.key!r} does not match its recorded sha256 ({f.sha256}); the stored copy may be "
            "corrupt — run the hub's integrity check before exporting"
        )
    return digests


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
