"""``create_console_app``: the console's FastAPI app, its routers, static files and refusals.

Every router in :data:`sync.console.views.routers` is included; each of its routes names a
role dependency from :mod:`sync.console.auth`, and :func:`~sync.console.auth.enforce_csrf`
runs before all of them. The OpenAPI document is served at ``/api/openapi.json`` to signed-in
users only: it maps what a token can do. There is no browsable page: Swagger UI would load its
script from a CDN into a signed-in page (and show nothing offline); load the document into any
OpenAPI viewer instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync.console import login
from sync.console.auth import Forbidden, NotAuthenticated, ViewerUser, enforce_csrf
from sync.console.context import ConsoleContext, Context
from sync.console.rendering import STATIC_DIR, render
from sync.console.session_cookie import set_session_cookie
from sync.console.views import routers

# No inline script runs and no other site frames the console: a value that slipped past
# escaping still could not execute.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# The largest form or JSON body a person or script sends here is a bulk action's ids and a note.
MAX_BODY_BYTES = 1 << 20


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "authorization" in request.headers


def _not_authenticated(request: Request, error: Exception) -> Response:
    if _wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse({"detail": str(error)}, status_code=401, headers=headers)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        # htmx would follow a redirect inside a fragment; it turns this header into a page load.
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _forbidden(request: Request, error: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": str(error)}, status_code=403)
    page = {"title": "Not allowed", "message": str(error)}
    return render(request, "error.html", page, status_code=403)


def _openapi_routes(app: FastAPI) -> None:
    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_document(_user: ViewerUser) -> JSONResponse:
        return JSONResponse(app.openapi())


async def _finish(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Add the security headers, and the cookie of a session a proxy login opened."""
    response = await call_next(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith(("/api/", "/login")) or "text/html" in response.headers.get(
        "content-type", ""
    ):
        response.headers.setdefault("Cache-Control", "no-store")
    opened = getattr(request.state, "new_session", None)
    if opened is not None:
        context: ConsoleContext = request.app.state.console_context
        settings = context.settings.console
        now = context.clock()
        set_session_cookie(response, request, settings, opened.session_id, opened.expires_at, now)
    return response


def create_console_app(context: ConsoleContext) -> FastAPI:
    """The console over ``context``'s store: pages, JSON API, login, static files."""
    app = FastAPI(
        title="revbridge console API",
        summary="The error queue, records' journeys, conflicts and runs of a revbridge store.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(enforce_csrf)],
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.console_context = context
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.middleware("http")(_finish)
    app.include_router(login.router)
    for router in routers:
        app.include_router(router)
    _openapi_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


__all__ = ["Context", "create_console_app"]
