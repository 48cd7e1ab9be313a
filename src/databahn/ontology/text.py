"""Text normalisation shared by label lookup, autocomplete and term suggestion.

EMMO labels are CamelCase ("NegativeElectrode"), people type "negative electrode" and file names say
"negative-electrode_01.csv": all three must meet in one normal form, a list of lowercase words.
"""

from __future__ import annotations

import re
import unicodedata

# Acronym runs before a capitalised word ("XRay" -> X Ray, "CRate" -> C Rate), words, acronyms, digits,
# and runs of other letters (ß, Greek, CJK) so non-ASCII labels in SKOS vocabularies still get keys.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_A-Za-z]+")
_FILE_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")

# Words too common in titles and file names to suggest a term on their own.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "data",
        "dataset",
        "file",
        "files",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "raw",
        "results",
        "sample",
        "samples",
        "set",
        "the",
        "this",
        "to",
        "using",
        "via",
        "vs",
        "we",
        "with",
        "run",
        "runs",
        "test",
        "tests",
        "final",
        "new",
        "old",
        "copy",
        "version",
        "v",
        "untitled",
        "export",
        "exported",
        "measurement",
        "measurements",
    ]
)


def _fold(text: str) -> str:
    """Strip accents so 'Ångström' and 'Angstrom' meet; keep case for CamelCase splitting."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Split any label, query or file name into lowercase words (CamelCase and separators aware)."""
    return [w.lower() for w in _WORD.findall(_fold(text))]


def compact(text: str) -> str:
    """The key used for equality: 'Negative electrode', 'NegativeElectrode', 'negative_electrode' agree."""
    return "".join(words(text))


def tokenise_names(text: str) -> list[str]:
    """Words of a title or a list of file names: extensions dropped, every separator honoured."""
    out: list[str] = []
    for chunk in re.split(r"[\s/\\,;]+", text):
        if not chunk:
            continue
        out.extend(words(_FILE_EXT.sub("", chunk)))
    return out


def trigrams(key: str) -> frozenset[str]:
    """Character trigrams of a compact key, padded so short keys still have some."""
    padded = f"  {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))
