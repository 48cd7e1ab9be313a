"""Facet counting over a hit set, in columnar form.

SQL decides *which* documents are hits (full text, filters and the access policy, all in one
query); this class only counts their facet values. Counting 100,000 hits with GROUP BY costs
seconds in SQLite; here it is one numpy `bincount` over a cached (slot, value-code) table.

The cache is per process and self-healing: every hit comes with its document's `rev`, and any
document whose rev the cache has not seen (new, or re-indexed) has its facet rows loaded then.
Superseded entries stay until a compaction, but are never counted: only the slots of current hits
are switched on in the mask. Nothing here can widen what a principal sees.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from databahn.db.models import SearchFacet

MAX_VALUES_PER_FACET = 50
_LOAD_BATCH = 500


class FacetCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.codes: dict[tuple[str, str], int] = {}
        self.labels: list[tuple[str, str]] = []
        self.vid_slot = np.full(1024, -1, dtype=np.int64)
        self.vid_rev = np.full(1024, -1, dtype=np.int64)
        self.e_slot = np.zeros(0, dtype=np.int64)
        self.e_code = np.zeros(0, dtype=np.int64)
        self.n_slots = 0
        self.live = 0

    def _grow(self, max_vid: int) -> None:
        if max_vid < self.vid_slot.size:
            return
        size = max(self.vid_slot.size * 2, max_vid + 1)
        for name in ("vid_slot", "vid_rev"):
            old = getattr(self, name)
            new = np.full(size, -1, dtype=np.int64)
            new[: old.size] = old
            setattr(self, name, new)

    def _load(self, session: Session, vids: np.ndarray, revs: np.ndarray) -> None:
        rows_by_vid: dict[int, list[int]] = {int(v): [] for v in vids}
        for start in range(0, len(vids), _LOAD_BATCH):
            batch = [int(v) for v in vids[start : start + _LOAD_BATCH]]
            for vid, key, value in session.execute(
                select(SearchFacet.version_id, SearchFacet.key, SearchFacet.value).where(
                    SearchFacet.version_id.in_(batch)
                )
            ):
                code = self.codes.get((key, value))
                if code is None:
                    code = len(self.labels)
                    self.codes[(key, value)] = code
                    self.labels.append((key, value))
                rows_by_vid[int(vid)].append(code)
        slots: list[int] = []
        codes: list[int] = []
        for i, vid in enumerate(int(v) for v in vids):
            slot = self.n_slots + i
            if self.vid_slot[vid] < 0:
                self.live += 1
            self.vid_slot[vid] = slot
            self.vid_rev[vid] = int(revs[i])
            entries = rows_by_vid[vid]
            slots += [slot] * len(entries)
            codes += entries
        self.n_slots += len(vids)
        self.e_slot = np.concatenate([self.e_slot, np.asarray(slots, dtype=np.int64)])
        self.e_code = np.concatenate([self.e_code, np.asarray(codes, dtype=np.int64)])

    def count(
        self, session: Session, vids: Sequence[int] | np.ndarray, revs: Sequence[int] | np.ndarray
    ) -> dict[str, list[tuple[str, int]]]:
        """Facet (value, count) lists, per key, over exactly the documents in `vids`."""
        vid_arr = np.asarray(vids, dtype=np.int64)
        rev_arr = np.asarray(revs, dtype=np.int64)
        if vid_arr.size == 0:
            return {}
        with self._lock:
            if self.n_slots > 2 * self.live + 50_000:
                self._reset()  # too many superseded entries: start afresh (reloads lazily)
            self._grow(int(vid_arr.max()))
            stale = self.vid_rev[vid_arr] != rev_arr
            if stale.any():
                self._load(session, vid_arr[stale], rev_arr[stale])
            mask = np.zeros(self.n_slots, dtype=bool)
            mask[self.vid_slot[vid_arr]] = True
            counts = np.bincount(self.e_code[mask[self.e_slot]], minlength=len(self.labels))
            labels = self.labels
        facets: dict[str, list[tuple[str, int]]] = {}
        for code in np.flatnonzero(counts):
            key, value = labels[int(code)]
            facets.setdefault(key, []).append((value, int(counts[code])))
        for values in facets.values():
            values.sort(key=lambda kv: (-kv[1], kv[0]))
            del values[MAX_VALUES_PER_FACET:]
        return facets
