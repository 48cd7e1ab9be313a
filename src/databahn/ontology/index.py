"""The in-memory ontology index: lookup, label resolution, hierarchy, autocomplete and suggestions.

Everything here works from plain `Term` records (no rdflib), so a warm start only reads the JSON
index. Lookup tables are built once per process; autocomplete uses sorted keys and bisection rather
than scanning every label, which keeps a query well under the 5 ms budget on 4,580 classes.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from databahn.ontology.branches import DEFAULT_BRANCHES
from databahn.ontology.model import AmbiguousTerm, LoadProblem, Term, UnknownTerm
from databahn.ontology.text import STOP_WORDS, compact, tokenise_names, trigrams, words

_UUID = re.compile(
    r"([0-9a-f]{8})[_-]([0-9a-f]{4})[_-]([0-9a-f]{4})[_-]([0-9a-f]{4})[_-]([0-9a-f]{12})", re.IGNORECASE
)

# Where BattINFO and EMMO terms used to live, and where they live now.
LEGACY_NAMESPACES: tuple[tuple[str, str], ...] = (
    ("http://emmo.info/emmo#", "https://w3id.org/emmo#"),
    ("https://emmo.info/emmo#", "https://w3id.org/emmo#"),
    ("http://emmo.info/battery#", "https://w3id.org/emmo/domain/battery#"),
    ("https://emmo.info/battery#", "https://w3id.org/emmo/domain/battery#"),
    ("http://emmo.info/electrochemistry#", "https://w3id.org/emmo/domain/electrochemistry#"),
    ("https://emmo.info/electrochemistry#", "https://w3id.org/emmo/domain/electrochemistry#"),
    ("http://emmo.info/domain-chemical-substance#", "https://w3id.org/emmo/domain/chemical-substance#"),
    ("http://emmo.info/chemical-substance#", "https://w3id.org/emmo/domain/chemical-substance#"),
    (
        "http://emmo.info/emmo/domain/chameo#",
        "https://w3id.org/emmo/domain/characterisation-methodology/chameo#",
    ),
    (
        "https://w3id.org/emmo/domain/chameo#",
        "https://w3id.org/emmo/domain/characterisation-methodology/chameo#",
    ),
    ("https://big-map.github.io/BattINFO/ontology/BattINFO#", "https://w3id.org/emmo/domain/battery#"),
    ("http://big-map.github.io/BattINFO/ontology/BattINFO#", "https://w3id.org/emmo/domain/battery#"),
)

# Short prefixes people paste from Turtle ("battery:battery_68ed...", "chameo:CyclicVoltammetry").
PREFIXES = {
    "emmo": "https://w3id.org/emmo#",
    "battery": "https://w3id.org/emmo/domain/battery#",
    "echem": "https://w3id.org/emmo/domain/electrochemistry#",
    "electrochemistry": "https://w3id.org/emmo/domain/electrochemistry#",
    "chameo": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#",
    "chemsub": "https://w3id.org/emmo/domain/chemical-substance#",
}
_DOMAIN_HINTS = ("/domain/battery", "/domain/electrochemistry", "/characterisation-methodology/")

# Search tiers, best first.
EXACT, PREFIX, WORD_PREFIX, SUBSTRING, FUZZY = range(5)


def _uuid_key(text: str) -> str | None:
    m = _UUID.search(text)
    return "_".join(m.groups()).lower() if m else None


class Ontology:
    """A loaded ontology (BattINFO and its imports, plus any SKOS vocabularies)."""

    def __init__(
        self,
        terms: Sequence[Term],
        *,
        hidden: Mapping[str, tuple[str, ...]] | None = None,
        problems: Sequence[LoadProblem] = (),
        source: str = "",
        files: Sequence[str] = (),
        ancestors: Mapping[str, frozenset[str]] | None = None,
        branches: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        children: dict[str, list[str]] = defaultdict(list)
        for t in terms:
            for p in t.parents:
                children[p].append(t.iri)
        self._terms: dict[str, Term] = {}
        for t in terms:
            kids = tuple(sorted(children.get(t.iri, ())))
            self._terms[t.iri] = t if t.children == kids else replace(t, children=kids)
        self._order = list(self._terms.values())
        self._hidden = dict(hidden or {})
        self.problems: list[LoadProblem] = list(problems)
        self.source = source
        self.files: list[str] = list(files)
        self.branches: dict[str, tuple[str, ...]] = dict(
            branches if branches is not None else DEFAULT_BRANCHES
        )
        self._ancestors: dict[str, frozenset[str]] = dict(ancestors) if ancestors is not None else {}
        self._descendants: dict[str, frozenset[str]] = {}
        self._trigram_index: dict[str, list[int]] | None = None
        self._build_label_tables()

    # ------------------------------------------------------------------ basic access

    def __len__(self) -> int:
        return len(self._terms)

    def __contains__(self, iri: object) -> bool:
        return iri in self._terms

    def __iter__(self) -> Iterator[Term]:
        return iter(self._order)

    def terms(self) -> list[Term]:
        return list(self._order)

    def term(self, iri: str) -> Term | None:
        """The term with this IRI (legacy and prefixed IRIs are mapped to today's), or None."""
        found = self._terms.get(iri)
        if found is not None:
            return found
        mapped = self.canonical_iri(iri)
        return self._terms.get(mapped) if mapped else None

    def hidden_labels(self, iri: str) -> tuple[str, ...]:
        return self._hidden.get(iri, ())

    def label(self, iri: str) -> str:
        """What to show for a stored IRI: its label, or the IRI itself when it is not known."""
        t = self.term(iri)
        return t.label if t else iri

    def terms_with_label(self, text: str) -> list[Term]:
        """All terms (deprecated too) whose label or a synonym equals `text` up to case and spacing."""
        seen: dict[str, Term] = {}
        for e in self._exact.get(compact(text), ()):
            t = self._order[self._entry_term[e]]
            seen.setdefault(t.iri, t)
        return list(seen.values())

    @property
    def stats(self) -> dict[str, int]:
        return {
            "terms": len(self._terms),
            "classes": sum(1 for t in self._order if t.kind == "class"),
            "concepts": sum(1 for t in self._order if t.kind == "concept"),
            "deprecated": sum(1 for t in self._order if t.deprecated),
            "files": len(self.files),
            "problems": len(self.problems),
        }

    # ------------------------------------------------------------------ IRIs

    def canonical_iri(self, iri: str) -> str | None:
        """Map an IRI as found in data (legacy namespace, CURIE, <bracketed>) to a loaded IRI."""
        iri = iri.strip().strip("<>")
        if iri in self._terms:
            return iri
        prefix, sep, local = iri.partition(":")
        if sep and prefix in PREFIXES and not local.startswith("//"):
            expanded = PREFIXES[prefix] + local
            if expanded in self._terms:
                return expanded
        for old, new in LEGACY_NAMESPACES:
            if iri.startswith(old) and (new + iri[len(old) :]) in self._terms:
                return new + iri[len(old) :]
        # Classes keep their UUID when they move between modules (BattINFO#EMMO_x -> battery#battery_x).
        key = _uuid_key(iri)
        if key is not None and "://" in iri:
            matches = self._by_uuid.get(key, [])
            current = [m for m in matches if not self._terms[m].deprecated]
            if current or matches:
                return (current or matches)[0]
        # Readable names in a legacy namespace (BattINFO#Electrode) map by label when that is unique.
        for old, _ in LEGACY_NAMESPACES:
            if iri.startswith(old) and key is None:
                hits = self._current_terms(compact(iri[len(old) :]))
                if len(hits) == 1:
                    return hits[0].iri
        return None

    # ------------------------------------------------------------------ resolution

    def resolve(self, label_or_iri: str) -> Term:
        """Resolve what a user typed to exactly one term, or raise UnknownTerm / AmbiguousTerm.

        Labels and synonyms match case-insensitively and ignore spacing ("negative electrode" is
        "NegativeElectrode"); deprecated classes are skipped unless only deprecated ones match.
        """
        query = label_or_iri.strip()
        if not query:
            raise UnknownTerm(label_or_iri, note="empty query")
        looks_like_iri = (
            "://" in query or query.startswith(("urn:", "<")) or query.split(":", 1)[0] in PREFIXES
        )
        if looks_like_iri:
            iri = self.canonical_iri(query)
            if iri is not None:
                return self._terms[iri]
            local = re.split(r"[#/:]", query.strip("<>").rstrip("/#"))[-1]
            raise UnknownTerm(
                query,
                tuple(t.candidate for t in self.search(local, limit=5)) if local else (),
                note="this IRI is not in the loaded ontology, and no current class has its UUID",
            )
        key = compact(query)
        by_rank: dict[int, dict[str, Term]] = defaultdict(dict)
        for e in self._exact.get(key, ()):
            t = self._order[self._entry_term[e]]
            by_rank[self._entry_rank[e]].setdefault(t.iri, t)
        for rank in sorted(by_rank):  # a label match beats a synonym match
            current = [t for t in by_rank[rank].values() if not t.deprecated]
            if len(current) == 1:
                return current[0]
            if len(current) > 1:
                raise AmbiguousTerm(query, tuple(t.candidate for t in _domain_first(current)))
        deprecated = {iri: t for rank in by_rank.values() for iri, t in rank.items()}
        if len(deprecated) == 1:
            return next(iter(deprecated.values()))  # only a deprecated class has it: Term.deprecated says so
        if len(deprecated) > 1:
            raise AmbiguousTerm(query, tuple(t.candidate for t in deprecated.values()))
        raise UnknownTerm(query, tuple(t.candidate for t in self.search(query, limit=8)))

    def to_iri(self, label_or_iri: str) -> str:
        """The IRI to store for what a user typed (metadata keeps IRIs and shows labels)."""
        return self.resolve(label_or_iri).iri

    # ------------------------------------------------------------------ hierarchy

    def ancestors(self, iri: str) -> frozenset[str]:
        """All superclasses (transitively), without the class itself."""
        iri = self.canonical_iri(iri) or iri
        cached = self._ancestors.get(iri)
        if cached is not None:
            return cached
        seen: set[str] = set()
        stack = list(self._terms[iri].parents) if iri in self._terms else []
        while stack:
            p = stack.pop()
            if p not in seen and p != iri:
                seen.add(p)
                stack.extend(self._terms[p].parents)
        result = frozenset(seen)
        self._ancestors[iri] = result
        return result

    def descendants(self, iri: str, include_self: bool = True) -> frozenset[str]:
        """All subclasses (transitively): searching for a class finds data tagged with any of these."""
        iri = self.canonical_iri(iri) or iri
        if iri not in self._terms:
            return frozenset({iri}) if include_self else frozenset()
        below = self._descendants.get(iri)
        if below is None:
            seen: set[str] = set()
            stack = list(self._terms[iri].children)
            while stack:
                c = stack.pop()
                if c not in seen and c != iri:
                    seen.add(c)
                    stack.extend(self._terms[c].children)
            below = self._descendants[iri] = frozenset(seen)
        return below | {iri} if include_self else below

    def is_a(self, iri: str, ancestor_iri: str) -> bool:
        iri = self.canonical_iri(iri) or iri
        ancestor_iri = self.canonical_iri(ancestor_iri) or ancestor_iri
        return iri == ancestor_iri or ancestor_iri in self.ancestors(iri)

    def expand(self, labels_or_iris: Iterable[str]) -> frozenset[str]:
        """IRIs to match in a semantic search: each requested term and all its subclasses."""
        out: set[str] = set()
        for item in labels_or_iris:
            out |= self.descendants(self.resolve(item).iri)
        return frozenset(out)

    def count_by_term(self, tagged: Iterable[Iterable[str]]) -> Counter[str]:
        """Facet counts: each dataset (its tag IRIs) counts once for every tag and every ancestor.

        Pass only datasets the viewer may see, so counts respect access.
        """
        counts: Counter[str] = Counter()
        for tags in tagged:
            hit: set[str] = set()
            for tag in tags:
                iri = self.canonical_iri(tag) or tag
                hit.add(iri)
                hit |= self.ancestors(iri) if iri in self._terms else set()
            counts.update(hit)
        return counts

    # ------------------------------------------------------------------ branches

    def branch_roots(self, branch: str) -> list[Term]:
        if branch not in self.branches:
            raise ValueError(f"unknown ontology branch {branch!r}; known: {', '.join(sorted(self.branches))}")
        return [self._terms[r] for r in self.branches[branch] if r in self._terms]

    def with_branches(self, branches: Mapping[str, tuple[str, ...]]) -> Ontology:
        """A view with a project's own branch roots; tables and caches are shared, not copied."""
        view = copy.copy(self)
        view.branches = dict(branches)
        return view

    def in_branch(self, iri: str, branch: str) -> bool:
        """True when the class is one of the branch roots or below one of them."""
        roots = self.branch_roots(branch)
        return any(self.is_a(iri, root.iri) for root in roots)

    # ------------------------------------------------------------------ autocomplete

    def _build_label_tables(self) -> None:
        keys: list[str] = []
        entry_term: list[int] = []
        entry_rank: list[int] = []
        exact: dict[str, list[int]] = defaultdict(list)
        by_uuid: dict[str, list[str]] = defaultdict(list)
        suffixes: list[tuple[str, int]] = []
        for i, t in enumerate(self._order):
            key = _uuid_key(t.iri)
            if key:
                by_uuid[key].append(t.iri)
            texts = (
                [(t.label, 0)] + [(s, 1) for s in t.synonyms] + [(h, 2) for h in self._hidden.get(t.iri, ())]
            )
            for text, rank in texts:
                ws = words(text)
                k = "".join(ws)
                if not k:
                    continue
                e = len(keys)
                keys.append(k)
                entry_term.append(i)
                entry_rank.append(rank)
                exact[k].append(e)
                suffixes.extend(("".join(ws[j:]), e) for j in range(1, len(ws)))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self._keys = keys
        self._entry_term = entry_term
        self._entry_rank = entry_rank
        self._exact = dict(exact)
        self._by_uuid = dict(by_uuid)
        self._prefix_keys = [keys[e] for e in order]
        self._prefix_entries = order
        suffixes.sort()
        self._suffix_keys = [s for s, _ in suffixes]
        self._suffix_entries = [e for _, e in suffixes]
        self._blob = "\x00".join(keys)
        starts, pos = [], 0
        for k in keys:
            starts.append(pos)
            pos += len(k) + 1
        self._blob_starts = starts

    def _prefix_hits(self, sorted_keys: list[str], entries: list[int], q: str) -> Iterator[int]:
        i = bisect_left(sorted_keys, q)
        while i < len(sorted_keys) and sorted_keys[i].startswith(q):
            yield entries[i]
            i += 1

    def _substring_hits(self, q: str) -> Iterator[int]:
        pos = self._blob.find(q)
        while pos != -1:
            e = bisect_left(self._blob_starts, pos + 1) - 1
            yield e
            pos = self._blob.find(q, self._blob_starts[e] + len(self._keys[e]) + 1)

    def _fuzzy_hits(self, q: str, threshold: float = 0.34) -> Iterator[tuple[int, float]]:
        if self._trigram_index is None:  # built on the first fuzzy query only, to keep warm start fast
            index: dict[str, list[int]] = defaultdict(list)
            for e, k in enumerate(self._keys):
                for g in trigrams(k):
                    index[g].append(e)
            self._trigram_index = dict(index)
        qgrams = trigrams(q)
        overlap: Counter[int] = Counter()
        for g in qgrams:
            overlap.update(self._trigram_index.get(g, ()))
        for e, shared in overlap.items():
            score = shared / (len(qgrams) + len(self._keys[e]) + 1 - shared)
            if score >= threshold:
                yield e, score

    def search(self, text: str, limit: int = 20, *, include_deprecated: bool = False) -> list[Term]:
        """Autocomplete over labels and synonyms: exact > prefix > word-prefix > substring > fuzzy."""
        query = text.strip()
        if not query or limit <= 0:
            return []
        if "://" in query:
            iri = self.canonical_iri(query)
            return [self._terms[iri]] if iri else []
        q = compact(query)
        if not q:
            return []
        best: dict[int, tuple[float, ...]] = {}

        def offer(e: int, tier: int, extra: float = 0.0) -> None:
            i = self._entry_term[e]
            t = self._order[i]
            if t.deprecated and not include_deprecated:
                return
            domain = 0 if any(h in t.iri for h in _DOMAIN_HINTS) else 1
            score = (tier, extra, self._entry_rank[e], len(self._keys[e]), domain)
            if i not in best or score < best[i]:
                best[i] = score

        tiers: list[Iterable[tuple[int, float]]] = [
            ((e, 0.0) for e in self._exact.get(q, ())),
            ((e, 0.0) for e in self._prefix_hits(self._prefix_keys, self._prefix_entries, q)),
            ((e, 0.0) for e in self._prefix_hits(self._suffix_keys, self._suffix_entries, q)),
            ((e, 0.0) for e in self._substring_hits(q)),
        ]
        for tier, hits in enumerate(tiers):
            for e, extra in hits:
                offer(e, tier, extra)
            if len(best) >= limit:
                break
        else:
            if len(q) >= 3:
                for e, score in self._fuzzy_hits(q):
                    offer(e, FUZZY, -score)
        ranked = sorted(best, key=lambda i: (best[i], self._order[i].label.lower()))
        return [self._order[i] for i in ranked[:limit]]

    def suggest(self, text: str, limit: int = 10) -> list[Term]:
        """Terms mentioned in a dataset title or its file names, longest phrases first.

        "NMC811_cyclic-voltammetry_coin cell.csv" suggests CyclicVoltammetry and CoinCell.
        """
        tokens = tokenise_names(text)
        found: list[tuple[int, int, int, Term]] = []  # (-words, domain, position, term)
        i = 0
        while i < len(tokens):
            for n in range(min(5, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                if n == 1 and (span[0] in STOP_WORDS or len(span[0]) < 2 or span[0].isdigit()):
                    continue
                hits = self._current_terms("".join(span))
                if not hits and span[-1].endswith("s") and len(span[-1]) > 3:
                    hits = self._current_terms("".join(span)[:-1])  # plural in a title: "electrodes"
                if hits:
                    for t in hits:
                        domain = 0 if any(h in t.iri for h in _DOMAIN_HINTS) else 1
                        found.append((-n, domain, i, t))
                    i += n
                    break
            else:
                i += 1
        found.sort(key=lambda f: f[:3])
        out: dict[str, Term] = {}
        for *_, t in found:
            out.setdefault(t.iri, t)
        return list(out.values())[:limit]

    def _current_terms(self, key: str) -> list[Term]:
        terms = {self._order[self._entry_term[e]] for e in self._exact.get(key, ())}
        return sorted((t for t in terms if not t.deprecated), key=lambda t: t.iri)

    # ------------------------------------------------------------------ combining

    def merge(self, other: Ontology) -> Ontology:
        """This ontology plus another (e.g. a project's SKOS list of protocols); ours wins on clashes."""
        terms = {t.iri: replace(t, children=()) for t in other}
        terms.update({t.iri: replace(t, children=()) for t in self})
        hidden = {**other._hidden, **self._hidden}
        return Ontology(
            list(terms.values()),
            hidden=hidden,
            problems=[*self.problems, *other.problems],
            source=";".join(s for s in (self.source, other.source) if s),
            files=[*self.files, *other.files],
            branches=self.branches,
        )


def _domain_first(terms: Iterable[Term]) -> list[Term]:
    return sorted(terms, key=lambda t: (0 if any(h in t.iri for h in _DOMAIN_HINTS) else 1, t.iri))
