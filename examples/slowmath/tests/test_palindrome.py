import pytest

from slowmath import is_palindrome


@pytest.mark.parametrize("text, expected", [
    ("", True), ("a", True), ("Racecar", True), ("A man, a plan, a canal: Panama!", True),
    ("hello", False), ("ab", False),
])
def test_is_palindrome(text, expected):
    assert is_palindrome(text) is expected
