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
from urllib.parse import quote, urlencode

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


def run_path(run: str, *rest: Any) -> str:
    return "/".join(["/runs", quote(run, safe=""), *(quote(str(r), safe="") for r in rest)])


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


def create_app(store: Store, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The application serving `store`'s runs. `allowed_hosts`: Host headers accepted (default:
    the local names only, so that no other site can reach the server through DNS rebinding)."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(
        url=url, run_path=run_path, categories=CATEGORIES, metric_info=BY_NAME
    )
    templates.env.filters["fmt"] = _fmt

    def page(name: str, make: Callable[[Request], Doc]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            doc = make(request)
            return templates.TemplateResponse(request, name, {"doc": doc, "runs": store.runs})

        return endpoint

    def api(make: Callable[[Request], Doc]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return JSON(make(request))

        return endpoint

    def run_of(r: Request) -> str:
        return str(r.path_params["run"])

    def board(r: Request) -> Doc:
        p = Params(r)
        return views.leaderboard_doc(store, run_of(r), p.text("sort", "borda"), p.text("order"))

    def listing(r: Request) -> Doc:
        p = Params(r)
        cat = p.integer("category", 0) or None
        return playlists.playlists_doc(store, run_of(r), p.text("q"), cat, p.integer("page", 1))

    def playlist(r: Request) -> Doc:
        k = Params(r).integer("k", 20)
        if not 1 <= k <= 500:
            raise RequestError(f"query parameter k: {k} is not in 1..500")
        pid = playlists.parse_pid(str(r.path_params["pid"]))
        return playlists.playlist_doc(store, run_of(r), pid, k)

    def compare(r: Request) -> Doc:
        p = Params(r)
        metric = p.text("metric", "r_precision")
        return views.compare_doc(store, run_of(r), p.optional("a"), p.optional("b"), metric)

    def compare_page(r: Request) -> Doc:
        doc = compare(r)
        run = run_of(r)
        doc["chart"] = store.memo(
            ("compare", run, doc["a"], doc["b"], doc["metric"]["name"]),
            lambda: views.compare_chart(
                store,
                run,
                doc["a"],
                doc["b"],
                doc["metric"]["name"],
                lambda pid: run_path(run, "playlists", pid),
            ),
        )
        return doc

    def generate(r: Request) -> Doc:
        return compose.generate_doc(store, run_of(r), generate_request(Params(r)))

    def generate_page(r: Request) -> Doc:
        return generate_form(store, run_of(r), Params(r))

    def tracks(r: Request) -> Doc:
        p = Params(r)
        return compose.tracks_doc(store, run_of(r), p.text("q"), p.integer("limit", 20))

    def chart(r: Request) -> Response:
        svg = views.category_chart(store, run_of(r), str(r.path_params["metric"]))
        return Response(svg, media_type="image/svg+xml")

    def file(r: Request) -> Response:
        return FileResponse(views.run_file(store, run_of(r), str(r.path_params["path"])))

    def playlist_search(r: Request) -> Response:
        """The inspector's pid box: straight to the playlist when the pid is a test playlist."""
        p = Params(r)
        q = p.text("q").strip()
        if q.isdigit() and int(q) in store.tests(run_of(r)).row:
            return RedirectResponse(run_path(run_of(r), "playlists", q), status_code=303)
        return page("playlists.html", listing)(r)

    routes = [
        Route("/", page("runs.html", lambda r: views.runs_doc(store))),
        Route("/api/runs", api(lambda r: views.runs_doc(store))),
        Route("/runs/{run}", page("leaderboard.html", board)),
        Route("/api/runs/{run}/leaderboard", api(board)),
        Route("/runs/{run}/charts/category_{metric}.svg", chart),
        Route("/runs/{run}/playlists", playlist_search),
        Route("/api/runs/{run}/playlists", api(listing)),
        Route("/runs/{run}/playlists/{pid}", page("playlist.html", playlist)),
        Route("/api/runs/{run}/playlists/{pid}", api(playlist)),
        Route("/runs/{run}/compare", page("compare.html", compare_page)),
        Route("/api/runs/{run}/compare", api(compare)),
        Route("/runs/{run}/generate", page("generate.html", generate_page)),
        Route("/api/runs/{run}/generate", api(generate)),
        Route("/api/runs/{run}/tracks", api(tracks)),
        Route("/runs/{run}/files/{path:path}", file),
    ]
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOCAL_HOSTS)
    errors = _error_handlers(templates)
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        exception_handlers=errors,  # type: ignore[arg-type]
    )


def generate_form(store: Store, run: str, p: Params) -> Doc:
    """The generation page: the form's state, track search results for `add`, and the
    continuation when `go=generate`."""
    info = store.info(run)
    models = store.generator_models(run)
    seeds = p.texts("seed_track")
    add = p.text("add").strip()
    found: list[dict[str, Any]] = []
    if add and add in store.corpus(run).track_index:
        seeds.append(add)  # a URI, picked from the completion
        add = ""
    elif add:
        found = compose.tracks_doc(store, run, add, 20)["tracks"]
    req = generate_request(p)
    req = compose.GenerateRequest(**{**req.__dict__, "seed_tracks": seeds, "model": req.model})
    doc: Doc = {
        "run": run,
        "synthetic": info.synthetic,
        "models": models,
        "form": req.__dict__,
        "seeds": [
            playlists.track_doc(store.corpus(run), t) for t in compose.seed_ids(store, run, seeds)
        ],
        "add": add,
        "found": found,
        "result": None,
    }
    if p.text("go") == "generate":
        doc["result"] = compose.generate_doc(store, run, req)
    return doc


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
