from slowmath import has_duplicates


def test_empty_has_no_duplicates():
    assert has_duplicates([]) is False


def test_single_item():
    assert has_duplicates([7]) is False


def test_finds_duplicate():
    assert has_duplicates([1, 2, 3, 2]) is True


def test_strings():
    assert has_duplicates(["a", "b", "a"]) is True
    assert has_duplicates(["a", "b", "c"]) is False


def test_large_unique_list():
    assert has_duplicates(list(range(1500))) is False


def test_large_list_duplicate_at_end():
    assert has_duplicates(list(range(1500)) + [1499]) is True
