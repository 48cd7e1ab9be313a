"""The extraction runner and the safety helpers against bad and hostile input.

A user uploading a broken or malicious file must get a clear "could not read: <reason>" and the hub
must keep working: no crash, no hang (time limit), no memory blow-up, nothing written outside the
target folder. Archive and XML attacks are refused by `databahn.extractors.safety`.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from databahn.extractors import safety
from databahn.extractors.base import UnsupportedFile
from databahn.extractors.registry import get_extractors, load_errors
from databahn.extractors.runner import convert_file, describe_content, inspect_file, inspect_many
from tests.shared import require_shared

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(200)
HOSTILE = "tests.extraction._hostile_extractors"


def cycler(*parts: str) -> Path:
    return require_shared("realdata", "cycler", *parts)


# ----------------------------------------------------------------------------- registry


def test_registry_loads_all_electrochemistry_extractors() -> None:
    names = {e.name for e in get_extractors()}
    expected = {"biologic", "neware", "maccor", "maccor_procedure", "arbin", "basytec", "novonix", "pec"}
    assert expected | {"landt", "gamry", "bdf", "impedance"} <= names
    assert not {k: v for k, v in load_errors().items() if k in names}


# ----------------------------------------------------------------------------- bad input


def test_empty_file_is_reported_not_crashed(tmp_path: Path) -> None:
    f = tmp_path / "empty.mpr"
    f.write_bytes(b"")
    r = inspect_file(f)
    assert not r.ok and r.error == "could not read: the file is empty (0 bytes)"
    assert r.size == 0


def test_png_renamed_mpr_names_the_real_content(tmp_path: Path) -> None:
    f = tmp_path / "fake.mpr"
    f.write_bytes(PNG)
    r = inspect_file(f)
    assert not r.ok
    assert r.error is not None and r.error.startswith("could not read: not a BioLogic")
    assert "PNG image" in r.error


def test_unknown_binary_is_unsupported_with_reason(tmp_path: Path) -> None:
    f = tmp_path / "blob.foo"
    f.write_bytes(bytes(range(256)) * 10)
    r = inspect_file(f)
    assert not r.ok and r.error == "unsupported: no extractor for .foo files (content looks like binary data)"


def test_truncated_mpr_gives_specific_reason(tmp_path: Path) -> None:
    src = cycler("biologic_yadg", "gcpl.issue_149.mpr").read_bytes()
    f = tmp_path / "cut.mpr"
    f.write_bytes(src[: len(src) // 2])
    r = inspect_file(f)
    assert not r.ok
    assert r.error is not None and "truncated" in r.error and "BioLogic" in r.error


def test_mpr_with_header_only(tmp_path: Path) -> None:
    f = tmp_path / "head.mpr"
    f.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 25 + b"\x00" * 4)
    r = inspect_file(f)
    assert not r.ok and r.error is not None and "no MODULE blocks" in r.error


def test_truncated_text_export_still_reads_what_is_there(tmp_path: Path) -> None:
    src = cycler("biologic_yadg", "cv.mpt").read_bytes()
    f = tmp_path / "cv.mpt"
    f.write_bytes(src[: int(len(src) * 0.6)])
    r = inspect_file(f)
    assert r.ok and r.result is not None
    assert 0 < (r.result.n_points or 0) < 5103


def test_csv_with_header_but_no_rows(tmp_path: Path) -> None:
    f = tmp_path / "arbin.csv"
    f.write_text("Data_Point,Test_Time,DateTime,Step_Time,Step_Index,Cycle_Index,Current,Voltage\n")
    r = inspect_file(f)
    assert not r.ok and r.error is not None and "no data rows" in r.error


def test_describe_content() -> None:
    assert describe_content(PNG) == "a PNG image"
    assert describe_content(b"a,b,c\n1,2,3\n") == "a delimited text table"
    assert describe_content(b"\x1f\x8b\x08") == "gzip-compressed data"


def test_missing_file_and_symlink(tmp_path: Path) -> None:
    assert (
        inspect_file(tmp_path / "nope.csv").error
        == "could not read: not a regular file (missing or a folder)"
    )
    target = tmp_path / "t.csv"
    target.write_text("x")
    link = tmp_path / "l.csv"
    link.symlink_to(target)
    assert inspect_file(link).error == "could not read: the path is a symlink"


# ----------------------------------------------------------------------------- time and memory limits


def test_looping_extractor_is_stopped_by_the_time_limit(tmp_path: Path) -> None:
    f = tmp_path / "x.loop"
    f.write_bytes(b"LOOP forever")
    t0 = time.monotonic()
    r = inspect_file(f, timeout_s=2, extractors=[f"{HOSTILE}:LoopingExtractor"])
    assert time.monotonic() - t0 < 30
    assert not r.ok and r.error == "could not read: extraction took longer than the 2 s limit (stopped)"
    # the worker was replaced: the next file works
    ok = tmp_path / "y.loop"
    ok.write_bytes(b"nothing for the looping extractor")
    r2 = inspect_file(ok, timeout_s=5, extractors=[f"{HOSTILE}:LoopingExtractor"])
    assert r2.error is not None and r2.error.startswith("could not read: not a looping file")


def test_memory_hog_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    f = tmp_path / "x.eat"
    f.write_bytes(b"EAT all memory")
    r = inspect_file(f, timeout_s=30, memory_mb=1024, extractors=[f"{HOSTILE}:HungryExtractor"])
    assert not r.ok and r.error is not None
    assert "memory" in r.error


def test_convert_refuses_paths_outside_out_dir(tmp_path: Path) -> None:
    f = tmp_path / "x.esc"
    f.write_bytes(b"ESC")
    out = tmp_path / "out"
    with pytest.raises(UnsupportedFile, match="outside"):
        convert_file(f, out, 10, extractors=[f"{HOSTILE}:EscapingExtractor"])


def test_convert_writes_tidy_csv_and_parquet_inside_out_dir(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    src = cycler("biologic_yadg", "gcpl.issue_149.mpt")
    paths = convert_file(src, tmp_path / "derived", 60)
    names = sorted(p.name for p in paths)
    assert names == ["gcpl.issue_149.mpt.tidy.csv", "gcpl.issue_149.mpt.tidy.parquet"]
    assert all(p.parent == (tmp_path / "derived").resolve() for p in paths)
    csv_head = (tmp_path / "derived" / "gcpl.issue_149.mpt.tidy.csv").read_text().splitlines()[0]
    assert csv_head.startswith("test_time_second,voltage_volt,current_ampere")
    table = pq.read_table(tmp_path / "derived" / "gcpl.issue_149.mpt.tidy.parquet")
    assert table.num_rows == 132
    meta = table.schema.metadata[b"databahn.provenance"].decode()
    assert "gcpl.issue_149.mpt" in meta and "source_sha256" in meta
    assert table.schema.field("voltage_volt").metadata[b"unit"] == b"V"


def test_inspect_many_keeps_going_after_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mpr"
    bad.write_bytes(PNG)
    good = cycler("biologic_yadg", "cp.mpr")
    reports = inspect_many([bad, good])
    assert [r.ok for r in reports] == [False, True]
    assert reports[1].sha256 and len(reports[1].sha256) == 64


# ----------------------------------------------------------------------------- archives


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_with_parent_path_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "evil.zip", {"ok.txt": b"fine", "../../escape.txt": b"gotcha"})
    with pytest.raises(safety.UnsafeContent, match=r"'\.\.' \(path traversal"):
        list(safety.safe_members(z))
    with pytest.raises(safety.UnsafeContent):
        safety.extract_all_to(z, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()


def test_zip_with_absolute_path_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "abs.zip", {"/etc/passwd": b"root"})
    with pytest.raises(safety.UnsafeContent, match="absolute path"):
        list(safety.safe_members(z))


def test_zip_bomb_is_refused_by_ratio(tmp_path: Path) -> None:
    z = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\x00" * (64 * 1024 * 1024)})
    assert z.stat().st_size < 200_000
    with pytest.raises(safety.UnsafeContent, match="decompression bomb"):
        list(safety.safe_members(z))


def test_zip_member_count_cap(tmp_path: Path) -> None:
    z = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(50)})
    with pytest.raises(safety.UnsafeContent, match="members"):
        list(safety.safe_members(z, safety.ArchiveLimits(max_members=10)))


def test_tar_with_symlink_is_refused(tmp_path: Path) -> None:
    t = tmp_path / "link.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        info = tarfile.TarInfo("data/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(safety.UnsafeContent, match="link"):
        list(safety.safe_members(t))


def test_tar_with_hardlink_and_device_are_refused(tmp_path: Path) -> None:
    for kind, match in ((tarfile.LNKTYPE, "link"), (tarfile.CHRTYPE, "device")):
        t = tmp_path / f"k{kind!r}.tar"
        with tarfile.open(t, "w") as tf:
            info = tarfile.TarInfo("x")
            info.type = kind
            info.linkname = "y"
            tf.addfile(info)
        with pytest.raises(safety.UnsafeContent, match=match):
            list(safety.safe_members(t))


def test_tar_gz_bomb_is_stopped_while_streaming(tmp_path: Path) -> None:
    t = tmp_path / "bomb.tar.gz"
    data = b"\x00" * (32 * 1024 * 1024)
    with tarfile.open(t, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    limits = safety.ArchiveLimits(max_total_bytes=8 * 1024 * 1024)
    with pytest.raises(safety.UnsafeContent, match=r"limit|bomb"):
        list(safety.safe_members(t, limits))


def test_good_archive_extracts_inside_dest_only(tmp_path: Path) -> None:
    z = _zip(tmp_path / "ok.zip", {"a/b.txt": b"hello", "c.txt": b"world"})
    members = list(safety.safe_members(z))
    assert {m.name for m in members} == {"a/b.txt", "c.txt"}
    assert safety.read_member(z, members[0]) == b"hello"
    out = safety.extract_member_to(z, members[0], tmp_path / "dest")
    assert out == (tmp_path / "dest" / "a" / "b.txt").resolve() and out.read_bytes() == b"hello"
    paths = safety.extract_all_to(z, tmp_path / "all")
    assert sorted(p.name for p in paths) == ["b.txt", "c.txt"]


def test_ndax_zip_with_traversal_is_refused_by_the_neware_extractor(tmp_path: Path) -> None:
    z = _zip(tmp_path / "evil.ndax", {"data.ndc": b"\x00" * 10, "../x": b"y"})
    r = inspect_file(z)
    assert not r.ok and r.error is not None and "path traversal" in r.error


# ----------------------------------------------------------------------------- XML


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<MaccorTestProcedure>&lol4;</MaccorTestProcedure>
"""


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(safety.UnsafeContent, match="entit"):
        safety.parse_xml_bytes(BILLION_LAUGHS)
    f = tmp_path / "proc.000"
    f.write_bytes(BILLION_LAUGHS)
    t0 = time.monotonic()
    r = inspect_file(f, timeout_s=20)
    assert time.monotonic() - t0 < 20
    assert not r.ok and r.error is not None and "refused for safety" in r.error


def test_external_entity_is_refused() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(safety.UnsafeContent):
        safety.parse_xml_bytes(xxe)


def test_malformed_xml_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedFile, match="malformed XML"):
        safety.parse_xml_bytes(b"<a><b></a>")


def test_zip_with_symlink_member_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("data/link")
        info.create_system = 3  # Unix
        info.external_attr = (0o120777 << 16) | 0x20  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(safety.UnsafeContent, match="symbolic link"):
        list(safety.safe_members(z))


def test_mpr_with_lying_point_count_is_refused(tmp_path: Path) -> None:
    src = bytearray(cycler("biologic_yadg", "ocv.mpr").read_bytes())
    at = src.find(b"MODULEVMP data") + 6 + 10 + 25 + 16  # old header: length, version, date
    src[at : at + 4] = (10**8).to_bytes(4, "little")  # claims 100 million points
    f = tmp_path / "liar.mpr"
    f.write_bytes(bytes(src))
    r = inspect_file(f, timeout_s=20)
    assert not r.ok and r.error is not None and "data layout not understood" in r.error


def test_crashing_parser_is_reported_and_the_worker_replaced(tmp_path: Path) -> None:
    f = tmp_path / "x.crash"
    f.write_bytes(b"CRASH")
    spec = [f"{HOSTILE}:CrashingExtractor"]
    r = inspect_file(f, timeout_s=20, extractors=spec)
    assert (
        not r.ok and r.error is not None and r.error.startswith("could not read: the extraction process died")
    )
    again = inspect_file(f, timeout_s=20, extractors=spec)  # a fresh worker takes the next job
    assert again.error is not None and "process died" in again.error


def test_large_text_export_stays_within_a_small_memory_limit(tmp_path: Path) -> None:
    """300k points (~10 MB) must parse under a 1 GiB address-space limit, with correct capacities."""
    import numpy as np

    n = 300_000
    t = np.arange(n) * 0.5  # 41.7 h
    current_ma = np.where((t // 3600) % 2 == 0, 10.0, -10.0)  # 1 h charge / 1 h discharge at 10 mA
    cycle = t // 7200
    f = tmp_path / "big.mpt"
    with open(f, "w") as fh:
        fh.write(
            "EC-Lab ASCII FILE\nNb header lines : 5\n\nGalvanostatic Cycling with Potential Limitation\n"
        )
        fh.write("time/s\tEwe/V\tI/mA\tcycle number\n")
        np.savetxt(fh, np.column_stack([t, 3.7 + 0 * t, current_ma, cycle]), fmt="%.4f", delimiter="\t")
    r = inspect_file(f, timeout_s=60, memory_mb=1024)
    assert r.ok and r.result is not None, r.error
    assert r.result.n_points == n and r.result.cycle_count == 21
    assert r.result.capacities["first_cycle_charge_mAh"] == pytest.approx(10.0, rel=1e-3)
    assert r.result.capacities["first_cycle_discharge_mAh"] == pytest.approx(10.0, rel=1e-3)
    assert all(len(s.x) <= 500 for s in r.result.previews)
