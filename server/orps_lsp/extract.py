"""Turning a model answer into a candidate: code extraction and clean-up.

Small models wrap code in prose, forget to close fences, get cut off by the
token limit, and append their own (often wrong) tests and example calls.
We keep only what the module needs: imports, the target function and helper
functions or constants it defined; everything else is dropped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .source import FunctionInfo, function_definitions

_FENCE_OPEN = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n")
_FENCE_MARK = re.compile(r"```")


@dataclass
class Candidate:
    imports: list[str] = field(default_factory=list)
    definitions: str = ""  # the function plus helpers, unindented
    module_definitions: str = ""  # for a method: the helpers it calls, placed at module level before its class
    reasoning: str = ""
    error: str = ""  # why this answer yields no usable candidate

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def code(self) -> str:
        helpers = [self.module_definitions, ""] if self.module_definitions else []
        return "\n".join(self.imports + ([""] if self.imports else []) + helpers + [self.definitions]).strip("\n")


def split_answer(text: str) -> tuple[str, str | None]:
    """Return (reasoning, code) from an answer: the first python fence wins.

    Falls back to any fence, then to the text from the first `def`/`import`.
    """
    fences = _fences(text)
    chosen = next((f for f in fences if f[0].lower() in ("python", "py", "python3")), None)
    chosen = chosen or (fences[0] if fences else None)
    if chosen is not None:
        return text[: chosen[1]].strip(), chosen[2]
    match = re.search(r"^(?:async\s+def|def|import|from|@)\s", text, re.MULTILINE)
    if match:
        return text[: match.start()].strip(), text[match.start() :]
    return text.strip(), None


def _fences(text: str) -> list[tuple[str, int, str]]:
    """(language, start, body) of each fenced block, in order.

    A fence may hold code whose strings or docstrings contain ``` themselves
    (a docstring with a Markdown example): the block ends at the first closing
    mark after which the body parses, else at the first mark on a line of its
    own, else at the first mark (or the end: the answer was cut off).
    """
    found: list[tuple[str, int, str]] = []
    position = 0
    while True:
        opening = _FENCE_OPEN.search(text, position)
        if opening is None:
            return found
        body_start = opening.end()
        marks = [m.start() for m in _FENCE_MARK.finditer(text, body_start)]
        ends = marks + [len(text)]
        end = next((e for e in ends if _parses(text[body_start:e])), None)
        if end is None:
            own_line = [m for m in marks if text.rfind("\n", body_start, m) == m - 1 or m == body_start]
            end = (own_line or ends)[0]
        found.append((opening.group("lang"), opening.start(), text[body_start:end]))
        position = end + 3


def _parses(code: str) -> bool:
    if not code.strip():
        return False
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _parse_prefix(code: str) -> ast.Module | None:
    """Parse `code`, dropping trailing lines until it parses (a cut-off answer)."""
    lines = code.rstrip().splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def _is_constant_assignment(node: ast.stmt) -> bool:
    if not isinstance(node, (ast.Assign, ast.AnnAssign)):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)


def _accepts_calls_of(candidate: ast.FunctionDef | ast.AsyncFunctionDef, original: FunctionInfo) -> str:
    """Empty if `candidate` can be called every way `original` can; else why not."""
    args = candidate.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    required = len(positional) - len(args.defaults)
    if args.vararg is None and len(positional) < len(original.params):
        return f"takes {len(positional)} positional parameters, the original takes {len(original.params)}"
    if required > original.required_positional:
        return f"requires {required} arguments, the original requires {original.required_positional}"
    names_needed = original.params[len(args.posonlyargs) :] + original.kwonly
    known = set(positional) | {a.arg for a in args.kwonlyargs}
    missing = [n for n in names_needed if n not in known] if args.kwarg is None else []
    if missing and [p for p in positional] != original.params[: len(positional)]:
        return f"parameter names differ from the original ({', '.join(missing)} missing)"
    return ""


def extract_candidate(text: str, target: FunctionInfo) -> Candidate:
    """Build a candidate for `target` from a model answer, or say why there is none."""
    reasoning, code = split_answer(text)
    if code is None or not code.strip():
        return Candidate(reasoning=reasoning, error="the answer holds no code")
    tree = _parse_prefix(code)
    if tree is None:
        return Candidate(reasoning=reasoning, error="the code does not parse")

    helpers: list[ast.stmt] = []
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not node.name.startswith("test") and node.name != target.name:
                helpers.append(node)
        elif isinstance(node, ast.ClassDef) and target.class_name and node.name == target.class_name:
            pass  # the target's class: only its method is kept (below)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("Test"):
            helpers.append(node)
        elif _is_constant_assignment(node):
            helpers.append(node)
        # anything else (prints, asserts, `if __name__ == ...`, example calls) is dropped

    # For a method: its last definition in the class, else the answer's first plain function of that name.
    methods = function_definitions(tree.body, f"{target.class_name}.{target.name}") if target.class_name else []
    plain = function_definitions(tree.body, target.name)
    function_node = methods[-1][1] if methods else plain[0][1] if plain else None
    if function_node is None:
        return Candidate(reasoning=reasoning, error=f"the code does not define '{target.name}'")
    if isinstance(function_node, ast.AsyncFunctionDef) != target.is_async:
        kind = "async" if target.is_async else "a plain (non-async)"
        return Candidate(reasoning=reasoning, error=f"'{target.name}' must stay {kind} function")
    mismatch = _accepts_calls_of(function_node, target)
    if mismatch:
        return Candidate(reasoning=reasoning, error=f"incompatible signature: {mismatch}")
    method = _with_docstring(_segment(code, function_node), target)
    if target.class_name:
        # Written beside the method, helpers would become methods of the class: they go to
        # module level, before the class (classes the answer defined besides the target are left out).
        module_helpers = [_segment(code, n) for n in helpers if not isinstance(n, ast.ClassDef)]
        return Candidate(
            imports=imports, definitions=method, module_definitions="\n\n\n".join(module_helpers), reasoning=reasoning
        )
    parts = [_segment(code, n) for n in helpers if n.lineno < function_node.lineno]
    parts.append(method)
    parts += [_segment(code, n) for n in helpers if n.lineno > function_node.lineno]
    return Candidate(imports=imports, definitions="\n\n\n".join(parts), reasoning=reasoning)


def _segment(code: str, node: ast.stmt) -> str:
    """The node's source text as written (comments kept), decorators included."""
    lines = code.splitlines()
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    text = "\n".join(lines[start - 1 : node.end_lineno])
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    return "\n".join(line[indent:] if line[:indent].strip() == "" else line for line in text.splitlines())


def _with_docstring(function_text: str, target: FunctionInfo) -> str:
    """The candidate's function, with the original's docstring when it dropped it.

    Small models often leave the docstring out; the user's documentation (and
    the doctests in it) must not go with it. A docstring the candidate wrote
    itself is kept: that one is deliberate.
    """
    original = _docstring_lines(target.source)
    if original is None:
        return function_text
    try:
        node = ast.parse(function_text).body[0]
    except (SyntaxError, ValueError, IndexError):
        return function_text
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or ast.get_docstring(node) is not None:
        return function_text
    first = node.body[0]
    if first.lineno == node.lineno:
        return function_text  # a one-line `def f(): return x` has no room for it
    lines = function_text.split("\n")
    if lines[first.lineno - 1][: first.col_offset].strip():
        return function_text  # the body starts on the header's last line (`    b): return a + b`)
    body_indent = " " * first.col_offset
    docstring_indent, docstring = original
    moved = [body_indent + line[len(docstring_indent) :] if line.startswith(docstring_indent) else line for line in docstring]
    return "\n".join(lines[: first.lineno - 1] + moved + lines[first.lineno - 1 :])


def _docstring_lines(function_source: str) -> tuple[str, list[str]] | None:
    """(body indentation, lines) of the docstring statement of a function's source, as written."""
    try:
        node = ast.parse(function_source).body[0]
    except (SyntaxError, ValueError, IndexError):
        return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or ast.get_docstring(node) is None:
        return None
    first = node.body[0]
    if first.lineno == node.lineno:
        return None
    lines = function_source.split("\n")[first.lineno - 1 : first.end_lineno]
    if lines[0][: first.col_offset].strip():
        return None  # it shares its line with the header: no lines of its own to move
    return " " * first.col_offset, lines


def behaviour_fingerprint(code: str) -> str:
    """Like `code_fingerprint`, but docstrings do not count either: a copy of the
    original with another docstring is still the original."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and ast.get_docstring(node) is not None
        ):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_fingerprint(code: str) -> str:
    """Identical programs up to formatting and comments get the same fingerprint."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return code
