"""Request plumbing shared by the routers: the hub, the principal, streaming request bodies."""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

from fastapi import Request
from starlette.requests import ClientDisconnect

from databahn.errors import DatabahnError, Unauthenticated
from databahn.services.hub import Hub
from databahn.services.policy import ANONYMOUS, Principal

T = TypeVar("T")
COALESCE = 1024 * 1024  # hand the worker thread 1 MiB blocks, not the server's 64 KiB pieces


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def get_principal(request: Request) -> Principal:
    """Bearer token → principal; a signed-in browser session (web UI) → principal; else anonymous.

    A token that is present but bad is an error (401), never silently anonymous."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cast(Principal, cached)
    hub = get_hub(request)
    auth = request.headers.get("authorization", "")
    principal = ANONYMOUS
    if auth:
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        principal = hub.users.principal_for_token(secret.strip())
    else:
        session_user = request.scope.get("session", {}).get("user_id") if "session" in request.scope else None
        if session_user:
            with contextlib.suppress(DatabahnError):
                principal = hub.users.principal_for_user(int(session_user))
            unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
            if principal is not ANONYMOUS and unsafe and request.url.path.startswith("/api/"):
                # a browser session may only change things from our own pages (CSRF)
                from databahn.web.render import check_csrf_header

                check_csrf_header(request)
    access = hub.ext.get("access")
    if access is not None:  # share links: `?share=SECRET`, or remembered by /s/SECRET in the session
        session = request.scope.get("session") or {}
        remembered = session.get("share_links", [])
        given = request.query_params.get("share")
        if given:
            principal = access.with_links(principal, [given], strict=True)
        if remembered:
            principal = access.with_links(principal, list(remembered), strict=False)
    request.state.principal = principal
    return principal


class _End:
    pass


_END = _End()


async def consume_body_in_thread(request: Request, fn: Callable[[Iterator[bytes | bytearray]], T]) -> T:
    """Run the blocking `fn(chunks)` in a worker thread while this coroutine feeds it the body.

    Memory stays bounded (a small queue of 1 MiB blocks). If the client disconnects, `fn`'s
    iterator raises, so the service abandons the upload and nothing half-written becomes visible.
    If `fn` fails early (e.g. a duplicate file name), reading stops at once.
    """
    q: queue.Queue[bytes | bytearray | BaseException | _End] = queue.Queue(maxsize=8)
    stop = False

    def chunks() -> Iterator[bytes | bytearray]:
        while True:
            item = q.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, fn, chunks())

    async def put(item: bytes | bytearray | BaseException | _End) -> None:
        while not stop:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                if future.done():
                    return
                await asyncio.sleep(0.0005)

    async def produce() -> None:
        buf = bytearray()
        try:
            async for piece in request.stream():
                if future.done():
                    return
                buf += piece
                if len(buf) >= COALESCE:
                    await put(buf)  # handed over whole: a fresh buffer, no copy
                    buf = bytearray()
            if buf:
                await put(buf)
            await put(_END)
        except ClientDisconnect:
            await put(ConnectionAbortedError("the client disconnected before the upload finished"))
        except Exception as exc:  # pragma: no cover - defensive: always unblock the consumer
            await put(exc)

    producer = asyncio.ensure_future(produce())
    try:
        await asyncio.wait(
            {cast("asyncio.Future[object]", producer), cast("asyncio.Future[object]", future)},
            return_when=asyncio.FIRST_COMPLETED,
        )
        if future.done() and not producer.done():
            stop = True
            producer.cancel()
        return await future
    finally:
        stop = True
        if not producer.done():
            producer.cancel()
        if not future.done():
            # the request was cancelled: make sure the worker thread stops waiting for data
            with contextlib.suppress(queue.Empty):
                q.get_nowait()
            with contextlib.suppress(queue.Full):
                q.put_nowait(ConnectionAbortedError("the upload was cancelled"))
