"""Deliberately slow code for orps-lsp to work on."""


def has_duplicates(items):
    """Return True if any value occurs more than once in `items`."""
    for i in range(len(items)):
        for j in range(len(items)):
            if i != j and items[i] == items[j]:
                return True
    return False


def fib(n):
    """Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1)."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def is_palindrome(text):
    """Return True if `text` reads the same backwards, ignoring case and non-letters."""
    raise NotImplementedError
