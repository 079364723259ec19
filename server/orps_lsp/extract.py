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

from .source import FunctionInfo

_FENCE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)(?:```|\Z)", re.DOTALL)


@dataclass
class Candidate:
    imports: list[str] = field(default_factory=list)
    definitions: str = ""  # the function plus helpers, unindented
    reasoning: str = ""
    error: str = ""  # why this answer yields no usable candidate

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def code(self) -> str:
        return "\n".join(self.imports + ([""] if self.imports else []) + [self.definitions]).strip("\n")


def split_answer(text: str) -> tuple[str, str | None]:
    """Return (reasoning, code) from an answer: the first python fence wins.

    Falls back to any fence, then to the text from the first `def`/`import`.
    """
    fences = list(_FENCE.finditer(text))
    chosen = next((m for m in fences if m.group("lang").lower() in ("python", "py", "python3")), None)
    chosen = chosen or (fences[0] if fences else None)
    if chosen is not None:
        return text[: chosen.start()].strip(), chosen.group("body")
    match = re.search(r"^(?:async\s+def|def|import|from|@)\s", text, re.MULTILINE)
    if match:
        return text[: match.start()].strip(), text[match.start() :]
    return text.strip(), None


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
    names_needed = original.params[len(args.posonlyargs):] + original.kwonly
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

    function_node = None
    helpers: list[ast.stmt] = []
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == target.name and function_node is None:
                function_node = node
            elif not node.name.startswith("test") and node.name != target.name:
                helpers.append(node)
        elif isinstance(node, ast.ClassDef) and target.class_name and node.name == target.class_name:
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == target.name:
                    function_node = item
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("Test"):
            helpers.append(node)
        elif _is_constant_assignment(node):
            helpers.append(node)
        # anything else (prints, asserts, `if __name__ == ...`, example calls) is dropped

    if function_node is None:
        return Candidate(reasoning=reasoning, error=f"the code does not define '{target.name}'")
    if isinstance(function_node, ast.AsyncFunctionDef) != target.is_async:
        kind = "async" if target.is_async else "a plain (non-async)"
        return Candidate(reasoning=reasoning, error=f"'{target.name}' must stay {kind} function")
    mismatch = _accepts_calls_of(function_node, target)
    if mismatch:
        return Candidate(reasoning=reasoning, error=f"incompatible signature: {mismatch}")
    if target.class_name:
        helpers = []  # a method's helpers would become methods of the class: keep the method alone
    parts = [_segment(code, n) for n in helpers if n.lineno < function_node.lineno]
    parts.append(_segment(code, function_node))
    parts += [_segment(code, n) for n in helpers if n.lineno > function_node.lineno]
    return Candidate(imports=imports, definitions="\n\n\n".join(parts), reasoning=reasoning)


def _segment(code: str, node: ast.stmt) -> str:
    """The node's source text as written (comments kept), decorators included."""
    lines = code.splitlines()
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    text = "\n".join(lines[start - 1 : node.end_lineno])
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    return "\n".join(line[indent:] if line[:indent].strip() == "" else line for line in text.splitlines())


def code_fingerprint(code: str) -> str:
    """Identical programs up to formatting and comments get the same fingerprint."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return code
