"""Tests for harness/serve (`mpd-harness serve`) on a tiny synthetic run.

The JSON endpoints and their error paths run through Starlette's test client (in process); the
pages are driven in headless chromium (Debian's, through Playwright) against the real server,
started by the `serve` command on a free port. The browser tests FAIL, not skip, where chromium or
Playwright is missing: `.ci/run` installs them, and a silent skip would hide a broken page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import harness
from harness.atomic import read_json
from harness.data.corpus import Corpus, normalize_name
from harness.errors import UsageError
from harness.run.rundir import read_recs
from harness.serve import views
from harness.serve.app import create_app
from harness.serve.errors import NotFound
from harness.serve.search import TrackSearch
from harness.serve.store import Store, find_runs

MODELS = ["popular", "title", "knn"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding `runs/tiny` (popular, title, knn on synthetic:tiny, 200 test playlists);
    the tests run in it, since run.json's paths are relative to it."""
    root = tmp_path_factory.mktemp("serve")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MPD_HARNESS_CACHE", str(root / "cache"))
        harness.evaluate(
            data="synthetic:tiny", models=MODELS, out="runs/tiny", per_category=20, coverage="none"
        )
        yield root


@pytest.fixture(scope="module")
def client(workdir: Path) -> Iterator[Any]:
    from starlette.testclient import TestClient

    store = Store(find_runs([]))
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        yield c


def get(client: Any, path: str, status: int = 200, **params: Any) -> Any:
    res = client.get(path, params=params)
    assert res.status_code == status, res.text
    assert "Traceback" not in res.text
    return res.json() if path.startswith("/api/") else res.text


def error(client: Any, path: str, status: int, **params: Any) -> str:
    """The one-line message of an API error (and the page twin answers with the same status)."""
    doc = get(client, path, status, **params)
    assert set(doc) == {"error", "status"} and doc["status"] == status
    assert "\n" not in doc["error"]
    if path.startswith("/api/runs/") and not path.endswith("/tracks"):  # pages have no twin
        page = path.replace("/api/runs", "/runs", 1).removesuffix("/leaderboard")
        go = {"go": "generate"} if page.endswith("/generate") else {}
        assert doc["error"] in _unescape(get(client, page, status, **params, **go))
    return str(doc["error"])


def _unescape(html: str) -> str:
    import html as h

    return h.unescape(html)


# ---------------------------------------------------------------------------- JSON endpoints


def test_runs_lists_the_run(client: Any) -> None:
    runs = get(client, "/api/runs")["runs"]
    assert [r["name"] for r in runs] == ["tiny"]
    assert runs[0]["synthetic"] is True and runs[0]["n_queries"] == 200
    assert "leaderboard.json" in runs[0]["files"]


def test_leaderboard_matches_the_files(client: Any, workdir: Path) -> None:
    doc = get(client, "/api/runs/tiny/leaderboard")
    stored = {e["name"]: e for e in read_json(workdir / "runs/tiny/leaderboard.json")["models"]}
    assert {r["name"] for r in doc["models"]} == set(MODELS)
    assert doc["synthetic"] is True and "synthetic" in doc["caption"]
    for row in doc["models"]:
        for metric in ("r_precision", "ndcg", "clicks"):
            cell = row["metrics"][metric]
            assert cell["lo"] <= cell["mean"] <= cell["hi"]
            assert cell["mean"] == pytest.approx(stored[row["name"]]["overall"][metric])
    assert [r["borda_rank"] for r in doc["models"]] == sorted(
        r["borda_rank"] for r in doc["models"]
    )
    assert [c["category"] for c in doc["categories"]] == list(range(1, 11))


def test_leaderboard_sorts(client: Any) -> None:
    by_name = get(client, "/api/runs/tiny/leaderboard", sort="name")["models"]
    assert [r["name"] for r in by_name] == sorted(MODELS)
    clicks = [
        r["metrics"]["clicks"]["mean"]
        for r in get(client, "/api/runs/tiny/leaderboard", sort="clicks")["models"]
    ]
    assert clicks == sorted(clicks)  # lower is better: best first
    ndcg = get(client, "/api/runs/tiny/leaderboard", sort="ndcg", order="asc")["models"]
    assert [r["metrics"]["ndcg"]["mean"] for r in ndcg] == sorted(
        r["metrics"]["ndcg"]["mean"] for r in ndcg
    )
    assert "sort" in error(client, "/api/runs/tiny/leaderboard", 400, sort="bogus")
    assert "order" in error(client, "/api/runs/tiny/leaderboard", 400, order="up")


def test_playlists_search(client: Any, workdir: Path) -> None:
    cs = read_json(workdir / "runs/tiny/split/challenge_set.json")["playlists"]
    everything = get(client, "/api/runs/tiny/playlists")
    assert everything["total"] == len(cs) == 200 and everything["pages"] == 4
    assert [p["pid"] for p in everything["playlists"]] == [p["pid"] for p in cs[:50]]
    cat4 = get(client, "/api/runs/tiny/playlists", category=4)
    assert cat4["total"] == 20 and {p["category"] for p in cat4["playlists"]} == {4}
    pid = cs[7]["pid"]
    assert [p["pid"] for p in get(client, "/api/runs/tiny/playlists", q=str(pid))["playlists"]] == [
        pid
    ]
    titled = next(p for p in cs if p.get("name"))
    word = titled["name"].split()[0]
    found = get(client, "/api/runs/tiny/playlists", q=word)["playlists"]
    assert titled["pid"] in [p["pid"] for p in found]
    assert all(word.lower() in p["title"].lower() for p in found)
    best = get(client, "/api/runs/tiny/playlists", sort="model:knn")["playlists"]
    values = [p["r_precision"]["knn"] for p in best]
    assert values == sorted(values, reverse=True)  # a model's R-precision: best first
    worst = get(client, "/api/runs/tiny/playlists", sort="model:knn", order="asc", page=4)[
        "playlists"
    ]
    assert values[0] >= max(p["r_precision"]["knn"] for p in worst)
    by_title = get(client, "/api/runs/tiny/playlists", sort="title")["playlists"]
    titles = [normalize_name(p["title"]) for p in by_title]
    assert titles == sorted(titles)  # as the MPD normalises titles
    assert "model:knn" in error(client, "/api/runs/tiny/playlists", 400, sort="bogus")
    assert "sort" in error(client, "/api/runs/tiny/playlists", 400, sort="model:nope")
    assert "category" in error(client, "/api/runs/tiny/playlists", 400, category=11)
    assert "not an integer" in error(client, "/api/runs/tiny/playlists", 400, category="x")
    assert "page" in error(client, "/api/runs/tiny/playlists", 400, page=9)


def test_playlist_shows_the_split_and_the_stored_lists(client: Any, workdir: Path) -> None:
    run = workdir / "runs/tiny"
    cs = read_json(run / "split/challenge_set.json")["playlists"]
    gt = {g["pid"]: g for g in read_json(run / "split/ground_truth.json")["playlists"]}
    corpus = harness.load("synthetic:tiny")
    q = next(p for p in cs if p["num_samples"] == 5)
    doc = get(client, f"/api/runs/tiny/playlists/{q['pid']}", k=500)
    assert [t["uri"] for t in doc["seeds"]] == [t["track_uri"] for t in q["tracks"]]
    holdouts = [h["track_uri"] for h in gt[q["pid"]]["holdouts"]]
    assert [t["uri"] for t in doc["holdouts"]] == holdouts
    for m in doc["models"]:
        pids, recs, _ = read_recs(run / m["name"] / "recs.npz")
        row = recs[list(pids).index(q["pid"])]
        assert [r["uri"] for r in m["recs"]] == [corpus.track_uris[t] for t in row]
        # the marks give back the stored R-precision: hits and artist credits in the first |G|
        top = m["recs"][: len(holdouts)]
        hits = sum(r["hit"] for r in top)
        credited = sum(r["credited"] for r in top)
        assert m["metrics"]["r_precision"] == pytest.approx(
            (hits + 0.25 * credited) / len(set(holdouts))
        )
        assert all(r["hit"] == (r["uri"] in holdouts) for r in m["recs"])
    assert get(client, f"/api/runs/tiny/playlists/{q['pid']}")["k"] == 20


def test_compare(client: Any, workdir: Path) -> None:
    doc = get(client, "/api/runs/tiny/compare", a="knn", b="popular")
    board = get(client, "/api/runs/tiny/leaderboard")["models"]
    means = {r["name"]: r["metrics"]["r_precision"]["mean"] for r in board}
    assert doc["mean_a"] == pytest.approx(means["knn"]) and doc["mean_b"] == pytest.approx(
        means["popular"]
    )
    assert doc["a_better"] + doc["b_better"] + doc["ties"] == 200
    diffs = [e["diff"] for e in doc["a_ahead"]]
    assert diffs == sorted(diffs, reverse=True) and all(d > 0 for d in diffs)
    assert all(e["diff"] < 0 for e in doc["b_ahead"])
    assert 0 <= doc["p"] <= 1
    default = get(client, "/api/runs/tiny/compare")
    assert [default["a"], default["b"]] == [r["name"] for r in board[:2]]
    page = get(client, "/runs/tiny/compare", a="knn", b="popular")
    assert page.count("<a ") > 20 and "/runs/tiny/playlists/" in page  # the chart's points link
    assert "both" in error(client, "/api/runs/tiny/compare", 400, a="knn", b="knn")
    assert "metric" in error(client, "/api/runs/tiny/compare", 400, metric="bogus")


def test_generate_matches_the_library(client: Any, workdir: Path) -> None:
    from harness.run.generate import continue_playlist, refit

    doc = get(client, "/api/runs/tiny/generate", model="knn", title="Rock!", length=6)
    assert doc["title"] == "rock" and len(doc["tracks"]) == 6
    assert doc["refit_check"]["same"] == doc["refit_check"]["compared"] > 0
    fitted = refit(workdir / "runs/tiny", "knn")
    steps = continue_playlist(fitted, [], "rock", 6)
    assert [t["uri"] for t in doc["tracks"]] == [
        fitted.corpus.track_uris[s.track_id] for s in steps
    ]
    seeds = [t["uri"] for t in doc["tracks"][:2]]
    sampled = dict(model="knn", seed_track=seeds, length=5, sample=1, top=10, seed=3)
    one = get(client, "/api/runs/tiny/generate", **sampled)
    assert one == get(client, "/api/runs/tiny/generate", **sampled)  # seeded: reproducible
    assert [t["uri"] for t in one["seeds"]] == seeds
    assert all(t["rank"] <= 10 and 0 < t["probability"] <= 1 for t in one["tracks"])
    assert not set(seeds) & {t["uri"] for t in one["tracks"]}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"model": "knn"}, "title"),
        ({"model": "knn", "title": "rock", "length": 0}, "length"),
        ({"model": "knn", "title": "rock", "length": "many"}, "not an integer"),
        ({"model": "knn", "title": "rock", "temperature": "nan"}, "temperature"),
        ({"model": "knn", "title": "rock", "temperature": 0}, "temperature"),
        ({"model": "knn", "title": "rock", "top": 0}, "top"),
        ({"model": "knn", "title": "rock", "seed": -1}, "seed"),
        ({"model": "knn", "title": "rock", "sample": "maybe"}, "sample"),
        ({"model": "knn", "title": "!!!"}, "title"),
        ({"model": "knn", "seed_track": "spotify:track:nope"}, "seed_track"),
    ],
)
def test_generate_refuses_bad_parameters(client: Any, params: dict[str, Any], words: str) -> None:
    assert words in error(client, "/api/runs/tiny/generate", 400, **params)


def test_track_search(client: Any) -> None:
    corpus = harness.load("synthetic:tiny")
    artist = str(corpus.artist_names[corpus.track_artist[corpus.track_ids[0]]])
    found = get(client, "/api/runs/tiny/tracks", q=artist.upper(), limit=50)["tracks"]
    assert found and all(artist.lower() in (t["name"] + t["artist"]).lower() for t in found)
    counts = [t["count"] for t in found]
    assert counts == sorted(counts, reverse=True)
    assert get(client, "/api/runs/tiny/tracks", q="\t")["tracks"] == []
    assert "limit" in error(client, "/api/runs/tiny/tracks", 400, q="a", limit=0)


def test_track_search_casefolds(fixture_corpus: Corpus) -> None:
    search = TrackSearch(fixture_corpus)
    for t in range(fixture_corpus.n_tracks):
        name = str(fixture_corpus.track_names[t])
        assert t in [m.track_id for m in search.find(name.swapcase(), 100)]
    assert search.find("no such track anywhere", 5) == []


# ---------------------------------------------------------------------------- error paths


def test_unknown_run_pid_model(client: Any) -> None:
    assert "unknown run 'nope'" in error(client, "/api/runs/nope/leaderboard", 404)
    assert "tiny" in error(client, "/api/runs/nope/playlists/1", 404)
    assert "not a test playlist" in error(client, "/api/runs/tiny/playlists/99999999", 404)
    assert "not an integer" in error(client, "/api/runs/tiny/playlists/abc", 400)
    assert "k" in error(client, "/api/runs/tiny/playlists/1", 400, k=0)
    assert "unknown model 'nope'" in error(client, "/api/runs/tiny/compare", 404, a="nope", b="knn")
    assert "knn" in error(client, "/api/runs/tiny/generate", 404, model="nope", title="rock")
    assert get(client, "/runs/tiny/charts/category_nope.svg", 404)
    assert get(client, "/no/such/page", 404)


def test_files_of_the_run_only(client: Any, workdir: Path) -> None:
    run = workdir / "runs/tiny"
    res = client.get("/runs/tiny/files/leaderboard.json")
    assert res.status_code == 200 and res.content == (run / "leaderboard.json").read_bytes()
    (workdir / "secret.txt").write_text("secret")
    (run / "outside").symlink_to(workdir / "secret.txt")
    try:
        for path in (
            "../../secret.txt",
            "..%2F..%2Fsecret.txt",
            "%2e%2e/%2e%2e/secret.txt",
            "%2Fetc%2Fpasswd",
            "..%5C..%5Csecret.txt",
            "outside",
            "split",
            "",
        ):
            res = client.get(f"/runs/tiny/files/{path}")
            assert res.status_code == 404, path
            assert "secret" not in res.text.replace("secret.txt", "") and "root:" not in res.text
        for rel in ("../../secret.txt", "/etc/passwd", "..\\..\\secret.txt", "outside", "."):
            with pytest.raises(NotFound):
                views.run_file(Store([run]), "tiny", rel)
    finally:
        (run / "outside").unlink()


def test_only_local_hosts_and_only_reads(client: Any) -> None:
    assert client.get("/api/runs", headers={"host": "evil.example"}).status_code == 400
    assert client.post("/api/runs").status_code == 405
    assert client.delete("/runs/tiny/files/leaderboard.json").status_code == 405


def test_an_unexpected_failure_is_one_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(views, "runs_doc", boom)
    with TestClient(
        create_app(Store(find_runs([]))), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as c:
        res = c.get("/api/runs")
    assert res.status_code == 500
    assert res.json()["error"] == "internal error: RuntimeError: disk on fire"


def test_find_runs(workdir: Path, tmp_path: Path) -> None:
    assert find_runs([]) == [Path("runs/tiny")]
    with pytest.raises(UsageError, match="not a run folder"):
        find_runs([tmp_path])
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        with pytest.raises(UsageError, match="under runs/"):
            find_runs([])
    twice = Store([Path("runs/tiny"), workdir / "runs" / "tiny"])
    assert list(twice.runs) == ["tiny", "tiny-2"]


def test_fitted_models_are_kept_up_to_max_fitted(workdir: Path) -> None:
    store = Store(find_runs([]), max_fitted=1)
    first = store.generator("tiny", "popular")
    assert store.generator("tiny", "popular") is first  # kept: no second refit
    store.generator("tiny", "title")
    assert store.generator("tiny", "popular") is not first  # dropped for title, refitted
    assert sorted(store.generator_models("tiny")) == sorted(MODELS)


def test_serve_command_refuses_bad_arguments(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["serve", "no/such/run"]) == 2
    assert main(["serve", "runs/tiny", "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no/such/run" in err[0] and "--port 70000" in err[1]


# ---------------------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[str]:
    """`mpd-harness serve runs/tiny --port 0` in a child process; yields its base URL."""
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONHASHSEED="0")
    env["MPD_HARNESS_CACHE"] = str(workdir / "cache")
    cmd = [sys.executable, "-m", "harness", "serve", "runs/tiny", "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, text=True)
    try:
        base = _wait_for_url(proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_url(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    """The URL from the `serving on http://...` line, once the server answers there."""
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    for line in proc.stdout:
        m = re.match(r"serving on (http://\S+?)/ ", line)
        if m:
            base = m.group(1)
            break
        assert time.monotonic() < end, "serve did not start"
    else:
        raise AssertionError(f"serve exited with {proc.wait()} before serving")
    while True:
        try:
            with urllib.request.urlopen(base + "/api/runs", timeout=5) as res:
                assert res.status == 200
                return base
        except OSError:
            assert time.monotonic() < end, "serve does not answer"
            time.sleep(0.2)


def test_real_server_refuses_traversal(server: str, workdir: Path) -> None:
    """Raw requests (no client-side normalisation of `..`) get 404 and nothing of the file."""
    import http.client

    (workdir / "secret.txt").write_text("secret")
    host, port = server.removeprefix("http://").split(":")
    for path in ("../../secret.txt", "..%2F..%2Fsecret.txt", "%2e%2e%2f%2e%2e%2fsecret.txt"):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", f"/runs/tiny/files/{path}")
        res = conn.getresponse()
        body = res.read().decode()
        conn.close()
        assert res.status == 404, path
        assert "secret" not in body.replace("secret.txt", "")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium (Debian's) through Playwright: missing either is a failure."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium not found: apt-get install chromium (.ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def api(server: str, path: str) -> Any:
    with urllib.request.urlopen(server + path, timeout=120) as res:
        return orjson.loads(res.read())


def test_browser_leaderboard(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.click("#runs a:text-is('tiny')")
    page.wait_for_url(server + "/runs/tiny")
    assert page.locator("#synthetic").is_visible()
    names = page.locator("#leaderboard tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == sorted(MODELS)
    assert names == [r["name"] for r in api(server, "/api/runs/tiny/leaderboard")["models"]]
    charts = page.locator("img.chart")
    assert charts.count() == 3
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.click("#leaderboard th a:text-is('model')")
    page.wait_for_url(re.compile(r".*sort=name.*"))
    assert page.locator("#leaderboard tr td:nth-child(2)").all_inner_texts() == sorted(MODELS)


def test_browser_playlist(server: str, page: Any) -> None:
    page.goto(server + "/runs/tiny/playlists?category=5")
    first = page.locator("#playlists tr td:nth-child(3) a").first
    title = first.inner_text()
    page.fill("#search input[name=q]", title)
    page.press("#search input[name=q]", "Enter")
    page.wait_for_url(re.compile(r".*q=.*"))
    page.locator("#playlists tr td:nth-child(1) a").first.click()
    page.wait_for_url(re.compile(r".*/runs/tiny/playlists/\d+$"))
    pid = int(page.url.rsplit("/", 1)[1])
    assert page.inner_text("#title") == f"pid {pid}: “{title}”"
    assert page.inner_text("#category") == "5: title + first 10"
    doc = api(server, f"/api/runs/tiny/playlists/{pid}")
    for m in doc["models"]:
        table = page.locator(f"#recs-{m['name']}")
        assert table.locator("tr").count() == 21  # header + top 20
        assert table.locator("tr.hit").count() == sum(r["hit"] for r in m["recs"])
        assert (
            table.locator("tr td:nth-child(2)").first.inner_text().startswith(m["recs"][0]["name"])
        )
    assert (
        page.locator("#seeds tr").count() == 11
        and page.locator("#holdouts tr").count() == len(doc["holdouts"]) + 1
    )


def test_browser_generate_from_a_title(server: str, page: Any) -> None:
    page.goto(server + "/runs/tiny/generate")
    page.fill("#title", "Road Trip")
    page.select_option("#model", "knn")
    page.click("#go")
    page.wait_for_selector("#result")
    assert page.inner_text("#result-title") == "“road trip” continued by knn"
    cells = page.locator("#result tr td:nth-child(2) span[title]")
    want = api(server, "/api/runs/tiny/generate?model=knn&title=Road+Trip")["tracks"]
    assert cells.count() == len(want) == 20
    assert [cells.nth(i).get_attribute("title") for i in range(20)] == [t["uri"] for t in want]


def test_browser_seed_completion(server: str, page: Any) -> None:
    page.goto(server + "/runs/tiny/generate")
    artist = api(server, "/api/runs/tiny/tracks?q=a&limit=1")["tracks"][0]["artist"]
    page.locator("#add").press_sequentially(artist[:6], delay=30)
    page.wait_for_function("document.querySelectorAll('#track-options option').length > 0")
    uri = page.locator("#track-options option").first.get_attribute("value")
    assert uri is not None and uri.startswith("spotify:track:")
    page.fill("#add", uri)
    page.click("button[value=add]")
    page.wait_for_selector("#seeds li")
    assert page.locator("#seeds input[name=seed_track]").get_attribute("value") == uri
    page.click("#go")
    page.wait_for_selector("#result")
    assert page.locator("#result tr.seedrow").count() == 1


def test_browser_compare_links_to_playlists(server: str, page: Any) -> None:
    page.goto(server + "/runs/tiny/compare?a=knn&b=popular")
    assert "knn better on" in page.inner_text("#summary")
    assert page.locator("#chart svg a").count() > 0  # the marked points are links
    link = page.locator("#a-ahead tr td:nth-child(1) a").first
    pid = link.inner_text()
    link.click()
    page.wait_for_url(server + f"/runs/tiny/playlists/{pid}")
    assert page.inner_text("#title").startswith(f"pid {pid}:")


def test_a_run_that_cannot_load_is_named_and_the_others_served(
    workdir: Path, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from harness.progress import Recorder
    from harness.serve.views import warm

    moved = tmp_path / "moved"
    shutil.copytree(workdir / "runs/tiny", moved)
    run = read_json(moved / "run.json")
    run["data"].update(path="no/such/data", fingerprint="other")  # not tiny's corpus
    (moved / "run.json").write_bytes(orjson.dumps(run))
    store = Store([Path("runs/tiny"), moved])
    recorder = Recorder()
    assert warm(store, recorder) == ["tiny"]
    (warning,) = recorder.texts("warn")
    assert (
        warning.startswith("run moved: data no/such/data of run") and "start the server" in warning
    )
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        assert get(c, "/api/runs/tiny/playlists")["total"] == 200
        doc = get(c, "/api/runs/moved/playlists", 500)
        assert doc["error"] in warning
