"""Finding the user's tests that exercise one function.

A test file is kept when its AST shows that it imports the function's module
(or a package that re-exports it) and uses the function: `from pkg.mod import
f`, `import pkg.mod as m` ... `m.f`, `from pkg import mod` ... `mod.f`, relative
imports included. For a method "Class.method" the class stands for it.
Text search is not used: a comment or a string naming the function is no test.
"""

from __future__ import annotations

import ast
import configparser
import functools
import glob
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .executor import TestSelection
from .files import NOT_SEARCHED_FOR_TESTS


class NoTestsFound(Exception):
    """No test file could be tied to the function; the message says where we looked."""


# The message's last sentence, in the CLI's words (the language server puts its setting instead).
CLI_HINT = "Pass --test-paths PATH to choose the tests, or --no-tests to run without them."


def discover_tests(
    project_root: Path,
    file: Path,
    function: str,
    test_paths: list[str] | None = None,
    keyword: str | None = None,
) -> TestSelection:
    """The test files (relative to `project_root`) that exercise `function` of `file`.

    `test_paths` (files or directories, relative to the root or absolute)
    replace the project's configured testpaths; a file named there is taken
    as it is, a directory is searched. A test file is chosen when it uses the
    function itself, a fixture (conftest.py) that does, or a helper module of
    the tests that does; the module's own doctests are chosen when the
    project's pytest options run doctests. `reasons` says why for each.
    Raises `NoTestsFound` when none match.
    """
    root = project_root.resolve()
    file = file.resolve()
    target = _Target.of(root, file, function)
    explicit_files: list[Path] = []
    search_dirs: list[Path] = []
    for path in _search_paths(root, test_paths):
        if path.is_file():
            (explicit_files if test_paths else search_dirs).append(path)
        elif path.is_dir():
            search_dirs.append(path)

    reasons: dict[Path, str] = {path: "named with the test paths" for path in explicit_files}
    candidates = [p for d in search_dirs for p in _test_files_under(d) if p != file]
    helpers = _helpers_that_use(target, root, search_dirs, file)
    fixtures = _fixtures_that_use(target, root, search_dirs, file)
    callers = _callers_of(target, root, file)
    for candidate in candidates:
        why = _why_chosen(target, root, candidate, helpers, fixtures) or _why_through_callers(root, candidate, callers)
        if why and candidate not in reasons:
            reasons[candidate] = why
    if target.has_doctests and "--doctest-modules" in configured_addopts(root) and file not in reasons:
        reasons[file] = "the module's doctests (the project's pytest options run --doctest-modules)"
    if not reasons:
        where = ", ".join(_shown(root, d) for d in search_dirs) or "(no existing test path)"
        raise NoTestsFound(
            f"no tests found for {function!r} ({target.display_module}): looked at {len(candidates)} "
            f"test file(s) (test_*.py, *_test.py) under {where}, and none imports "
            f"{target.display_module} and uses {target.name!r}, directly, through a conftest fixture or "
            f"through a helper module. "
            f"{CLI_HINT}"
        )
    chosen = sorted(reasons, key=lambda p: str(_relative(root, p)))
    return TestSelection(
        test_files=[_relative(root, p) for p in chosen],
        keyword=keyword,
        reasons={str(_relative(root, p)): reasons[p] for p in chosen},
    )


def _why_chosen(
    target: _Target, root: Path, test_file: Path, helpers: dict[str, Path], fixtures: dict[Path, dict[str, str]]
) -> str:
    tree = _parse(test_file)
    if tree is None:
        return ""
    benchmark = (
        " (its tests that use pytest-benchmark's `benchmark` fixture are left out: a workload, not a check)"
        if _uses_benchmark(tree)
        else ""
    )
    if target.used_by(tree, _package_import_name(test_file)):
        return f"imports {target.display_module} and uses {target.name}" + benchmark
    calls_method = target.method is None or _mentions_attribute(tree, target.method)
    for module, helper in helpers.items():
        if calls_method and _imports_module(tree, module, _package_import_name(test_file)):
            return f"imports the helper {_relative(root, helper)}, which uses {target.name}" + benchmark
    requested = _requested_fixtures(tree)
    for conftest, reaching in fixtures.items():
        if not test_file.resolve().is_relative_to(conftest.parent.resolve()):
            continue
        for name, kind in reaching.items():
            if calls_method and (kind == "autouse" or name in requested):
                how = "the autouse fixture" if kind == "autouse" else "the fixture"
                return f"uses {how} {name} of {_relative(root, conftest)}, which uses {target.name}" + benchmark
    return ""


_MAX_PROJECT_FILES = 2000  # modules read to find the project's own callers of the function


def _callers_of(target: _Target, root: Path, file: Path) -> list[tuple[_Target, Path]]:
    """Module-level functions and classes elsewhere in the project that use the target:
    tests of those test it too (toolz's `countby` calls `frequencies`; only
    test_recipes.py catches a `frequencies` that fails on iterators)."""
    callers: list[tuple[_Target, Path]] = []
    for path in _python_files_under(root)[:_MAX_PROJECT_FILES]:
        if path.name == "conftest.py" or _is_test_file(path.name) or "tests" in path.parts[len(root.parts) :]:
            continue
        tree = _parse(path)
        if tree is None:
            continue
        # In its own module the function is a plain name (`def frequencies` beside `def countby`).
        bound = {target.name: ""} if path == file else target.bound_names(tree, _package_import_name(path))
        if not bound:
            continue
        for node in tree.body:
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and not node.name.startswith("_")
                and node.name != target.name
                and target.reached_in(node, bound)
            ):
                callers.append((_Target.of(root, path, node.name), path))
    return callers


def _why_through_callers(root: Path, test_file: Path, callers: list[tuple[_Target, Path]]) -> str:
    tree = _parse(test_file)
    if tree is None:
        return ""
    for caller, path in callers:
        if caller.used_by(tree, _package_import_name(test_file)):
            return f"uses {caller.name} of {_relative(root, path)}, which calls the function"
    return ""


def _parse(path: Path) -> ast.Module | None:
    """The file's syntax tree; read once per discovery however many questions ask for it."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _parse_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _parse_cached(path: str, _mtime_ns: int, _size: int) -> ast.Module | None:
    try:
        return ast.parse(Path(path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError):
        return None


def _helpers_that_use(target: _Target, root: Path, search_dirs: list[Path], file: Path) -> dict[str, Path]:
    """Modules among the tests (not tests, not conftest) that use the target: their dotted names."""
    found: dict[str, Path] = {}
    for directory in search_dirs:
        for path in _python_files_under(directory):
            name = path.name
            if path == file or name == "conftest.py" or _is_test_file(name) or name == "__init__.py":
                continue
            if not path.resolve().is_relative_to(root) or not any(
                part.startswith("test") for part in path.resolve().relative_to(root).parts[:-1]
            ):
                continue  # the project's own modules, not the tests' helpers: see _callers_of
            tree = _parse(path)
            if tree is not None and target.used_by(tree, _package_import_name(path)):
                found[_package_import_name(path) or path.stem] = path
    return found


def _fixtures_that_use(target: _Target, root: Path, search_dirs: list[Path], file: Path) -> dict[Path, dict[str, str]]:
    """conftest.py -> {fixture name: "autouse" | "fixture"} for fixtures that reach the target,
    directly or through another fixture of the same file."""
    conftests = {c.resolve() for d in search_dirs for c in _python_files_under(d) if c.name == "conftest.py"}
    # pytest also reads the conftest.py of every folder from the root down to a test path.
    for directory in search_dirs:
        for above in [directory.resolve(), *directory.resolve().parents]:
            if not above.is_relative_to(root):
                break
            if (above / "conftest.py").is_file():
                conftests.add(above / "conftest.py")
    found: dict[Path, dict[str, str]] = {}
    for conftest in sorted(conftests):
        tree = _parse(conftest)
        if tree is None:
            continue
        names = target.bound_names(tree, _package_import_name(conftest))
        if not names:
            continue
        defined = {
            node.name: node
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _fixture_options(node) is not None
        }
        reaching = {name for name, node in defined.items() if target.reached_in(node, names, plugs_module=True)}
        changed = True
        while changed:  # a fixture that requests one that reaches the target reaches it too
            changed = False
            for name, node in defined.items():
                if name not in reaching and {a.arg for a in node.args.args} & reaching:
                    reaching.add(name)
                    changed = True
        if reaching:
            found[conftest] = {
                name: "autouse" if (_fixture_options(defined[name]) or {}).get("autouse") else "fixture"
                for name in sorted(reaching)
            }
    return found


def _fixture_options(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, object] | None:
    """The keyword options of its @pytest.fixture decorator, or None when it is no fixture."""
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        named = _dotted(call.func if call else decorator) or ""
        if named.split(".")[-1] in ("fixture", "yield_fixture"):
            options: dict[str, object] = {}
            for keyword in call.keywords if call else []:
                if keyword.arg and isinstance(keyword.value, ast.Constant):
                    options[keyword.arg] = keyword.value.value
            return options
    return None


def _requested_fixtures(tree: ast.Module) -> set[str]:
    """Fixture names the file's tests (and its own fixtures) request: parameters and usefixtures marks."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names |= {a.arg for a in node.args.args + node.args.kwonlyargs}
        elif isinstance(node, ast.Call) and (_dotted(node.func) or "").endswith("usefixtures"):
            names |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return names


def _uses_benchmark(tree: ast.Module) -> bool:
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
        and "benchmark" in {a.arg for a in node.args.args}
        for node in ast.walk(tree)
    )


def _mentions_attribute(tree: ast.Module, name: str) -> bool:
    return any(isinstance(node, ast.Attribute) and node.attr == name for node in ast.walk(tree))


def _imports_module(tree: ast.Module, module: str, own_module: str) -> bool:
    """Whether the file imports `module` (absolutely, relatively, or as `from package import module`)."""
    last = module.split(".")[-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name == module or alias.name.split(".")[-1] == last for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            source = _absolute_source(node, own_module)
            if source == module or source.split(".")[-1] == last:
                return True
            if any(f"{source}.{alias.name}" == module or (not source and alias.name == last) for alias in node.names):
                return True
    return False


def configured_addopts(root: Path) -> list[str]:
    """`addopts` from the first pytest configuration pytest itself would read, split into arguments."""
    value = _configured_option(root, "addopts")
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(value) if isinstance(value, str) else []


def module_import_name(project_root: Path, file: Path) -> str:
    """How the project imports `file`: "pkg.mod" for root/pkg/mod.py or root/src/pkg/mod.py."""
    parts = list(file.resolve().relative_to(project_root.resolve()).with_suffix("").parts)
    if len(parts) > 1 and parts[0] == "src":
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_names(project_root: Path, file: Path) -> list[str]:
    """Every dotted name the project may import `file` by."""
    names = {module_import_name(project_root, file)}
    if (file.resolve().parent / "__init__.py").is_file():  # in a regular package: also by its package name
        names.add(_package_import_name(file.resolve()))
    return sorted(names - {""})


def import_roots(project_root: Path, relative_file: Path) -> list[Path]:
    """Where the project's modules import from, relative to its root: the root
    itself, `src/` when there is one, and the folder above the module's
    outermost package (`lib/` for lib/pkg/mod.py with pkg/__init__.py)."""
    roots = [Path(".")]
    if (project_root / "src").is_dir():
        roots.append(Path("src"))
    directory = (project_root / relative_file).parent
    if not (directory / "__init__.py").is_file():
        return roots  # not in a regular package: its own folder on the path could shadow the standard library
    while (directory / "__init__.py").is_file() and directory != project_root:
        directory = directory.parent
    if directory.is_relative_to(project_root):
        root = directory.relative_to(project_root)
        if root not in roots:
            roots.append(root)
    return roots


def _package_import_name(file: Path) -> str:
    """The name by the enclosing packages (directories with __init__.py)."""
    parts = [] if file.name == "__init__.py" else [file.stem]
    directory = file.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)


@dataclass
class _Target:
    module_names: set[str]  # every name the module may be imported by
    packages: set[str]  # packages that contain it (a test may import a re-export)
    name: str  # the name a test uses: the function, or the class of a method
    method: str | None  # for "Class.method": the method, which the test must call too
    display_module: str
    has_doctests: bool = False

    @classmethod
    def of(cls, root: Path, file: Path, function: str) -> _Target:
        names = set(module_names(root, file))
        packages = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
        parts = function.split(".")
        return cls(
            names,
            packages - names,
            parts[0],
            parts[1] if len(parts) > 1 else None,
            module_import_name(root, file),
            _has_doctests(file, function),
        )

    def bound_names(self, tree: ast.Module, own_module: str) -> dict[str, str]:
        """Local names bound to the target itself ("" as value) or to its module or a package of it."""
        bound: dict[str, str] = {}
        related = self.module_names | self.packages
        tops = {n.split(".")[0] for n in related}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in related:
                        bound[alias.asname] = alias.name
                    elif not alias.asname and alias.name.split(".")[0] in tops:
                        top = alias.name.split(".")[0]
                        bound[top] = top  # `import pkg.mod` binds "pkg"
            elif isinstance(node, ast.ImportFrom):
                source = _absolute_source(node, own_module)
                if source not in related:
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        if source in self.module_names:
                            bound[self.name] = ""
                    elif alias.name == self.name:
                        bound[alias.asname or alias.name] = ""  # `from pkg.mod import f` (or a re-export)
                    elif f"{source}.{alias.name}" in related:
                        bound[alias.asname or alias.name] = f"{source}.{alias.name}"
        return bound

    def reached_in(self, scope: ast.AST, bound: dict[str, str], plugs_module: bool = False) -> bool:
        """Whether code in `scope` uses the target through the names `bound`.

        The function (or class) by its own bound name; or its module, bound to a
        name that the code uses, with `.name` somewhere in it (directly as
        `mod.f`, or through a variable: `m = request.param; m.f`). For a method,
        the code must also call `.method`. With `plugs_module` (a fixture), using the
        module itself is enough: such fixtures hand the module to the tests.
        """
        loaded = {node.id for node in ast.walk(scope) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        attributes = {node.attr for node in ast.walk(scope) if isinstance(node, ast.Attribute)}
        if self.method is not None and self.method not in attributes:
            return False
        if any(value == "" and name in loaded for name, value in bound.items()):
            return True
        if plugs_module and any(value in self.module_names and name in loaded for name, value in bound.items()):
            return True
        return self.name in attributes and any(value and name in loaded for name, value in bound.items())

    def used_by(self, tree: ast.Module, own_module: str) -> bool:
        bound = self.bound_names(tree, own_module)
        return bool(bound) and self.reached_in(tree, bound)

    def is_used_by(self, root: Path, test_file: Path) -> bool:
        tree = _parse(test_file)
        return tree is not None and self.used_by(tree, _package_import_name(test_file))


def _has_doctests(file: Path, function: str) -> bool:
    """Whether the module holds doctests (the function's own, or its callers' in the module)."""
    tree = _parse(file)
    if tree is None:
        return False
    return any(
        ">>>" in (ast.get_docstring(node) or "")
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )


def _absolute_source(node: ast.ImportFrom, test_module: str) -> str:
    """The module a `from ... import` reads, with relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = test_module.split(".")[:-1]  # the test module's own package
    if node.level - 1 > len(package):
        return ""
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _search_paths(root: Path, test_paths: list[str] | None) -> list[Path]:
    if test_paths:
        return [p if p.is_absolute() else root / p for p in map(Path, test_paths)]
    configured = configured_testpaths(root)
    if not configured:
        return [root]
    paths = []
    for pattern in configured:
        matches = sorted(glob.glob(os.path.join(root, pattern), recursive=True))
        paths += [Path(m) for m in matches] if matches else []
    return paths or [root]


def configured_testpaths(root: Path) -> list[str]:
    """`testpaths` from the first pytest configuration pytest itself would read."""
    value = _configured_option(root, "testpaths")
    if isinstance(value, list):
        return [str(v) for v in value]
    return value.split() if isinstance(value, str) else []


def _configured_option(root: Path, key: str) -> str | list[Any] | None:
    """An ini option (raw) from the first pytest configuration pytest itself would read."""
    for name, section in (
        ("pytest.ini", "pytest"),
        (".pytest.ini", "pytest"),
        ("pyproject.toml", None),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        path = root / name
        if not path.is_file():
            continue
        options = _pyproject_options(path) if section is None else _ini_options(path, section)
        if options is not None:
            return options.get(key)
    return None


def _ini_options(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(section):
        return None  # pytest skips a file without its section
    return dict(parser.items(section))


def _pyproject_options(path: Path) -> dict[str, Any] | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    pytest_table = data.get("tool", {}).get("pytest")
    if not isinstance(pytest_table, dict):
        return None
    options: dict[str, Any] = pytest_table.get("ini_options", pytest_table)  # [tool.pytest] is pytest 9's native table
    return options


def _is_test_file(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _python_files_under(directory: Path) -> list[Path]:
    found = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in NOT_SEARCHED_FOR_TESTS
            and not d.startswith(".")
            and not os.path.isfile(os.path.join(current, d, "pyvenv.cfg"))
        )
        found += [Path(current, f) for f in sorted(filenames) if f.endswith(".py")]
    return found


def _test_files_under(directory: Path) -> list[Path]:
    return [path for path in _python_files_under(directory) if _is_test_file(path.name)]


def _relative(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    return resolved.relative_to(root) if resolved.is_relative_to(root) else resolved


def _shown(root: Path, path: Path) -> str:
    relative = _relative(root, path)
    return str(relative) if str(relative) != "." else f"the project root ({root})"
