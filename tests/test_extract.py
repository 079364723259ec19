from orps_lsp.extract import code_fingerprint, extract_candidate, split_answer
from orps_lsp.source import find_function

MODULE = '''
def add(a, b=1):
    """Add."""
    return a + b


class Box:
    def size(self, scale):
        return 3 * scale
'''
ADD = find_function(MODULE, "add")
SIZE = find_function(MODULE, "Box.size")


def test_first_python_fence_wins():
    reasoning, code = split_answer(
        "I will add.\n```text\nnope\n```\n```python\ndef add(a, b=1):\n    return b + a\n```\n```python\nx\n```"
    )
    assert reasoning.startswith("I will add")
    assert code.strip() == "def add(a, b=1):\n    return b + a"


def test_unclosed_fence_and_cut_off_answer_are_recovered():
    text = "```python\ndef add(a, b=1):\n    return a + b\n\nprint(add(1, 2\n"
    candidate = extract_candidate(text, ADD)
    assert candidate.ok, candidate.error
    assert "print" not in candidate.code


def test_model_tests_examples_and_main_are_dropped():
    text = """```python
import math
LIMIT = 10
def add(a, b=1):
    return a + b

def _helper(x):
    return x

def test_add():
    assert add(1) == 3

assert add(1, 1) == 2
print(add(2))
if __name__ == "__main__":
    add(3)
```"""
    candidate = extract_candidate(text, ADD)
    assert candidate.ok
    assert candidate.imports == ["import math"]
    assert "LIMIT = 10" in candidate.definitions and "_helper" in candidate.definitions
    for dropped in ("test_add", "print", "__main__", "assert"):
        assert dropped not in candidate.definitions


def test_fallback_without_fence():
    candidate = extract_candidate("Here it is:\ndef add(a, b=1):\n    return a + b\n", ADD)
    assert candidate.ok and candidate.reasoning == "Here it is:"


def test_no_code_is_a_clear_error():
    candidate = extract_candidate("I cannot help with that.", ADD)
    assert not candidate.ok and "no code" in candidate.error


def test_wrong_function_name_is_rejected():
    candidate = extract_candidate("```python\ndef plus(a, b=1):\n    return a + b\n```", ADD)
    assert not candidate.ok and "does not define 'add'" in candidate.error


def test_incompatible_signature_is_rejected():
    assert "signature" in extract_candidate("```python\ndef add(a):\n    return a\n```", ADD).error
    assert "signature" in extract_candidate("```python\ndef add(a, b, c):\n    return a\n```", ADD).error
    assert extract_candidate("```python\ndef add(a, b=1, *, fast=True):\n    return a + b\n```", ADD).ok


def test_method_inside_class_or_bare():
    in_class = extract_candidate("```python\nclass Box:\n    def size(self, scale):\n        return scale * 3\n```", SIZE)
    bare = extract_candidate("```python\ndef size(self, scale):\n    return scale * 3\n\ndef helper():\n    pass\n```", SIZE)
    assert in_class.ok and bare.ok
    assert in_class.definitions.startswith("def size(self, scale):")
    assert "helper" not in bare.definitions  # would become a method
    assert bare.module_definitions == "def helper():\n    pass"  # goes to module level instead


def test_a_methods_helper_goes_to_module_level_before_its_class():
    from orps_lsp.source import replace_function

    candidate = extract_candidate(
        "```python\nFACTOR = 3\n\ndef _times(x):\n    return x * FACTOR\n\ndef size(self, scale):\n    return _times(scale)\n```",
        SIZE,
    )
    module = replace_function(MODULE, "Box.size", candidate.imports, candidate.definitions, candidate.module_definitions)
    namespace: dict = {}
    exec(compile(module, "<candidate>", "exec"), namespace)
    assert namespace["Box"]().size(2) == 6 and not hasattr(namespace["Box"], "_times")
    assert module.index("def _times") < module.index("class Box") and module.startswith(MODULE.split("class Box")[0])


def test_fingerprint_ignores_comments_and_spacing():
    assert code_fingerprint("def f(x):\n    # hi\n    return x+1\n") == code_fingerprint("def f(x):\n    return x + 1")


DOCUMENTED = find_function(
    '''
def add(a, b=1):
    """Add.

    ```python
    add(1, 2)
    ```
    """
    return a + b
''',
    "add",
)


def test_a_fence_inside_a_docstring_does_not_end_the_code():
    answer = (
        'Faster:\n```python\ndef add(a, b=1):\n    """Add.\n\n    ```python\n    add(1, 2)\n    ```\n    """\n'
        "    return b + a\n```\nThat is all."
    )
    candidate = extract_candidate(answer, DOCUMENTED)
    assert candidate.ok, candidate.error
    assert candidate.definitions.endswith("return b + a") and "That is all" not in candidate.code


def test_the_original_docstring_comes_back_when_the_candidate_drops_it():
    candidate = extract_candidate("```python\ndef add(a, b=1):\n    return b + a\n```", DOCUMENTED)
    assert candidate.ok
    assert (
        candidate.definitions
        == 'def add(a, b=1):\n    """Add.\n\n    ```python\n    add(1, 2)\n    ```\n    """\n    return b + a'
    )
    own = extract_candidate('```python\ndef add(a, b=1):\n    """Sum of a and b."""\n    return b + a\n```', DOCUMENTED)
    assert '"""Sum of a and b."""' in own.definitions and "```python" not in own.definitions  # deliberate: kept


def test_a_body_on_the_headers_last_line_is_left_as_written():
    """`def add(a,\n        b=1): return b + a`: no line of its own to put the docstring before."""
    answer = "```python\ndef add(a,\n        b=1): return b + a\n```"
    candidate = extract_candidate(answer, DOCUMENTED)
    assert candidate.ok, candidate.error
    assert candidate.definitions == "def add(a,\n        b=1): return b + a"
    compile(candidate.code, "<candidate>", "exec")
