"""Tamper evidence for the test harness, inside the sandboxed pytest process.

The candidate runs in the same interpreter as pytest and the results plugin, so
it can replace what they run on: a module function (`_pytest.runner.call_and_report`),
a method or property (`TestReport.failed`), the plugin's own state. Before any
project code is imported, `HarnessGuard` records every function and class of
pytest, pluggy and the json/hmac modules the plugin writes with, every method
and property of their classes, and every global of the sandbox's own modules.
`check()` names the first of them that code from the project copy replaced, or
whose code (`__code__`) was swapped in place. Until collection ends, replacements
by code outside the copy are accepted and recorded: pytest itself adds properties
at configure time (`_pytest.legacypath`), and so may installed plugins. Where code
comes from is only its `co_filename`, which anyone compiling code can choose, so
after collection (`freeze`) no replacement is accepted, and the collected test
modules (checked by test_code.py) are watched the same way: their functions,
classes and imported modules.

This is evidence, not a wall: code written to defeat this guard can (it runs in
the same process). What such code cannot do is leave the isolation layer.
"""

from __future__ import annotations

import functools
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

_HARNESS = ("_pytest", "pytest", "pluggy", "json", "hmac")
_OWN = "orps_lsp.sandbox"  # every global counts: no replacement is accepted
_MISSING = object()


def _in_package(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _is_code(value: Any) -> bool:
    return callable(value) or isinstance(value, (property, classmethod, staticmethod))


class HarnessGuard:
    def __init__(self, untrusted_root: str) -> None:
        self._root = os.path.realpath(untrusted_root) + os.sep
        # [namespace, key, value, label, strict, code]; lists so accepted changes update in place.
        self._entries: list[list[Any]] = []
        self._class_keys: list[list[Any]] = []  # [class, frozenset of its keys, label]
        self._found = ""
        self._frozen = False
        self._recorded: set[tuple[int, str]] = set()
        for name in list(sys.modules):
            if _in_package(name, (_OWN, *_HARNESS)):
                module = sys.modules.get(name)
                if module is not None:
                    self._record_module(module, name, strict=_in_package(name, (_OWN,)))

    def freeze(self, test_modules: Iterable[Any] = ()) -> None:
        """From now on (collection is over) nothing recorded may change, and the
        test modules' code and imported modules are recorded too."""
        self._frozen = True
        for module in test_modules:
            self._record_module(module, getattr(module, "__name__", "?"), strict=False, modules_too=True)

    def _record_module(self, module: Any, name: str, strict: bool, modules_too: bool = False) -> None:
        """Record what `module` holds now."""
        for key, value in list(vars(module).items()):
            if strict or _is_code(value) or (modules_too and isinstance(value, types.ModuleType)):
                self._record(module, vars(module), key, value, name, strict)
            if isinstance(value, type) and value.__module__ == name and (id(value), "") not in self._recorded:
                self._recorded.add((id(value), ""))
                label = f"{name}.{key}"
                namespace = value.__dict__  # a live view of the class's attributes
                self._class_keys.append([value, frozenset(namespace), label])
                for attribute, member in namespace.items():
                    if _is_code(member):
                        self._record(value, namespace, attribute, member, label, strict)

    def _record(self, owner: Any, namespace: Any, key: str, value: Any, label: str, strict: bool) -> None:
        if (id(owner), key) not in self._recorded:  # owners stay alive: modules and their classes
            self._recorded.add((id(owner), key))
            self._entries.append([namespace, key, value, label, strict, _code_of(value)])

    def found(self, what: str) -> None:
        """Record a finding made elsewhere (test_code.py)."""
        self._found = self._found or what

    def check(self) -> str:
        """ "" while the harness is intact, else what was replaced (the first finding sticks)."""
        if self._found:
            return self._found
        for entry in self._entries:
            namespace, key, value, label, strict, code = entry
            current = namespace.get(key, _MISSING)
            if current is value:
                if code is not None and value.__code__ is not code:
                    self._found = f"{label}.{key} had its code replaced"
                    return self._found
                continue
            if strict or self._frozen or current is _MISSING or not self._trusted(current):
                self._found = f"{label}.{key} {'deleted' if current is _MISSING else 'replaced'}"
                return self._found
            entry[2], entry[5] = current, _code_of(current)
        for entry in self._class_keys:
            cls, keys, label = entry
            namespace = cls.__dict__
            if keys == namespace.keys():
                continue
            added = [
                k
                for k in namespace.keys() - keys
                if (self._frozen and _is_code(namespace[k])) or self._suspicious_addition(cls, k, namespace[k])
            ]
            if added:
                self._found = f"{label}.{sorted(added)[0]} added"
                return self._found
            entry[1] = frozenset(namespace)
        return ""

    def _suspicious_addition(self, cls: type, key: str, value: Any) -> bool:
        """Code from the project, or a plain value that hides an inherited
        attribute (`TestReport.failed = False` over BaseReport's property).
        pytest adds plain flags of its own (`_pytest_diamond_inheritance_warning_shown`)."""
        if _is_code(value):
            return not self._trusted(value)
        return any(_is_code(vars(base).get(key)) for base in cls.__mro__[1:])

    def _trusted(self, value: Any) -> bool:
        """Whether `value` was defined outside the project copy (by pytest or a plugin)."""
        files = _origin_files(value)
        return bool(files) and not any(os.path.realpath(f).startswith(self._root) for f in files)


def _code_of(value: Any) -> Any:
    """A function's code object, kept to notice `f.__code__ = other` (the function stays the same object)."""
    return value.__code__ if isinstance(value, types.FunctionType) else None


def _origin_files(value: Any) -> list[str]:
    """Where the code behind `value` was compiled; empty when that is unknown."""
    if isinstance(value, property):
        parts = [p for p in (value.fget, value.fset, value.fdel) if p is not None]
        return [f for part in parts for f in _origin_files(part)] if parts else []
    if isinstance(value, (classmethod, staticmethod)):
        return _origin_files(value.__func__)
    if isinstance(value, functools.partial):
        return _origin_files(value.func)
    function = getattr(value, "__func__", value)  # bound methods
    code = getattr(function, "__code__", None)
    if code is not None:
        return [code.co_filename]  # not __module__: functools.wraps copies that
    module_name = value.__module__ if isinstance(value, type) else None
    module = sys.modules.get(module_name) if module_name else None
    file = getattr(module, "__file__", None)
    return [file] if file else []
