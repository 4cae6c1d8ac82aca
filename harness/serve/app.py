"""The web explorer as a Starlette application: routes, query parameters, templates, errors.

Every page `/runs/{run}/...` has its JSON twin `/api/runs/{run}/...` built from the same document
(`views`, `playlists`, `compose`); docs/serve.md lists them. Only GET (and HEAD) exist: the
server never changes a file. Errors answer with their status and one line (`{"error": ...}` on
the API, a short page otherwise), never a traceback: 400 for a bad query parameter, 404 for an
unknown run, playlist, model or file, 500 for a run whose files are broken.

Starlette (with uvicorn) gives routing, thread-pooled handlers, file responses with the right
headers and a test client; Jinja2 escapes every value it puts in a page. Hand-written, each would
be a place to get HTTP or escaping wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from harness.challenge.categories import CATEGORIES
from harness.challenge.metrics import BY_NAME
from harness.errors import HarnessError, UsageError
from harness.serve import compose, playlists, views
from harness.serve.errors import RequestError
from harness.serve.store import Store
from harness.serve.views import run_path

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
Doc = dict[str, Any]


class JSON(Response):
    """orjson: numpy-free documents, NaN never reaches the client (views map it to null)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Params:
    """A request's query parameters, parsed with a one-line error naming the parameter."""

    def __init__(self, request: Request) -> None:
        self.q = request.query_params

    def text(self, name: str, default: str = "") -> str:
        value = self.q.get(name)
        return default if value is None else value

    def optional(self, name: str) -> str | None:
        value = self.q.get(name)
        return value if value else None

    def texts(self, name: str) -> list[str]:
        return [v for v in self.q.getlist(name) if v]

    def integer(self, name: str, default: int) -> int:
        value = self.q.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise RequestError(f"query parameter {name}: {value!r} is not an integer") from None

    def number(self, name: str, default: float) -> float:
        value = self.q.get(name)
        if value is None or value == "":
            return default
        try:
            x = float(value)
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            raise RequestError(f"query parameter {name}: {value!r} is not a finite number")
        return x

    def flag(self, name: str) -> bool:
        value = (self.q.get(name) or "").lower()
        if value in ("", "0", "false", "off", "no"):
            return False
        if value in ("1", "true", "on", "yes"):
            return True
        raise RequestError(f"query parameter {name}: {value!r} is not one of 1, 0, true, false")


def url(path: str, **params: Any) -> str:
    """`path?a=1&b=x`, leaving out empty parameters (lists repeat the name)."""
    keep = {k: v for k, v in params.items() if v not in (None, "", [], False)}
    return f"{path}?{urlencode(keep, doseq=True)}" if keep else path


def generate_request(p: Params) -> compose.GenerateRequest:
    return compose.GenerateRequest(
        model=p.text("model"),
        title=p.optional("title"),
        seed_tracks=p.texts("seed_track"),
        length=p.integer("length", compose.DEFAULT_LENGTH),
        sample=p.flag("sample"),
        top=p.integer("top", compose.DEFAULT_TOP),
        temperature=p.number("temperature", compose.DEFAULT_TEMPERATURE),
        seed=p.integer("seed", 0),
    )


class Handlers:
    """Request -> document, one method per page; each page and its JSON twin share one."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def run(r: Request) -> str:
        return str(r.path_params["run"])

    def runs(self, r: Request) -> Doc:
        return views.runs_doc(self.store)

    def board(self, r: Request) -> Doc:
        p = Params(r)
        return views.leaderboard_doc(
            self.store, self.run(r), p.text("sort", "borda"), p.text("order")
        )

    def listing(self, r: Request) -> Doc:
        p = Params(r)
        return playlists.playlists_doc(
            self.store,
            self.run(r),
            p.text("q"),
            p.integer("category", 0) or None,
            p.integer("page", 1),
            p.text("sort", "split"),
            p.text("order"),
        )

    def playlist(self, r: Request) -> Doc:
        k = Params(r).integer("k", 20)
        if not 1 <= k <= 500:
            raise RequestError(f"query parameter k: {k} is not in 1..500")
        pid = playlists.parse_pid(str(r.path_params["pid"]))
        return playlists.playlist_doc(self.store, self.run(r), pid, k)

    def compare(self, r: Request) -> Doc:
        p = Params(r)
        metric = p.text("metric", "r_precision")
        return views.compare_doc(self.store, self.run(r), p.optional("a"), p.optional("b"), metric)

    def compare_page(self, r: Request) -> Doc:
        doc, run = self.compare(r), self.run(r)
        doc["chart"] = views.compare_chart(self.store, run, doc)
        return doc

    def generate(self, r: Request) -> Doc:
        return compose.generate_doc(self.store, self.run(r), generate_request(Params(r)))

    def generate_page(self, r: Request) -> Doc:
        p = Params(r)
        req, add, go = generate_request(p), p.text("add").strip(), p.text("go") == "generate"
        return compose.generate_form(self.store, self.run(r), req, add, go)

    def tracks(self, r: Request) -> Doc:
        p = Params(r)
        return compose.tracks_doc(self.store, self.run(r), p.text("q"), p.integer("limit", 20))

    def chart(self, r: Request) -> Response:
        svg = views.category_chart(self.store, self.run(r), str(r.path_params["metric"]))
        return Response(svg, media_type="image/svg+xml")

    def file(self, r: Request) -> Response:
        return FileResponse(views.run_file(self.store, self.run(r), str(r.path_params["path"])))

    def pid_box(self, r: Request) -> Response | None:
        """The search box's pid: straight to the playlist when it is a test playlist's."""
        q = Params(r).text("q").strip()
        if q.isdigit() and int(q) in self.store.tests(self.run(r)).row:
            return RedirectResponse(run_path(self.run(r), "playlists", q), status_code=303)
        return None


def create_app(store: Store, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The application serving `store`'s runs. `allowed_hosts`: Host headers accepted (default:
    the local names only, so that no other site can reach the server through DNS rebinding)."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(
        url=url, run_path=run_path, categories=CATEGORIES, metric_info=BY_NAME
    )
    templates.env.filters["fmt"] = _fmt
    for name in templates.env.list_templates():  # compiled now, not on the first request
        templates.env.get_template(name)
    h = Handlers(store)

    def page(
        name: str,
        make: Callable[[Request], Doc],
        first: Callable[[Request], Response | None] = lambda r: None,
    ) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            early = first(request)
            if early is not None:
                return early
            return templates.TemplateResponse(request, name, {"doc": make(request)})

        return endpoint

    def api(make: Callable[[Request], Doc]) -> Callable[[Request], Response]:
        return lambda request: JSON(make(request))

    routes = [
        Route("/", page("runs.html", h.runs)),
        Route("/api/runs", api(h.runs)),
        Route("/runs/{run}", page("leaderboard.html", h.board)),
        Route("/api/runs/{run}/leaderboard", api(h.board)),
        Route("/runs/{run}/charts/category_{metric}.svg", h.chart),
        Route("/runs/{run}/playlists", page("playlists.html", h.listing, h.pid_box)),
        Route("/api/runs/{run}/playlists", api(h.listing)),
        Route("/runs/{run}/playlists/{pid}", page("playlist.html", h.playlist)),
        Route("/api/runs/{run}/playlists/{pid}", api(h.playlist)),
        Route("/runs/{run}/compare", page("compare.html", h.compare_page)),
        Route("/api/runs/{run}/compare", api(h.compare)),
        Route("/runs/{run}/generate", page("generate.html", h.generate_page)),
        Route("/api/runs/{run}/generate", api(h.generate)),
        Route("/api/runs/{run}/tracks", api(h.tracks)),
        Route("/runs/{run}/files/{path:path}", h.file),
    ]
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOCAL_HOSTS)
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        exception_handlers=_error_handlers(templates),  # type: ignore[arg-type]
    )


def _fmt(value: Any, spec: str = ".4f") -> str:
    """A number for a table cell; empty for None."""
    if value is None:
        return ""
    return format(value, spec)


def _error_handlers(templates: Jinja2Templates) -> dict[Any, Callable[..., Any]]:
    """HarnessError -> its status (400 for bad input, 500 for broken run files); HTTP errors
    keep theirs; anything else is a 500 with one line (the traceback goes to the server's log)."""

    def answer(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSON({"error": message, "status": status}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    def harness_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status", 400 if isinstance(exc, UsageError) else 500)
        return answer(request, status, str(exc))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return answer(request, exc.status_code, str(exc.detail))

    def server_error(request: Request, exc: Exception) -> Response:
        return answer(request, 500, f"internal error: {type(exc).__name__}: {exc}")

    return {HarnessError: harness_error, HTTPException: http_error, Exception: server_error}
