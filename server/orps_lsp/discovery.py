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
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .executor import TestSelection

SKIPPED_DIRS = frozenset(
    {".venv", "venv", "node_modules", ".git", "build", "dist", "site-packages", "__pycache__",
     ".tox", ".nox", ".pytest_cache", ".mypy_cache", ".orps-cache"}
)


class NoTestsFound(Exception):
    """No test file could be tied to the function; the message says where we looked."""


# The message's last sentence, in the CLI's words (the language server puts its setting instead).
CLI_HINT = "Pass --tests PATH to choose the tests, or --no-tests to run without them."


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
    as it is, a directory is searched. Raises `NoTestsFound` when none match.
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

    found = set(explicit_files)
    candidates = [p for d in search_dirs for p in _test_files_under(d)]
    for candidate in candidates:
        if candidate != file and target.is_used_by(root, candidate):
            found.add(candidate)
    if not found:
        where = ", ".join(_shown(root, d) for d in search_dirs) or "(no existing test path)"
        raise NoTestsFound(
            f"no tests found for {function!r} ({target.display_module}): looked at {len(candidates)} "
            f"test file(s) (test_*.py, *_test.py) under {where}, and none imports "
            f"{target.display_module} and uses {target.name!r}. "
            f"{CLI_HINT}"
        )
    return TestSelection(test_files=sorted(_relative(root, p) for p in found), keyword=keyword)


def module_import_name(project_root: Path, file: Path) -> str:
    """How the project imports `file`: "pkg.mod" for root/pkg/mod.py or root/src/pkg/mod.py."""
    parts = list(file.resolve().relative_to(project_root.resolve()).with_suffix("").parts)
    if len(parts) > 1 and parts[0] == "src":
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


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
    display_module: str

    @classmethod
    def of(cls, root: Path, file: Path, function: str) -> _Target:
        names = {module_import_name(root, file), _package_import_name(file)} - {""}
        packages = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
        return cls(names, packages - names, function.split(".")[0], module_import_name(root, file))

    def is_used_by(self, root: Path, test_file: Path) -> bool:
        try:
            tree = ast.parse(test_file.read_bytes(), filename=str(test_file))
        except (SyntaxError, ValueError, OSError):
            return False
        test_module = _package_import_name(test_file)
        bindings: dict[str, str] = {}  # local name -> the target module or a package of it
        star_import = False
        related = self.module_names | self.packages
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in related:
                        bindings[alias.asname] = alias.name
                    elif not alias.asname and alias.name.split(".")[0] in {n.split(".")[0] for n in related}:
                        top = alias.name.split(".")[0]
                        bindings[top] = top  # `import pkg.mod` binds "pkg"
            elif isinstance(node, ast.ImportFrom):
                source = _absolute_source(node, test_module)
                if source not in related:
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        star_import = star_import or source in self.module_names
                    elif alias.name == self.name:
                        return True  # `from pkg.mod import f` (or a package's re-export)
                    elif f"{source}.{alias.name}" in related:
                        bindings[alias.asname or alias.name] = f"{source}.{alias.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == self.name:
                if self._resolves_to_module(_dotted(node.value), bindings):
                    return True
            elif star_import and isinstance(node, ast.Name) and node.id == self.name:
                return True
        return False

    def _resolves_to_module(self, dotted: str | None, bindings: dict[str, str]) -> bool:
        if not dotted:
            return False
        head, _, rest = dotted.partition(".")
        if head not in bindings:
            return False
        absolute = bindings[head] + ("." + rest if rest else "")
        return absolute in self.module_names or absolute in self.packages


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
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("pyproject.toml", None),
                          ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if not path.is_file():
            continue
        if section is None:
            found = _pyproject_testpaths(path)
        else:
            found = _ini_testpaths(path, section)
        if found is not None:
            return found
    return []


def _ini_testpaths(path: Path, section: str) -> list[str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(section):
        return None  # pytest skips a file without its section
    return parser.get(section, "testpaths", fallback="").split()


def _pyproject_testpaths(path: Path) -> list[str] | None:
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
    options = pytest_table.get("ini_options", pytest_table)  # [tool.pytest] is pytest 9's native table
    value = options.get("testpaths", [])
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _test_files_under(directory: Path) -> list[Path]:
    found = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIRS and not d.startswith(".")
            and not os.path.isfile(os.path.join(current, d, "pyvenv.cfg"))
        )
        for filename in sorted(filenames):
            if filename.endswith(".py") and (filename.startswith("test_") or filename.endswith("_test.py")):
                found.append(Path(current, filename))
    return found


def _relative(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    return resolved.relative_to(root) if resolved.is_relative_to(root) else resolved


def _shown(root: Path, path: Path) -> str:
    relative = _relative(root, path)
    return str(relative) if str(relative) != "." else f"the project root ({root})"
