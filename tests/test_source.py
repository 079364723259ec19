import pytest

from orps_lsp.source import SourceError, find_function, function_at, replace_function

MODULE = '''"""Doc."""
import os


@staticmethod_like
def slow(xs):
    """Sum."""
    total = 0
    for x in xs:
        total += x
    return total


def stub(a):
    """To do."""
    ...


class K:
    def m(self, y):
        return y

    async def am(self):
        raise NotImplementedError()


def outer():
    def inner():
        return 1
    return inner()
'''


def test_find_function_positions_and_stub_detection():
    slow = find_function(MODULE, "slow")
    assert (slow.start_line, slow.def_line, slow.end_line) == (5, 6, 11)
    assert slow.header == "@staticmethod_like\ndef slow(xs):"
    assert not slow.is_stub and find_function(MODULE, "stub").is_stub
    am = find_function(MODULE, "K.am")
    assert am.is_async and am.is_stub and am.class_name == "K"


def test_clear_errors():
    with pytest.raises(SourceError, match="no function 'nope'"):
        find_function(MODULE, "nope")
    with pytest.raises(SourceError, match="nested function"):
        find_function(MODULE, "inner")
    with pytest.raises(SourceError, match="syntax error"):
        find_function("def f(:\n", "f", filename="bad.py")


def test_function_at_cursor():
    assert function_at(MODULE, 8).qualname == "slow"
    assert function_at(MODULE, 21).qualname == "K.m"
    assert function_at(MODULE, 3) is None


def test_replace_keeps_everything_else_and_adds_imports():
    new = replace_function(MODULE, "slow", ["import math", "import os"], "def slow(xs):\n    return math.fsum(xs)")
    assert new.count("import os") == 1 and "import math\n" in new
    assert "return math.fsum(xs)" in new and "total += x" not in new
    assert new.split("def stub")[1] == MODULE.split("def stub")[1]


def test_replace_method_is_reindented():
    new = replace_function(MODULE, "K.m", [], "def m(self, y):\n    return y * 2")
    assert "    def m(self, y):\n        return y * 2\n" in new
    find_function(new, "K.am")  # the class still parses with its other method
