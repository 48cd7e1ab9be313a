"""The ASGI application: routers plus the error boundary (everything becomes application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from databahn import __version__
from databahn.errors import DatabahnError
from databahn.services.hub import Hub

log = logging.getLogger("databahn")
PROBLEM = "application/problem+json"


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="Databahn",
        version=__version__,
        description="The data highway for research consortia: datasets, versions, files and search.",
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.hub = hub
    # signed, HttpOnly session cookie for the web UI (API clients use bearer tokens)
    app.add_middleware(
        SessionMiddleware,
        secret_key=hub.secret_key,
        session_cookie="databahn_session",
        same_site="lax",
        https_only=hub.settings.base_url.startswith("https://"),
        max_age=14 * 24 * 3600,
    )

    @app.exception_handler(DatabahnError)
    async def _databahn_error(request: Request, exc: DatabahnError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 416 and "total" in exc.extra:
            headers = {"Content-Range": f"bytes */{exc.extra['total']}"}
        return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:] if len(loc) > 1 else loc
            errors.append({"field": ".".join(loc) or "request", "message": str(err.get("msg", "invalid"))})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid request"
        return problem_response(422, "Invalid input", f"invalid request: {detail}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        if exc.status_code == 404 and any(
            ord(ch) < 32 or ord(ch) == 127 for ch in request.scope.get("path", "")
        ):
            return problem_response(
                422, "Invalid input", "control characters are not allowed in paths or file names"
            )
        if exc.status_code == 404 and detail == "Not Found":
            if not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", ""):
                from databahn.web.render import error_page

                return error_page(request, 404, "Not found", f"there is no page at {request.url.path}")
            detail = f"no such endpoint: {request.method} {request.url.path} (see /api/docs)"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path} (see /api/docs)"
        return problem_response(exc.status_code, "HTTP error", detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "Internal error",
            "the hub hit an unexpected error; it was logged for the operators — nothing was changed",
        )

    from databahn.api.datasets import router as datasets_router

    app.include_router(datasets_router)
    for extra in _extra_routers():
        app.include_router(extra)
    from databahn.plugins import configure_plugin_apps

    configure_plugin_apps(app, hub)
    return app


def _extra_routers() -> list[Any]:
    """Routers of the plugins (access, ontology, DMP, ...) and the web pages, mounted last."""
    from databahn.plugins import plugin_routers
    from databahn.web.routes import router as web_router

    return [*plugin_routers(), web_router]
