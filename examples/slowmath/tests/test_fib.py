import pytest

from slowmath import fib


@pytest.mark.parametrize("n, expected", [(0, 0), (1, 1), (2, 1), (10, 55), (20, 6765), (24, 46368)])
def test_fib(n, expected):
    assert fib(n) == expected
