"""Test-only extractors that misbehave on purpose (loop forever, eat memory, write outside out_dir)."""

from __future__ import annotations

from pathlib import Path

from databahn.extractors.base import ExtractionResult, Extractor


class LoopingExtractor(Extractor):
    name = "looping"
    suffixes = (".loop",)

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if head.startswith(b"LOOP") else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        while True:  # a parser stuck on a crafted file
            pass


class HungryExtractor(Extractor):
    name = "hungry"
    suffixes = (".eat",)

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if head.startswith(b"EAT") else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        blocks = []
        while True:  # a decompression bomb inside a parser
            blocks.append(bytearray(256 * 1024 * 1024))


class EscapingExtractor(Extractor):
    name = "escaping"
    suffixes = (".esc",)

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if head.startswith(b"ESC") else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        return ExtractionResult(extractor=self.name, format="test")

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        target = out_dir.parent / "escaped.txt"
        target.write_text("outside")
        return [target]


class CrashingExtractor(Extractor):
    name = "crashing"
    suffixes = (".crash",)

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if head.startswith(b"CRASH") else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        import os
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)  # a C parser dereferencing garbage
        raise AssertionError("unreachable")
