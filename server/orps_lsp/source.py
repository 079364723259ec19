"""Finding the target function in a module and putting a candidate in its place.

Works on source text with `ast` positions so that everything outside the
function (comments, formatting, other code) is kept byte for byte.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class SourceError(Exception):
    """The file or the function cannot be used (one clear message)."""


@dataclass
class FunctionInfo:
    qualname: str  # "f" or "Class.method"
    name: str
    class_name: str | None
    start_line: int  # 1-based, first decorator line
    def_line: int  # 1-based, the `def` line
    end_line: int  # 1-based, inclusive
    header_end_line: int  # 1-based, last line of the `def ...:` header (0 for a one-liner)
    indent: str  # the indentation of the `def` line
    is_async: bool
    is_stub: bool
    docstring: str | None
    params: list[str] = field(default_factory=list)  # positional names, in order
    required_positional: int = 0
    kwonly: list[str] = field(default_factory=list)
    source: str = ""  # the function's own text (decorators included), dedented

    @property
    def header(self) -> str:
        """Decorators and the `def ...:` header as written, dedented; empty for a one-liner."""
        if not self.header_end_line:
            return ""
        return "\n".join(self.source.split("\n")[: self.header_end_line - self.start_line + 1])


def parse_module(source: str, filename: str = "<module>") -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise SourceError(f"{filename}:{exc.lineno}: syntax error: {exc.msg}. Fix the file before searching.") from None


def _is_stub_body(body: list[ast.stmt]) -> bool:
    """A body that is only a docstring and `...`, `pass` or `raise NotImplementedError`."""
    stmts = list(body)
    first = stmts[0] if stmts else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        stmts = stmts[1:]
    if not stmts:
        return True
    if len(stmts) != 1:
        return False
    only = stmts[0]
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant) and only.value.value is Ellipsis:
        return True
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _functions(body: list[ast.stmt]) -> Iterator[tuple[str, ast.ClassDef | None, FunctionNode]]:
    """Yield (qualname, owning class, node) for module functions and methods of top-level classes."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, None, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{item.name}", node, item


def function_definitions(body: list[ast.stmt], qualname: str) -> list[tuple[ast.ClassDef | None, FunctionNode]]:
    """Each definition of `qualname` ("f" or "Class.method") in a module's `body`: a module-level
    function or a method of a top-level class, with the class that holds it, in source order.
    The one lookup by name: callers choose among redefinitions (a property's setter, a function
    written twice): find_function the last (what Python binds); import_time the first; extract
    a method's last definition, else the first plain function."""
    return [(owner, node) for name, owner, node in _functions(body) if name == qualname]


def _info(source: str, qualname: str, owner: ast.ClassDef | None, node: FunctionNode) -> FunctionInfo:
    lines = source.splitlines(keepends=True)
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    end = node.end_lineno or node.lineno
    def_text = lines[node.lineno - 1]
    indent = def_text[: len(def_text) - len(def_text.lstrip())]
    args = node.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    required = len(positional) - len(args.defaults)
    return FunctionInfo(
        qualname=qualname,
        name=node.name,
        class_name=owner.name if owner is not None else None,
        start_line=start,
        def_line=node.lineno,
        end_line=end,
        header_end_line=node.body[0].lineno - 1 if node.body[0].lineno > node.lineno else 0,
        indent=indent,
        is_async=isinstance(node, ast.AsyncFunctionDef),
        is_stub=_is_stub_body(node.body),
        docstring=ast.get_docstring(node),
        params=positional,
        required_positional=required,
        kwonly=[a.arg for a in args.kwonlyargs],
        source=textwrap.dedent("".join(lines[start - 1 : end])),
    )


def find_function(source: str, qualname: str, filename: str = "<module>") -> FunctionInfo:
    tree = parse_module(source, filename)
    definitions = function_definitions(tree.body, qualname)
    if not definitions:
        nested = _nested_names(tree)
        if qualname.split(".")[-1] in nested:
            raise SourceError(
                f"{filename}: '{qualname}' is a nested function; only module-level functions "
                "and methods of top-level classes can be searched (their tests cannot call a nested one)."
            )
        known = ", ".join(sorted({q for q, _, _ in _functions(tree.body)})) or "none"
        raise SourceError(f"{filename}: no function '{qualname}' (functions here: {known}).")
    owner, node = definitions[-1]  # a redefinition replaces the earlier one, as when Python runs the module
    return _info(source, qualname, owner, node)


def _nested_names(tree: ast.Module) -> set[str]:
    top = {id(n) for _, _, n in _functions(tree.body)}
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(n) not in top}


def function_at(source: str, line: int, filename: str = "<module>") -> FunctionInfo | None:
    """The searchable function whose text holds 1-based `line` (innermost method wins)."""
    tree = parse_module(source, filename)
    best = None
    for qualname, owner, node in _functions(tree.body):
        info = _info(source, qualname, owner, node)
        if info.start_line <= line <= info.end_line:
            if best is None or info.start_line >= best.start_line:
                best = info
    return best


def all_functions(source: str, filename: str = "<module>") -> list[FunctionInfo]:
    tree = parse_module(source, filename)
    return [_info(source, q, owner, n) for q, owner, n in _functions(tree.body)]


def _import_lines(tree: ast.Module, source: str) -> set[str]:
    return {ast.get_source_segment(source, n) or "" for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}


def _import_insert_line(tree: ast.Module) -> int:
    """0-based line index after the module docstring, __future__ imports and leading imports."""
    index = 0
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if is_doc and index == 0 or isinstance(node, (ast.Import, ast.ImportFrom)):
            index = node.end_lineno or node.lineno
            continue
        break
    return index


def replace_function(source: str, qualname: str, imports: list[str], definitions: str, module_definitions: str = "") -> str:
    """Return `source` with `qualname` replaced by `definitions`.

    `definitions` is the candidate's function (and any helper functions it
    wrote), unindented. It is re-indented to the original's level; `imports`
    missing from the module are added after its leading imports. For a method,
    `module_definitions` (the helpers it calls) go at module level, right
    before its class.
    """
    info = find_function(source, qualname)
    tree = parse_module(source)
    lines = source.splitlines(keepends=True)
    body = textwrap.indent(definitions.strip("\n") + "\n", info.indent, lambda line: bool(line.strip()))
    new_lines = lines[: info.start_line - 1] + [body] + lines[info.end_line :]
    if module_definitions.strip() and info.class_name:
        owner = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == info.class_name)
        at = min([d.lineno for d in owner.decorator_list] + [owner.lineno]) - 1
        new_lines[at:at] = [module_definitions.strip("\n") + "\n\n\n"]
    present = _import_lines(tree, source)
    missing = [imp for imp in dict.fromkeys(imports) if imp not in present]
    if missing:
        at = _import_insert_line(tree)
        has_imports = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)
        # A new import block gets a blank line between it and its neighbours.
        block = [imp + "\n" for imp in missing]
        if not has_imports:
            block = (["\n"] if at else []) + block + ["\n"]
        new_lines[at:at] = block
    result = "".join(new_lines)
    parse_module(result)  # a replacement must never produce a broken file
    return result
