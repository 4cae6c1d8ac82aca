"""Challenge submission files: write, read, and verify them like the official verifier does.

Format (mpd-facts §3): CSV, plain or gzip. `#` lines and blank lines are ignored and whitespace
around commas is allowed. The first real line is `team_info,<team>,<email>`; the 2018 forms
with the challenge track (`main` or `creative`) are accepted too, as the 2018 verifier accepted
them: the track word second or third (`team_info,main,<team>,<email>`,
`team_info,<team>,main,<email>`), with or without the email (a missing email is a warning). Then one line per challenge playlist:
`pid,track_uri_1,...,track_uri_500`.

`verify_submission` runs every check of the official `verify_submission.py`, with its meaning:
team_info before the first data line; integer pid; pid in the challenge set; exactly 500 tracks;
500 distinct tracks; no seed track of that playlist; track URIs of the form
`spotify:track:<22 characters>` (three `:` fields, as `is_track_uri` there); and the number of
distinct integer pids in the file (challenge pids or not) equal to the number of challenge
playlists. Ours on top: a pid given on two lines and a challenge pid with no line (errors), a
track id that is not base-62 (every real Spotify id is) and track URIs absent from the MPD or the
training data (warnings). It reports every problem with its line number, not just the first one.

Two generations of official rules (`fmt`): "aicrowd" (the current challenge: the header is
`team_info,<team>,<email>`; a 2018 header is read too, with a warning) and "2018" (the RecSys
Challenge 2018 verifier: the header's second or third comma field must be exactly `main` or
`creative`, else it rejects the file). `write_submission(..., team_format="2018")` writes the
2018 header `team_info,main,<team>,<email>`.

The command `verify SUBMISSION --challenge-set challenge_set.json [--known-tracks PARQUET|MPD]
[--format aicrowd|2018]` lives in harness/cli/verify.py.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from harness.atomic import atomic_open
from harness.challenge.verify_inputs import load_challenge_seeds as load_challenge_seeds
from harness.challenge.verify_inputs import load_known_tracks as load_known_tracks
from harness.errors import DataError

N_TRACKS = 500
TRACK_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}")
_ROW_OF_URIS = re.compile(r"(?:spotify:track:[0-9A-Za-z]{22},)*spotify:track:[0-9A-Za-z]{22}")
TRACK_URI_FORM = "spotify:track:<22 characters>"
CHALLENGE_TRACKS = ("main", "creative")  # the 2018 team_info's track word
FORMATS = ("aicrowd", "2018")  # submission generations: their headers and verifier rules
DEFAULT_FORMAT = "aicrowd"
MAX_SHOWN = 20  # issues printed before "... and N more"
# A line holds a pid and 500 URIs of 36 characters: about 19 KB, more with spaces around commas.
# A longer line is not a submission line: refused at once, before it is read whole.
MAX_LINE_BYTES = 256 * 1024


class TeamInfo(NamedTuple):
    team: str
    email: str
    track: str | None  # "main" or "creative" in the 2018 header, else None


@dataclass(frozen=True)
class Issue:
    """One problem, with the line it was found on (None: about the whole file)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass
class Report:
    """What `verify_submission` found. Valid when there are no errors (warnings allowed)."""

    path: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    n_playlists: int = 0  # distinct integer pids of the challenge set found in the file
    team_info: TeamInfo | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self, max_shown: int = MAX_SHOWN) -> str:
        """Errors then warnings, at most `max_shown` of each, with a count of the rest."""
        lines: list[str] = []
        for kind, issues in (("error", self.errors), ("warning", self.warnings)):
            if not issues:
                continue
            lines.append(f"{self.path}: {len(issues)} {kind}{'s' if len(issues) != 1 else ''}")
            lines += [f"  {kind}: {issue}" for issue in issues[:max_shown]]
            if len(issues) > max_shown:
                lines.append(f"  ... and {len(issues) - max_shown} more {kind}s")
        return "\n".join(lines) if lines else f"{self.path}: OK"

    def __str__(self) -> str:
        return self.format()


# ---------------------------------------------------------------------------- writing


def team_info_line(team: str, email: str, team_format: str = DEFAULT_FORMAT) -> str:
    """The header of a submission of generation `team_format` (no newline): AIcrowd's
    `team_info,<team>,<email>` or 2018's `team_info,main,<team>,<email>`."""
    if team_format not in FORMATS:
        raise ValueError(f"team_format {team_format!r}: one of {', '.join(FORMATS)}")
    for name, value in (("team", team), ("email", email)):
        if not value.strip() or any(c in value for c in ",\n\r"):
            raise ValueError(f"{name} {value!r} must be non-empty, without commas or newlines")
    track = "main," if team_format == "2018" else ""
    return f"team_info,{track}{team.strip()},{email.strip()}"


def write_submission(
    path: str | Path,
    pids: Iterable[int],
    recs_uris: Iterable[Sequence[str]],
    team: str,
    email: str,
    team_format: str = DEFAULT_FORMAT,
) -> None:
    """Write a submission atomically (deterministic gzip when the name ends in `.gz`).

    `recs_uris` holds one row of exactly 500 distinct track URIs per pid, best first (a 2-D
    object array works); backfilling short rows is the runner's job, not this function's.
    `team_format` picks the header's generation (`team_info_line`).
    """
    header = team_info_line(team, email, team_format)
    with atomic_open(path, "wb") as out:
        out.write(f"{header}\n".encode())
        for pid, row in zip(pids, recs_uris, strict=True):
            uris = [str(u) for u in row]
            if len(uris) != N_TRACKS or len(set(uris)) != N_TRACKS:
                raise ValueError(
                    f"pid {pid}: {len(uris)} track URIs ({len(set(uris))} distinct); "
                    f"a submission line needs exactly {N_TRACKS} distinct ones"
                )
            out.write(f"{int(pid)},{','.join(uris)}\n".encode())


# ---------------------------------------------------------------------------- parsing


@dataclass
class Parsed:
    """The lines of a submission, split into fields but not yet judged."""

    team_info: TeamInfo | None
    rows: list[tuple[int, str, list[str]]]  # (line number, pid field, track fields)
    errors: list[Issue]  # problems of the file's structure (header, encoding)
    header: tuple[int, str] | None = None  # (line number, the stripped team_info line)
    header_issue: Issue | None = None  # the header matches no accepted form (also in errors)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of a plain or gzip file (detected by its magic bytes); a line
    longer than MAX_LINE_BYTES is a DataError as soon as that many bytes are read."""
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if is_gzip else open(path, "rb") as f:
            lineno = 0
            while line := f.readline(MAX_LINE_BYTES + 1):
                lineno += 1
                if len(line) > MAX_LINE_BYTES:
                    raise DataError(
                        f"{path}: line {lineno}: longer than {MAX_LINE_BYTES:,} bytes (a "
                        f"submission line, a pid and {N_TRACKS} track URIs, is about 19 KB); "
                        "is this a submission file?"
                    )
                yield lineno, line
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: unreadable {'gzip ' if is_gzip else ''}file ({e})") from e


def _team_info(fields: list[str]) -> TeamInfo | None:
    """The header's fields; None when they match none of the accepted forms."""
    rest = fields[1:]
    track = None
    # 2018: the track word (case as there) second or third; with two fields the other one must
    # not look like an email, else it is the current form with a team called "main"
    if len(rest) == 3 or (len(rest) == 2 and not any("@" in f for f in rest)):
        at = [i for i in (0, 1) if rest[i] in CHALLENGE_TRACKS]
        if at:
            track = rest.pop(at[0])
    if track is not None and len(rest) == 1:  # the 2018 verifier needed no email
        rest.append("")
    if len(rest) != 2 or not rest[0]:
        return None
    return TeamInfo(rest[0], rest[1], track) if rest[1] or track else None


def is_track_uri(uri: str) -> bool:
    """The official verifier's test: `spotify:track:` and a 22-character id (no `:`)."""
    return len(uri) == 36 and uri.startswith("spotify:track:") and ":" not in uri[14:]


def parse_submission(path: str | Path) -> Parsed:
    """Split a submission into header and rows, noting structural problems."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    team: TeamInfo | None = None
    seen_header = False
    rows: list[tuple[int, str, list[str]]] = []
    errors: list[Issue] = []
    header: tuple[int, str] | None = None
    header_issue: Issue | None = None
    for lineno, raw in _lines(path):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
        except UnicodeDecodeError as e:
            errors.append(Issue(lineno, f"not UTF-8 text ({e.reason} at byte {e.start})"))
            continue
        if not line or line.startswith("#"):
            continue
        fields = line.split(",")
        if " " in line or "\t" in line:
            fields = [f.strip() for f in fields]
        if fields[0].lower() == "team_info":
            if seen_header or rows:
                errors.append(Issue(lineno, "a second team_info line, or one after the data"))
                continue
            seen_header = True
            header = (lineno, line)
            team = _team_info(fields)
            if team is None:
                header_issue = Issue(
                    lineno,
                    "team_info must read team_info,<team name>,<contact email> (or the "
                    "2018 form with main|creative before or after the team name); got "
                    f"{line[:80]!r}",
                )
                errors.append(header_issue)
            continue
        if not seen_header and not rows:
            errors.append(Issue(lineno, "team_info line missing before the first data line"))
        rows.append((lineno, fields[0], fields[1:]))
    return Parsed(team, rows, errors, header, header_issue)


def read_submission(
    path: str | Path,
) -> tuple[TeamInfo | None, dict[int, list[str]], dict[int, int]]:
    """(team_info, pid -> track URIs, pid -> line number) of a submission.

    Lenient about content (counts, URIs, seeds are `verify_submission`'s business) but not about
    what makes the mapping ambiguous: a non-integer pid or a pid on two lines raises DataError.
    """
    parsed = parse_submission(path)
    recs: dict[int, list[str]] = {}
    lines: dict[int, int] = {}
    for lineno, pid_field, tracks in parsed.rows:
        pid = _int(pid_field)
        if pid is None:
            raise DataError(f"{path}:{lineno}: pid {pid_field!r} is not an integer")
        if pid in recs:
            raise DataError(f"{path}:{lineno}: pid {pid} already given on line {lines[pid]}")
        recs[pid] = tracks
        lines[pid] = lineno
    return parsed.team_info, recs, lines


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- verifying


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(x) for x in items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


@dataclass
class _Tally:
    """What `verify_parsed` gathers over the rows for the whole-file checks."""

    first_line: dict[int, int] = field(default_factory=dict)  # challenge pid -> its line
    found_pids: set[int] = field(default_factory=set)  # every integer pid (the official count)
    not_base62: list[str] = field(default_factory=list)  # the first few
    unknown: list[tuple[int, str]] = field(default_factory=list)  # the first few, with line
    unknown_uris: set[str] = field(default_factory=set)
    n_unknown: int = 0


def official_2018_header(header: str) -> str | None:
    """Why the 2018 verifier rejects this team_info line (None: it accepts it). It splits the
    stripped line on commas, unstripped, and needs field 2 or 3 to be `main` or `creative`."""
    tinfo = header.split(",")
    if len(tinfo) >= 3 and (tinfo[1] in CHALLENGE_TRACKS or tinfo[2] in CHALLENGE_TRACKS):
        return None
    return (
        "the 2018 verifier needs team_info,main,<team name>,<contact email> (or creative; the "
        "track word second or third, exactly, no spaces around it); got "
        f"{header[:80]!r} (evaluate --team-format 2018 writes this form)"
    )


def _check_header(report: Report, parsed: Parsed, fmt: str) -> None:
    """The team_info rules of generation `fmt` (the line's presence is checked by the parser)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if parsed.header is None:
        return
    lineno, line = parsed.header
    if fmt == "2018":
        why = official_2018_header(line)
        if parsed.header_issue is not None and parsed.header_issue in report.errors:
            report.errors.remove(parsed.header_issue)  # the official rule alone decides
            if why is None:
                report.warnings.append(parsed.header_issue)
        if why is not None:
            report.errors.append(Issue(lineno, why))
        return
    if parsed.team_info is not None and parsed.team_info.track is not None:
        report.warnings.append(
            Issue(
                lineno,
                f"team_info in the 2018 form (track {parsed.team_info.track!r}); the current "
                "challenge's form is team_info,<team name>,<contact email>",
            )
        )


def verify_parsed(
    parsed: Parsed,
    seeds: dict[int, frozenset[str]],
    known_uris: Container[str] | None = None,
    path: str = "",
    known_what: str = "the MPD",
    fmt: str = DEFAULT_FORMAT,
) -> Report:
    """Run every check on an already parsed submission (see the module docstring); `fmt` picks
    the generation whose team_info rule applies ("aicrowd" or "2018")."""
    report = Report(path=path, errors=list(parsed.errors), team_info=parsed.team_info)
    if parsed.team_info is None and not parsed.rows and not parsed.errors:
        report.errors.append(Issue(None, "team_info line missing (the file has no content)"))
    _check_header(report, parsed, fmt)
    if parsed.team_info is not None and not parsed.team_info.email:
        report.warnings.append(Issue(None, "team_info has no contact email (2018 form)"))
    tally = _Tally()
    for lineno, pid_field, tracks in parsed.rows:
        _check_row(report, tally, lineno, pid_field, tracks, seeds, known_uris)
    report.n_playlists = len(tally.first_line)
    _check_file(report, tally, seeds, known_what)
    return report


def _check_row(
    report: Report,
    tally: _Tally,
    lineno: int,
    pid_field: str,
    tracks: list[str],
    seeds: dict[int, frozenset[str]],
    known_uris: Container[str] | None,
) -> None:
    """The checks of one line: pid, track count, duplicates, URI form, seeds, known tracks."""
    pid = _int(pid_field)
    if pid is None:
        report.errors.append(Issue(lineno, f"pid {pid_field!r} is not an integer"))
        what = f"pid {pid_field!r}"
    else:
        what = f"pid {pid}"
        tally.found_pids.add(pid)
        if pid not in seeds:
            report.errors.append(Issue(lineno, f"pid {pid} is not in the challenge set"))
        elif pid in tally.first_line:
            report.errors.append(
                Issue(lineno, f"pid {pid} already given on line {tally.first_line[pid]}")
            )
        else:
            tally.first_line[pid] = lineno
    distinct = set(tracks)
    if len(tracks) != N_TRACKS:
        report.errors.append(Issue(lineno, f"{what}: {len(tracks)} tracks, need {N_TRACKS}"))
    if len(distinct) != len(tracks):
        repeated = sorted(t for t, n in Counter(tracks).items() if n > 1)  # linear, not n²
        report.errors.append(
            Issue(
                lineno,
                f"{what}: {len(distinct)} distinct tracks, need {N_TRACKS}; repeated: "
                + _examples(repeated),
            )
        )
    if tracks and not _ROW_OF_URIS.fullmatch(",".join(tracks)):  # one regex call per line
        bad = [t for t in tracks if not is_track_uri(t)]
        if bad:
            message = f"{len(bad)} malformed track URI(s), not {TRACK_URI_FORM}"
            report.errors.append(Issue(lineno, f"{what}: {message}: {_examples(bad)}"))
        odd = [t for t in tracks if is_track_uri(t) and not TRACK_URI.fullmatch(t)]
        tally.not_base62 += odd[: max(0, 3 - len(tally.not_base62))]
    if pid is not None and pid in seeds:
        present = sorted(distinct & seeds[pid])
        if present:
            message = f"{len(present)} seed track(s) of this playlist recommended"
            report.errors.append(Issue(lineno, f"{what}: {message}: {_examples(present)}"))
    if known_uris is not None:
        if isinstance(known_uris, (set, frozenset)):
            candidates: Iterable[str] = distinct.difference(known_uris)
        else:
            candidates = (t for t in distinct if t not in known_uris)
        missing = [t for t in candidates if TRACK_URI.fullmatch(t)]
        tally.n_unknown += len(missing)
        tally.unknown_uris.update(missing)
        tally.unknown += [(lineno, t) for t in sorted(missing)[: 3 - len(tally.unknown)]]


def _check_file(
    report: Report, tally: _Tally, seeds: dict[int, frozenset[str]], known_what: str
) -> None:
    """The whole-file checks: playlist count, challenge pids without a line, and the warnings
    gathered over the rows."""
    absent = [p for p in seeds if p not in tally.first_line]
    if len(tally.found_pids) != len(seeds):
        report.errors.append(
            Issue(
                None,
                f"wrong number of playlists: {len(tally.found_pids)} distinct pids in the file, "
                f"the challenge set has {len(seeds)}",
            )
        )
    if absent:
        named = _examples([str(p) for p in absent])
        report.errors.append(
            Issue(
                None, f"{len(absent)} challenge playlist(s) without a line; missing pids: {named}"
            )
        )
    if tally.not_base62:
        report.warnings.append(
            Issue(
                None,
                f"track ids that are not base-62 (never in the MPD): {_examples(tally.not_base62)}",
            )
        )
    if tally.n_unknown:
        shown = "; ".join(f"line {ln}: {t}" for ln, t in tally.unknown)
        what = (
            f"{tally.n_unknown} recommendation(s), {len(tally.unknown_uris)} distinct track URI(s)"
        )
        report.warnings.append(Issue(None, f"{what}, not in {known_what} ({shown})"))


def verify_submission(
    path: str | Path,
    challenge_set_path: str | Path,
    known_uris: Container[str] | None = None,
    known_what: str = "the MPD",
    fmt: str = DEFAULT_FORMAT,
) -> Report:
    """Check a submission against a challenge set under generation `fmt`'s rules; `known_uris`
    (what they are: `known_what`) enables the unknown-URI warning."""
    seeds = load_challenge_seeds(challenge_set_path)
    return verify_parsed(parse_submission(path), seeds, known_uris, str(path), known_what, fmt)
