"""The shape of the tree, read from the source with `ast`: the rules docs/architecture.md states.

Each rule is one test that lists every place breaking it, so a failure says what to move.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("harness", "models")
MAX_LINES = 500
LEAVES = ("harness.types", "harness.errors", "harness.progress", "harness.challenge.metrics")
OUTPUT_MODULES = ("rich.console", "rich.progress", "rich.live", "rich.status")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_files() -> dict[str, Path]:
    """Module name -> file, for every Python file of the product (harness/, models/)."""
    return {module_name(p): p for top in PRODUCT for p in sorted((ROOT / top).rglob("*.py"))}


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def ours(name: str) -> bool:
    return name.split(".")[0] in PRODUCT


def resolve(name: str) -> str:
    """The longest prefix of a dotted name that is one of our modules."""
    modules = product_files()
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return name


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of ours in the file, at any depth (lazy ones too)."""
    out: list[tuple[int, str]] = []
    here = module_name(path)
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, resolve(a.name)) for a in node.names if ours(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                pkg = here.split(".")
                if path.name != "__init__.py":
                    pkg = pkg[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            if not ours(base):
                continue
            for alias in node.names:  # `from harness.data import corpus` names a module
                out.append((node.lineno, resolve(f"{base}.{alias.name}")))
    return out


def graph() -> dict[str, set[str]]:
    files = product_files()
    return {
        name: {m for _, m in imports(path) if m in files and m != name}
        for name, path in files.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (iterative DFS, three colours)."""
    colour = dict.fromkeys(edges, 0)
    for start in sorted(edges):
        if colour[start]:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(edges[start]))]
        path = [start]
        colour[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if colour[nxt] == 1:
                return path[path.index(nxt) :] + [nxt]
            if colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(edges[nxt])))
    return None


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_the_rules_see_the_tree() -> None:
    """Guard against a vacuous pass: the walker finds the packages and their imports."""
    files = product_files()
    for name in ("harness.data.corpus", "harness.challenge.metrics", "harness.run", "models.base"):
        assert name in files
    assert "harness.types" in graph()["models.base"]


def test_no_import_cycle() -> None:
    assert find_cycle(graph()) is None, f"import cycle: {' -> '.join(find_cycle(graph()) or [])}"


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaves_import_nothing_of_ours(leaf: str) -> None:
    path = product_files()[leaf]
    assert imports(path) == [], f"{leaf} must import no module of ours: {imports(path)}"


def test_only_the_cli_imports_the_cli() -> None:
    bad = [
        f"{where(path, line)} imports {m}"
        for name, path in product_files().items()
        if not (name.startswith("harness.cli") or name == "harness.__main__")
        for line, m in imports(path)
        if m == "harness.cli" or m.startswith("harness.cli.")
    ]
    assert not bad, "only harness/cli/ may import harness.cli:\n" + "\n".join(bad)


def test_models_import_only_types_and_errors_from_harness() -> None:
    allowed = {"harness.types", "harness.errors"}
    bad = [
        f"{where(path, line)} imports {m}"
        for name, path in product_files().items()
        if name.startswith("models")
        for line, m in imports(path)
        if m.startswith("harness") and m not in allowed
    ]
    assert not bad, "models may import only harness.types and harness.errors:\n" + "\n".join(bad)


def output_calls(path: Path) -> list[tuple[int, str]]:
    """print(), sys.stdout/sys.stderr, and Rich console or progress imports in one file."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "breakpoint"):
                out.append((node.lineno, f"{node.func.id}()"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "sys" and node.attr in ("stdout", "stderr"):
                out.append((node.lineno, f"sys.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "") in OUTPUT_MODULES:
            out.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name in OUTPUT_MODULES]
    return out


def test_no_output_outside_the_cli() -> None:
    bad = [
        f"{where(path, line)}: {what}"
        for name, path in product_files().items()
        if not (name.startswith("harness.cli") or name == "harness.__main__")
        for line, what in output_calls(path)
    ]
    assert not bad, "only harness/cli/ prints (library code takes a Reporter):\n" + "\n".join(bad)


def test_output_check_catches_a_print(tmp_path: Path) -> None:
    path = ROOT / "harness" / "cli" / "__init__.py"  # the CLI does print
    assert output_calls(path)


def test_files_are_short() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in product_files().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, f"files over {MAX_LINES} lines:\n" + "\n".join(long)


def env_reads(path: Path) -> list[tuple[int, str]]:
    """Environment variables read by name: os.environ[...], os.environ.get(...), os.getenv(...)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(parsed(path)):
        arg: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            f = node.func
            env_get = f.attr == "get" and isinstance(f.value, ast.Attribute)
            env_get = env_get and getattr(f.value, "attr", "") == "environ"
            if env_get or (f.attr == "getenv" and getattr(f.value, "id", "") == "os"):
                arg = node.args[0]
        elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "environ":
            arg = node.slice
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.append((node.lineno, arg.value))
    return out


def test_no_environment_test_hooks() -> None:
    bad = [
        f"{where(path, line)} reads ${var}"
        for path in product_files().values()
        for line, var in env_reads(path)
        if "TEST" in var.upper()
    ]
    assert "harness.testhooks" not in product_files(), "harness/testhooks.py: use fixtures"
    assert not bad, "test hooks belong in the tests (fixtures, monkeypatch):\n" + "\n".join(bad)


WEB_STACK = ("starlette", "uvicorn", "jinja2")
# Path methods that change files (Path.replace is left out: str.replace and dataclasses.replace
# share its name; os.replace is caught through the os module below)
WRITE_CALLS = ("write_text", "write_bytes", "unlink", "mkdir", "rmdir", "rename", "touch")
FILE_MODULES = ("os", "shutil")


def test_only_the_cli_imports_the_web_explorer() -> None:
    """harness/serve is the last stage: only the `serve` command starts it."""
    bad = [
        f"{where(path, line)} imports {m}"
        for name, path in product_files().items()
        if not (name.startswith("harness.serve") or name == "harness.cli.serve")
        for line, m in imports(path)
        if m == "harness.serve" or m.startswith("harness.serve.")
    ]
    assert not bad, "only harness/cli/serve.py may import harness.serve:\n" + "\n".join(bad)


def third_party_imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module.split(".")[0]))
    return out


def test_the_web_stack_stays_in_serve() -> None:
    bad = [
        f"{where(path, line)} imports {m}"
        for name, path in product_files().items()
        if not (name.startswith("harness.serve") or name == "harness.cli.serve")
        for line, m in third_party_imports(path)
        if m in WEB_STACK
    ]
    assert not bad, "starlette, uvicorn and jinja2 belong to harness/serve:\n" + "\n".join(bad)


def writes(path: Path) -> list[tuple[int, str]]:
    """Calls that change files: open() for writing, Path.write_*/unlink/..., our write helpers."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(parsed(path)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name == "open":
            modes = [a for a in node.args[1:2]] + [
                k.value for k in node.keywords if k.arg == "mode"
            ]
            if any(isinstance(m, ast.Constant) and set(str(m.value)) & set("wax+") for m in modes):
                out.append((node.lineno, "open() for writing"))
        elif name in WRITE_CALLS or name.startswith(("write_", "atomic")):
            out.append((node.lineno, f"{name}()"))
        elif isinstance(f, ast.Attribute) and getattr(f.value, "id", "") in FILE_MODULES:
            if f.attr not in ("fspath", "getcwd", "listdir", "scandir", "stat", "walk"):
                out.append((node.lineno, f"{getattr(f.value, 'id', '')}.{f.attr}()"))
    return out


def test_the_web_explorer_only_reads() -> None:
    bad = [
        f"{where(path, line)}: {what}"
        for name, path in product_files().items()
        if name.startswith("harness.serve")
        for line, what in writes(path)
    ]
    assert not bad, "harness/serve serves runs read-only:\n" + "\n".join(bad)


def test_write_check_catches_a_write() -> None:
    assert writes(ROOT / "harness" / "atomic.py")  # the write helpers themselves do write
