"""Were the tests that ran the tests on disk? The check that no look-alike judged the candidate.

pytest imports each test module through `sys.modules` and the import system, both
of which code in the process can reach: a module planted in `sys.modules` under
the test module's name (with the real `__file__`), or an import hook that strips
the asserts, would be collected in place of the real one, and its tests pass
whatever the candidate does. So after collection the plugin compiles each
collected test file itself, from the bytes on disk (the judge files, which the
executor checks were not changed), plainly and with pytest's assertion rewriting,
and requires:

- every collected test defined in that file is, under its wrappers (`__wrapped__`,
  a bound method's function, hypothesis' inner test), a function whose code is
  equal to the code the file compiles to, and whose globals are its module's;
- every function of the module that claims the file (by `co_filename`, which
  anyone can set when compiling) is code the file compiles to;
- each name a plain top-level import binds (and nothing else in the file rebinds)
  is what that import gives now (`from pkg import f` is `pkg.f`), so a look-alike
  built from the real code cannot hand its tests a fake `f` or a fake `pytest`.

Tests the file does not define as such (generated, inherited from another file,
doctests, other plugins' items) are not checked here. Code equality ignores the
filename: a module compiled from the same text anywhere is the same test.

Import-light: the plugin imports this before any project code runs, and what it
compiles and reads with is bound now.
"""

from __future__ import annotations

import os
import sys
from typing import Any, cast

_compile, _open, _realpath = compile, open, os.path.realpath
_CodeType = type(_compile("", "", "exec"))
_MAX_CHAIN = 16  # wrappers followed from a collected test to its function
_UNKNOWN = object()


def _codes(code: Any, into: dict[str, list[Any]]) -> None:
    pending = [code]
    while pending:
        current = pending.pop()
        for const in current.co_consts:
            if isinstance(const, _CodeType):
                into.setdefault(const.co_qualname, []).append(const)
                pending.append(const)


class Compiled:
    """What a test file compiles to: its code objects by qualified name (plainly and with
    pytest's assertion rewriting), and the names its top-level imports bind, once each."""

    def __init__(self, codes: dict[str, list[Any]], imports: dict[str, tuple[str, str]]) -> None:
        self.codes = codes
        self.imports = imports  # name -> (module, attribute or "" for the module itself)


def compiled(path: str, config: Any) -> Compiled | None:
    """None when the file cannot be read or compiled."""
    import ast  # here, not at import: by now pytest has loaded it anyway

    try:
        with _open(path, "rb") as stream:
            source = stream.read()
        # parsed once, compiled twice; "exec" mode with PyCF_ONLY_AST gives a Module
        tree = cast("ast.Module", _compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True))
        plain = _compile(tree, path, "exec", dont_inherit=True)  # before rewrite_asserts changes the tree
    except (OSError, SyntaxError, ValueError):
        return None
    codes: dict[str, list[Any]] = {}
    _codes(plain, codes)
    imports = _top_level_imports(tree, ast)
    try:
        from _pytest.assertion.rewrite import rewrite_asserts

        rewrite_asserts(tree, source, path, config)
        _codes(_compile(tree, path, "exec", dont_inherit=True), codes)
    except Exception:  # noqa: BLE001 - without the rewritten form, the plain one still decides
        pass
    return Compiled(codes, imports)


def _top_level_imports(tree: Any, ast: Any) -> dict[str, tuple[str, str]]:
    """Names bound by plain top-level `import`s, where nothing else in the file binds them."""
    imports: dict[str, tuple[str, str]] = {}
    bound_twice: set[str] = set()
    for node in tree.body:
        pairs = []
        if isinstance(node, ast.Import):
            pairs = [(a.asname or a.name.split(".")[0], (a.name if a.asname else a.name.split(".")[0], "")) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            pairs = [(a.asname or a.name, (node.module, a.name)) for a in node.names if a.name != "*"]
        for name, origin in pairs:
            (bound_twice.add(name) if name in imports else imports.__setitem__(name, origin))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound_twice.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound_twice.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound_twice.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and node not in tree.body:
            bound_twice.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {name: origin for name, origin in imports.items() if name not in bound_twice}


def _imported(origin: tuple[str, str]) -> Any:
    """What the import gives now, or _UNKNOWN."""
    module_name, attribute = origin
    module = sys.modules.get(module_name)
    if module is None:
        return _UNKNOWN
    if not attribute:
        return module
    try:
        return getattr(module, attribute)
    except Exception:  # noqa: BLE001 - a submodule not loaded as an attribute, a lazy module's error
        return sys.modules.get(f"{module_name}.{attribute}", _UNKNOWN)


def _chain(obj: Any) -> list[Any]:
    """`obj` and what it wraps, as plain functions."""
    found: list[Any] = []
    seen: set[int] = set()
    pending = [obj]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        function = getattr(current, "__func__", current)
        if isinstance(getattr(function, "__code__", None), _CodeType):
            found.append(function)
        for name in ("__wrapped__", "__func__"):
            try:
                pending.append(object.__getattribute__(current, name))
            except (AttributeError, TypeError):
                pass
        inner = getattr(getattr(current, "hypothesis", None), "inner_test", None)
        if inner is not None:
            pending.append(inner)
    return found


def _matches(function: Any, codes: dict[str, list[Any]]) -> bool:
    code = function.__code__
    return any(code == fresh for fresh in codes.get(code.co_qualname, ()))


class TestCodeCheck:
    """Run once, after collection: "" when every collected test is its file's code."""

    def __init__(self, copy_root: str) -> None:
        self._root = _realpath(copy_root) + os.sep

    def check(self, items: list[Any], config: Any) -> tuple[str, list[Any]]:
        """What was forged ("" if nothing), and the test modules checked (to watch from now on)."""
        by_file: dict[str, tuple[Any, list[Any]]] = {}
        for item in items:
            module = getattr(item, "module", None) if hasattr(item, "obj") else None
            path = getattr(item, "path", None)
            if module is None or path is None:
                continue
            real = _realpath(str(path))
            if real.startswith(self._root):
                by_file.setdefault(real, (module, []))[1].append(item)
        modules = []
        for path, (module, file_items) in by_file.items():
            file = compiled(path, config)
            if file is None:
                continue
            found = self._module(path, module, file) or self._items(module, file_items, file)
            if found:
                return found, []
            modules.append(module)
        return "", modules

    def _module(self, path: str, module: Any, file: Compiled) -> str:
        namespace = getattr(module, "__dict__", {})
        for name, origin in file.imports.items():
            expected = _imported(origin)
            if expected is not _UNKNOWN and namespace.get(name, _UNKNOWN) is not expected:
                return f"{_short(path)}: {name} is not what its import gives"
        codes = file.codes
        for key, value in list(namespace.items()):
            members = list(vars(value).items()) if isinstance(value, type) and value.__module__ == module.__name__ else []
            for label, obj in [(key, value), *[(f"{key}.{k}", v) for k, v in members]]:
                for function in _chain(obj):
                    code = function.__code__
                    if _realpath(code.co_filename) == path and not _matches(function, codes):
                        return f"{_short(path)}: {label} is not the code of the file"
        return ""

    def _items(self, module: Any, items: list[Any], file: Compiled) -> str:
        codes = file.codes
        names = {qualname.rpartition(".")[2] for qualname in codes}
        for item in items:
            name = getattr(item, "originalname", None) or getattr(item, "name", "")
            chain = _chain(getattr(item, "obj", None))
            verified = [f for f in chain if _matches(f, codes)]
            if verified:
                if not any(getattr(f, "__globals__", None) is module.__dict__ for f in verified):
                    return f"{item.nodeid}: runs with another module's globals"
            elif name in names:
                return f"{item.nodeid}: not the test its file defines"
        return ""


def _short(path: str) -> str:
    return path.rsplit(os.sep, 2)[-2] + "/" + path.rsplit(os.sep, 1)[-1] if os.sep in path else path
