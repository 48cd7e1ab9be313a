"""Discovery of extractor plugins through the `databahn.extractors` entry-point group.

Adding a format means one module plus one entry-point line; nothing here changes. A plugin that
fails to import is skipped and remembered in `load_errors()` so one broken plugin cannot take
extraction down for every other format.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from importlib.metadata import entry_points

from databahn.extractors.base import Extractor

GROUP = "databahn.extractors"
log = logging.getLogger(__name__)
_errors: dict[str, str] = {}


def load_spec(spec: str) -> Extractor:
    """Instantiate an extractor from an entry-point style 'package.module:ClassName' string."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"extractor spec {spec!r} must look like 'package.module:ClassName'")
    cls = getattr(importlib.import_module(module_name), attr)
    obj = cls()
    if not isinstance(obj, Extractor):
        raise TypeError(f"{spec} is not a databahn.extractors.base.Extractor subclass")
    return obj


@lru_cache(maxsize=1)
def _load() -> tuple[Extractor, ...]:
    found: list[Extractor] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            found.append(load_spec(ep.value))
        except Exception as exc:  # a broken plugin must not break the others
            _errors[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("extractor plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
    return tuple(found)


def get_extractors() -> list[Extractor]:
    """All installed extractors (cached; call `reload()` after installing a plugin)."""
    return list(_load())


def get_extractor(name: str) -> Extractor:
    for ext in _load():
        if ext.name == name:
            return ext
    raise KeyError(f"no extractor named {name!r}; installed: {', '.join(e.name for e in _load()) or 'none'}")


def load_errors() -> dict[str, str]:
    """Entry-point name -> why it failed to load (empty when all plugins loaded)."""
    _load()
    return dict(_errors)


def reload() -> list[Extractor]:
    _load.cache_clear()
    _errors.clear()
    return get_extractors()
