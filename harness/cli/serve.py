"""Serve a local web explorer of runs: leaderboards, playlists, model comparison, generation.

`mpd-harness serve [RUN_DIR ...] [--host 127.0.0.1] [--port 8000]`: the runs given (default: every
run folder under runs/) are loaded first (leaderboard, corpus, split, recommendations, track
search), so that pages answer quickly; then uvicorn serves `harness.serve.app` until Ctrl-C.
Read-only; it binds to 127.0.0.1 unless --host says otherwise. Paths in run.json are relative to
the folder evaluate ran in: start the server there.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path

from harness.cli.console import ConsoleReporter
from harness.errors import UsageError
from harness.serve.app import LOCAL_HOSTS, create_app
from harness.serve.store import DEFAULT_MAX_FITTED, Store, find_runs
from harness.serve.views import warm

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs",
        nargs="*",
        type=Path,
        metavar="RUN_DIR",
        help="run folders written by evaluate (default: every one under runs/)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}: this machine only)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--cache-dir", type=Path, metavar="CACHE_DIR", help="corpus cache folder")
    parser.add_argument(
        "--lazy",
        action="store_true",
        help="start at once and load each run on its first request (first pages slower)",
    )
    parser.add_argument(
        "--max-fitted",
        type=int,
        default=DEFAULT_MAX_FITTED,
        metavar="N",
        help=f"refitted models kept for generation (default {DEFAULT_MAX_FITTED})",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (0..65535; 0: any free one)")
    if args.max_fitted < 1:
        raise UsageError(f"--max-fitted {args.max_fitted}: must be at least 1")
    reporter = ConsoleReporter()
    store = Store(find_runs(args.run_dirs), cache_dir=args.cache_dir, max_fitted=args.max_fitted)
    if not args.lazy:
        start = time.perf_counter()
        ready = warm(store, reporter)
        took = time.perf_counter() - start
        reporter.note(f"loaded {len(ready)} of {len(store.runs)} run(s) in {took:.1f} s")
    local = args.host in LOCAL_HOSTS
    if not local:
        reporter.warn(f"--host {args.host}: the explorer is reachable from other machines")
    app = create_app(store, allowed_hosts=None if local else ["*"])
    sock = bind(args.host, args.port)  # here, so that a busy port is one line, not a log
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    for name in store.runs:
        reporter.result(f"run {name}: http://{shown}:{port}/runs/{name}")
    reporter.result(f"serving on http://{shown}:{port}/ (Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); OSError (port in use, no such address) as is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
