"""What a candidate may add at module level (import_time.py): inert definitions pass,
anything that runs code at import is named, and the user's own statements are theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orps_lsp.extract import extract_candidate
from orps_lsp.import_time import added_import_time_code
from orps_lsp.source import all_functions, replace_function

ORIGINAL = '''"""The user's module."""
import re
from functools import lru_cache

PATTERN = re.compile(r"\\d+")
REGISTRY = {}


def helper(x):
    return x


def register(f):
    REGISTRY[f.__name__] = f
    return f


@register
@lru_cache(maxsize=None)
def add(a, b=helper(1)):
    return a + b


class Box:
    size = helper(2)

    def grow(self, by: int = 1) -> int:
        return self.size + by
'''


def added(candidate: str, function: str = "add") -> list[str]:
    return added_import_time_code(ORIGINAL, candidate, function)


@pytest.mark.parametrize(
    "addition",
    [
        "TABLE = frozenset(range(10))",
        "LOOKUP = {c: i for i, c in enumerate('abc')}",
        "import os\nfrom collections import Counter\nCOUNTS = Counter('hello')",
        "MOD = 10 ** 9 + 7\nSEP = str.maketrans('ab', 'ba')",
        "_DIGITS = re.compile(r'[0-9]+')",
        "try:\n    import numpy\nexcept ImportError:\n    numpy = None",
        "from dataclasses import dataclass, field\n@dataclass(frozen=True)\nclass Point:\n"
        "    x: int = 0\n    tags: list = field(default_factory=list)\n    @property\n    def norm(self):\n"
        "        return abs(self.x)\n    @norm.setter\n    def norm(self, value):\n        pass",
        "def _fast(x, key=lambda v: -v, cache={}):\n    return sorted(x, key=key)",
        "@lru_cache(maxsize=128)\ndef _memo(n: int) -> int:\n    return n",
    ],
)
def test_inert_additions_pass(addition: str) -> None:
    assert added(ORIGINAL + "\n\n" + addition + "\n") == []


def test_the_users_own_statements_and_decorators_are_theirs() -> None:
    rewritten = ORIGINAL.replace("    return a + b\n", "    return b + a\n", 1)
    assert added(rewritten) == []  # @register, helper(1) and Box.size = helper(2) are the user's


@pytest.mark.parametrize(
    ("addition", "named"),
    [
        ("import sys\nsys.modules['tests.test_x'] = None", "changes an object at import"),
        ("X = __import__('os')", "__import__"),
        ("@(lambda f: f)\ndef g():\n    pass", "decorator"),
        ("@register\ndef g():\n    pass", "decorator `@register`"),  # the user's decorator, on new code
        ("class Q(metaclass=type):\n    pass", "metaclass"),
        ("class Q:\n    def __init_subclass__(cls):\n        pass", "__init_subclass__"),
        ("X = sorted([1], key=helper)", "helper"),
        ("from os import system as sorted\nX = sorted('true')", "calls `sorted`"),
        ("X = (y := 1)", "y := 1"),
        ("X = ().__class__.__bases__", "__"),
        ("for i in range(3):\n    pass", "runs at import"),
        ("print('hello')", "runs at import"),
        ("X = helper(3)", "calls `helper`"),
        ("def g(x=print()):\n    pass", "calls `print`"),
        ("def g(x: helper(1)):\n    pass", "calls `helper`"),
        ("X = [f() for f in REGISTRY.values()]", "calls `f`"),
        ("X = list(map(helper, [1]))", "map"),
    ],
)
def test_code_that_runs_at_import_is_named(addition: str, named: str) -> None:
    found = added(ORIGINAL + "\n\n" + addition + "\n")
    assert found and named in found[0], found


def test_the_replaced_functions_decorators_and_defaults() -> None:
    assert added(ORIGINAL.replace("def add(a, b=helper(1)):", "def add(a, b=helper(2)):")) != []
    assert added(ORIGINAL.replace("@register\n@lru_cache", "@helper\n@lru_cache")) != []
    assert added(ORIGINAL.replace("@lru_cache(maxsize=None)\n", "")) == []  # fewer decorators: fine


def test_a_method_target_keeps_its_class_header() -> None:
    method = "Box.grow"
    assert added_import_time_code(ORIGINAL, ORIGINAL.replace("return self.size + by", "return by + self.size"), method) == []
    assert added_import_time_code(ORIGINAL, ORIGINAL.replace("by: int = 1", "by: int = print()"), method)
    assert added_import_time_code(ORIGINAL, ORIGINAL.replace("class Box:", "class Box(dict):"), method)
    assert added_import_time_code(
        ORIGINAL, ORIGINAL.replace("    size = helper(2)\n", "    size = helper(2)\n    extra = helper(3)\n"), method
    )


def test_model_answers_as_the_extractor_builds_them_pass() -> None:
    """What a model typically writes (imports, a cached helper, constants) composes into
    a module that adds nothing that runs at import."""
    target = next(f for f in all_functions(ORIGINAL) if f.qualname == "add")
    answer = (
        "Reasoning.\n```python\nimport functools\nfrom itertools import accumulate\n\n_LIMIT = 1 << 20\n\n"
        "@functools.lru_cache(maxsize=None)\ndef _square(n):\n    return n * n\n\n"
        "def add(a, b=helper(1)):\n    return _square(a) - _square(a) + a + b\n\nprint(add(1, 2))\n```\n"
    )
    candidate = extract_candidate(answer, target)
    assert candidate.ok, candidate.error
    module = replace_function(ORIGINAL, "add", candidate.imports, candidate.definitions)
    assert added(module) == []


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "examples").rglob("*.py")), ids=lambda p: p.name)
def test_a_function_rewritten_with_a_cache_is_not_refused(path: Path) -> None:
    """Each example function, composed back as a candidate would be (its own text under
    `functools.lru_cache`, with a constant beside it), adds nothing that runs at import."""
    source = path.read_text()
    for function in all_functions(source):
        if function.is_async or "@" in function.header:
            continue
        definitions = f"_LIMIT = 1000\n\n\n@functools.lru_cache(maxsize=None)\n{function.source}"
        if function.class_name:
            definitions = f"@functools.lru_cache(maxsize=None)\n{function.source}"
        module = replace_function(source, function.qualname, ["import functools"], definitions)
        assert module != source
        assert added_import_time_code(source, module, function.qualname) == [], function.qualname
