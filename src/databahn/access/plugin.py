"""Access and trust (issue 3): accounts, groups and roles, openness, embargoes, access requests,
share links, notifications, audit. The rules themselves live in `databahn.services.policy`.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from databahn.access.service import AccessService

if TYPE_CHECKING:
    from databahn.services.hub import Hub

log = logging.getLogger("databahn.access")


def _interval() -> float:
    """Seconds between runs of the embargo job (DATABAHN_EMBARGO_JOB_INTERVAL, default one hour)."""
    raw = os.environ.get("DATABAHN_EMBARGO_JOB_INTERVAL", "3600")
    try:
        return max(1.0, float(raw))
    except ValueError:
        log.warning("DATABAHN_EMBARGO_JOB_INTERVAL=%r is not a number of seconds; using 3600", raw)
        return 3600.0


def lift_expired_embargoes(hub: Hub) -> dict[str, int]:
    """The scheduled job: lift embargoes whose date has come, expire grants past their date."""
    svc: AccessService = hub.ext["access"]
    return svc.lift_expired()


class Job:
    """A running periodic job; `stop()` ends it (it also ends when its hub is garbage collected)."""

    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self.thread = thread
        self._stop = stop

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


def _start_job(hub: Hub, interval: float | None = None) -> Job:
    """A light daemon thread running the job periodically (the durable queue comes later)."""
    ref = weakref.ref(hub)
    stop = threading.Event()
    interval = _interval() if interval is None else interval

    def loop() -> None:
        while not stop.wait(interval):
            target = ref()
            if target is None:
                return
            try:
                result = lift_expired_embargoes(target)
                if any(result.values()):
                    log.info("access job: %s", result)
            except Exception:  # the database may be gone (hub closed); never crash the process
                log.warning("access job failed; will retry", exc_info=True)
            del target

    thread = threading.Thread(target=loop, name="databahn-access-job", daemon=True)
    thread.start()
    return Job(thread, stop)


def setup(hub: Hub) -> None:
    svc = AccessService(hub)
    hub.ext["access"] = svc
    hub.hooks.create_options.append(svc.apply_options)
    hub.hooks.after_publish.append(svc.after_publish)
    hub.hooks.record_extras.append(svc.record_extras)
    under_tests = "PYTEST_CURRENT_TEST" in os.environ and os.environ.get("DATABAHN_ACCESS_JOBS") != "1"
    if hub.settings.background_jobs and not under_tests:
        svc.job = _start_job(hub)


def routers() -> list[Any]:
    from databahn.access.api import links_router, router
    from databahn.access.web import router as web_router

    return [router, links_router, web_router]


def configure_app(app: Any, hub: Hub) -> None:
    from databahn.access.audit import ReadAuditMiddleware

    app.add_middleware(ReadAuditMiddleware, hub=hub)


def register_commands(app: Any) -> None:
    from databahn.access.cli import register

    register(app)
