"""Which module object do the tests use? The check that the candidate is what is judged.

In a project installed in the interpreter (editable or not), `import pkg`
can find the installed copy, or the user's own tree through an editable
install's `.pth` entry or import hook, instead of the run's copy that holds
the candidate; a library loaded ahead may also have imported it already.
Then the tests judge the original, and a wrong candidate passes. So the
plugin (plugin.py) looks, after collection and at the end of the session:

- `seen`: some module in `sys.modules` was loaded from the candidate's file
  in the run's copy (under whatever name);
- `elsewhere`: modules under the module's own dotted name(s) that were loaded
  from another file;
- `replaced`: the target function, as the candidate's module exposes it, was
  compiled from another file (the module replaced it after defining it, e.g.
  with a C speed-up): the tests call that one, not the candidate.

The executor turns a run where the candidate was not seen, or any of the
others, into an error that voids its passes (verdict.py). This module must
stay import-light: the plugin imports it before any project code runs.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import sys
import types
from typing import Any

_MAX_LISTED = 5


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


class ImportCheck:
    def __init__(self, candidate_file: str, modules: list[str], function: str, line: int = 0) -> None:
        self.candidate_file = _real(candidate_file)
        self.modules = set(modules)  # the dotted names the project imports it by ("pkg.mod")
        self.function = function  # "f" or "Class.method"
        self.line = line  # where the candidate's definition starts (first decorator), 0 if unknown

    @classmethod
    def from_environment(cls, candidate_file: str, names: str) -> ImportCheck | None:
        if not candidate_file:
            return None  # a run that does not judge a module (collect-only, a plain pytest)
        try:
            parsed = json.loads(names) if names else {}
        except ValueError:
            parsed = {}
        try:
            line = int(parsed.get("line") or 0)
        except (TypeError, ValueError):
            line = 0
        return cls(candidate_file, [str(name) for name in parsed.get("modules") or []], str(parsed.get("function", "")), line)

    def check(self) -> dict[str, Any]:
        seen: list[str] = []
        elsewhere: list[list[str]] = []
        for name, module in list(sys.modules.items()):
            file = _module_file(module)
            if file is None:
                continue
            if self._is_candidate(module):
                seen.append(name)
            elif name in self.modules:
                elsewhere.append([name, file])
        if not seen and self._loaded_by_path():
            seen.append("(loaded by its path)")
        replaced = ""
        for name in seen:
            replaced = self._replaced_in(sys.modules.get(name))
            if replaced:
                break
        return {"seen": seen[:_MAX_LISTED], "elsewhere": elsewhere[:_MAX_LISTED], "replaced": replaced}

    def candidate_module(self) -> Any:
        """The module object loaded from the candidate's file (the tests' own, preferably
        under one of the module's names), or None."""
        found = None
        for name, module in list(sys.modules.items()):
            if self._is_candidate(module):
                if name in self.modules:
                    return module
                found = found or module
        return found

    def _is_candidate(self, module: Any) -> bool:
        """Whether `module` was loaded from the candidate's file (the run's copy)."""
        file = _module_file(module)
        return file is not None and _real(file) == self.candidate_file

    def _loaded_by_path(self) -> bool:
        """Tests that load the file themselves (importlib's spec_from_file_location,
        runpy.run_path) leave no entry in sys.modules, but the module or its functions
        live on: some object compiled from the candidate's file."""
        for obj in gc.get_objects():
            if isinstance(obj, types.ModuleType):
                if self._is_candidate(obj):
                    return True
            elif isinstance(obj, types.FunctionType) and _real(obj.__code__.co_filename) == self.candidate_file:
                return True
        return False

    def _replaced_in(self, module: Any) -> str:
        """Where the function the module exposes under the target's name comes from, when not from the candidate."""
        target: Any = module
        try:
            for part in self.function.split("."):
                target = inspect.getattr_static(target, part)
        except AttributeError:
            return ""  # not defined (yet, or at all): the tests cannot be calling it through this module
        target = getattr(target, "__func__", target)  # staticmethod, classmethod
        try:
            target = inspect.unwrap(target)
        except ValueError:
            return ""
        code = getattr(target, "__code__", None)
        if code is None:
            # A builtin or C function in its place (a compiled speed-up): the tests call that.
            if (
                callable(target)
                and not inspect.isclass(target)
                and type(target).__name__ in ("builtin_function_or_method", "cython_function_or_method", "method_descriptor")
            ):
                return f"{getattr(target, '__module__', None) or 'a compiled module'} (compiled code)"
            return ""
        source: str = code.co_filename  # a code object's file name (`code` came from getattr: untyped)
        in_candidate_file = _real(source) == self.candidate_file
        named_so = getattr(target, "__name__", "") == self.function.split(".")[-1]
        if in_candidate_file:
            # Another definition in the same file: a second `def f` further down, or
            # `f = _fast_f` (a module or class level function, unlike a decorator's wrapper).
            elsewhere_in_file = self.line and code.co_firstlineno != self.line
            if elsewhere_in_file and (named_so or "<locals>" not in getattr(target, "__qualname__", "<locals>")):
                return f"{getattr(target, '__qualname__', '?')} at line {code.co_firstlineno} of the same file"
            return ""
        if not named_so:
            return ""  # a wrapper that does not say what it wraps: cannot tell
        if not source.startswith("<"):
            return source
        return ""


def _module_file(module: Any) -> str | None:
    try:
        file = getattr(module, "__file__", None)
    except Exception:  # noqa: BLE001 - a module's __getattr__ may raise anything
        return None
    return file if isinstance(file, str) else None
