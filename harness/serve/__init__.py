"""Stage 6, the web explorer (`mpd-harness serve`): runs, playlists and playlist generation in a
browser, from the run folders' files (read-only) through the run and report packages.

- `store`: the runs served and what has been loaded of each (lazily, once, shared by requests);
- `search`: completion over track and artist names;
- `views`, `playlists`, `compose`: the JSON-ready documents behind each page (pure functions of the
  store and the request's parameters); `charts`: the SVG figures;
- `app`: the Starlette application (routes, templates, errors -> 4xx pages); the CLI
  (`harness/cli/serve.py`) parses the arguments and runs it under uvicorn.

Imports go one way: app -> compose -> playlists -> views -> charts, store -> search; under them
the run and report packages.
"""
