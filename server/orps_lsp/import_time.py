"""What a candidate module runs when it is imported, beyond what the user's module runs.

A candidate replaces one function, but it is judged as a whole module: whatever
it adds at module level runs when the tests import it, before any test and
before the judge can tell test code from candidate code. A decorator, a default
value or `NAME = f()` is enough to put a look-alike test module in
`sys.modules`, install an import hook that strips asserts, or patch pytest.
So the candidate may add to module level only what the function needs and what
runs no code of its own: imports, definitions (`def`, `class`) and constants,
with decorators, defaults, annotations, bases and values that are *inert*:
literals, names, attributes, operators, and calls of a short list of standard
constructors and pure functions (`frozenset`, `re.compile`, `functools.lru_cache`
...). Lambdas count by their bodies; names of the module's own functions and
classes may not be handed to a call (it could call them). Statements identical
to the user's own module-level statements are the user's code and pass as they are.

The check is static and conservative: a candidate refused here only loses the
shortcut it tried (precomputing a table at import, say); its function can still
do the work when called. It is evidence, not proof of harmlessness: the function
body runs when called, and the sandbox and the judge are what contain that.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from .source import function_definitions

# Called at import, they run no code of the candidate's (beyond the inert arguments checked).
_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "ascii",
        "bin",
        "bool",
        "bytearray",
        "bytes",
        "chr",
        "complex",
        "dict",
        "divmod",
        "enumerate",
        "float",
        "frozenset",
        "hex",
        "int",
        "len",
        "list",
        "max",
        "min",
        "object",
        "oct",
        "ord",
        "pow",
        "range",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
        "staticmethod",
        "classmethod",
        "property",  # as decorators
    }
)
_MODULE_FUNCTIONS = {
    "re": {"compile", "escape"},
    "functools": {"lru_cache", "cache", "cached_property", "partial", "total_ordering", "wraps", "singledispatch"},
    "collections": {"namedtuple", "deque", "Counter", "OrderedDict", "defaultdict"},
    "dataclasses": {"dataclass", "field"},
    "typing": {"NamedTuple", "TypeVar", "overload", "final", "cast", "NewType"},
    "abc": {"abstractmethod"},
    "enum": {"auto", "unique"},
    "string": {"Template"},
    "struct": {"Struct"},
    "array": {"array"},
    "decimal": {"Decimal"},
    "fractions": {"Fraction"},
    "math": {
        "sqrt",
        "isqrt",
        "log",
        "log2",
        "log10",
        "exp",
        "factorial",
        "comb",
        "perm",
        "gcd",
        "lcm",
        "ceil",
        "floor",
        "pow",
        "prod",
        "fsum",
    },
    "operator": {"itemgetter", "attrgetter"},
    "itertools": {"count", "repeat", "chain", "product", "permutations", "combinations", "islice"},
    "sys": {"intern"},
}
_STR_METHODS = frozenset({"maketrans", "join", "split", "upper", "lower", "format", "encode"})
# Parameters whose value the callee calls: only an inert lambda or a listed callable may go there.
_CALLED_KEYWORDS = frozenset({"key", "default_factory"})
# Hooks Python calls on a class (at its creation, on `C[...]`) rather than on an instance.
_CLASS_HOOKS = frozenset({"__init_subclass__", "__class_getitem__", "__set_name__", "__prepare__", "__mro_entries__"})
# Decorators that define a property's other halves (`@value.setter`).
_PROPERTY_PARTS = frozenset({"setter", "getter", "deleter"})


def added_import_time_code(original: str, candidate: str, function: str) -> list[str]:
    """What `candidate`'s module level runs at import that `original`'s does not, one
    "line N: what" each; empty when the candidate adds nothing but inert definitions.
    `function` is the replaced function ("f" or "Class.method")."""
    try:
        original_tree, candidate_tree = ast.parse(original), ast.parse(candidate)
    except (SyntaxError, ValueError):
        return []  # the executor reports the syntax error itself
    class_name, _, name = function.rpartition(".")
    checker = _Checker(_bindings(candidate_tree), *_defined_names(candidate_tree))
    original_class = _find_class(original_tree.body, class_name) if class_name else None
    # The first definition, in the first class of that name (the one the checks below look at).
    target = next((node for owner, node in function_definitions(original_tree.body, function) if owner is original_class), None)
    if class_name:
        user_classes = [original_class] if original_class is not None else []
        checker.statements(
            candidate_tree.body,
            _dumps(original_tree.body, exclude=user_classes),
            user_class=(class_name, original_class, name, target),
        )
    else:
        checker.statements(candidate_tree.body, _dumps(original_tree.body, exclude=[target]), target=(name, target))
    return checker.found


def _dumps(statements: Iterable[ast.stmt], exclude: Iterable[ast.AST | None] = ()) -> set[str]:
    left_out = {id(node) for node in exclude if node is not None}
    return {ast.dump(node) for node in statements if id(node) not in left_out}


def _find_class(body: list[ast.stmt], name: str) -> ast.ClassDef | None:
    return next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node that runs at import: not the bodies of functions (nor of lambdas)."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(_evaluated_at_def(node))
        elif isinstance(node, ast.Lambda):
            pending.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None)
        else:
            pending.extend(ast.iter_child_nodes(node))


def _bindings(tree: ast.Module) -> dict[str, str]:
    """Names bound by the module's imports, to the dotted name they stand for."""
    bound: dict[str, str] = {}
    for node in _module_level(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                prefix = "." * node.level + (node.module or "")
                bound[alias.asname or alias.name] = f"{prefix}.{alias.name}" if prefix else alias.name
    return bound


def _defined_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names the module binds to something other than an import (a name the module
    defines is not the builtin of that name), and of those, its functions and classes
    (code a call handed them could run)."""
    names: set[str] = set()
    code: set[str] = set()
    for node in _module_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            code.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            code.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names, code


def _callee(node: ast.expr) -> str | None:
    """`a.b.c` as text, or None when it is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Checker:
    def __init__(self, bindings: dict[str, str], defined: set[str], own_code: set[str]) -> None:
        self.found: list[str] = []
        self._bindings = bindings
        self._defined = defined
        self._own_code = own_code

    def _say(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.found.append(f"line {line}: {what}")

    # -- statements -----------------------------------------------------------

    def statements(
        self,
        body: list[ast.stmt],
        users: set[str],
        *,
        target: tuple[str, ast.AST | None] | None = None,
        user_class: tuple[str, ast.ClassDef | None, str, ast.AST | None] | None = None,
        in_class: bool = False,
    ) -> None:
        for node in body:
            if ast.dump(node) in users:
                continue  # the user's own statement, as written
            if target is not None and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == target[0]:
                self.function(node, target[1])
            elif user_class is not None and isinstance(node, ast.ClassDef) and node.name == user_class[0]:
                self.user_class(node, *user_class[1:])
            else:
                self.statement(node, in_class)

    def statement(self, node: ast.stmt, in_class: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring or a stray literal
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node, None)
        elif isinstance(node, ast.ClassDef):
            self.new_class(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self.assignment_target(target)
            if isinstance(node, ast.AnnAssign):
                self.expression(node.annotation, "an annotation")
            if node.value is not None:
                self.expression(node.value, "a value")
        elif isinstance(node, ast.If):
            self.expression(node.test, "a condition")
            self.statements(node.body, set(), in_class=in_class)
            self.statements(node.orelse, set(), in_class=in_class)
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                self.statements(part, set(), in_class=in_class)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expression(handler.type, "an exception type")
        else:
            self._say(node, f"`{_text(node)}` runs at import")

    def assignment_target(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if target.id.startswith("__") and target.id not in ("__all__", "__slots__"):
                self._say(target, f"assigns `{target.id}`")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assignment_target(element)
        else:
            self._say(target, f"`{_text(target)} = ...` changes an object at import")

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, user: ast.AST | None) -> None:
        """A definition: what runs when `def` runs (decorators, defaults, annotations),
        not its body. Parts identical to the user's definition's are the user's."""
        users = set() if user is None else {ast.dump(part) for part in _evaluated_at_def(user)}
        for decorator in node.decorator_list:
            if ast.dump(decorator) not in users:
                self.decorator(decorator)
        for part in _evaluated_at_def(node, decorators=False):
            if ast.dump(part) not in users:
                self.expression(part, "a default or annotation")

    def new_class(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.decorator(decorator)
        for base in node.bases:
            self.expression(base, "a base class")
        for keyword in node.keywords:
            self._say(keyword, f"class keyword `{keyword.arg}=` (a metaclass runs code)")
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in _CLASS_HOOKS:
                self._say(item, f"defines `{item.name}`, which runs when the class is made or used")
        self.statements(node.body, set(), in_class=True)

    def user_class(self, node: ast.ClassDef, original: ast.ClassDef | None, method: str, target: ast.AST | None) -> None:
        """The class of a replaced method: the header as the user wrote it, the user's
        statements, the method, and inert additions."""
        if original is None:
            self.new_class(node)
            return
        header = [ast.dump(part) for part in (*node.decorator_list, *node.bases, *node.keywords)]
        if header != [ast.dump(part) for part in (*original.decorator_list, *original.bases, *original.keywords)]:
            self._say(node, f"the header of class `{node.name}` differs from the user's")
        for item in node.body:
            if (
                isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                and item.name in _CLASS_HOOKS
                and ast.dump(item) not in _dumps(original.body)
            ):
                self._say(item, f"defines `{item.name}`, which runs when the class is made or used")
        self.statements(node.body, _dumps(original.body, exclude=[target]), target=(method, target), in_class=True)

    def decorator(self, node: ast.expr) -> None:
        """A decorator is called with the function: it must be a listed callable, a call of
        one (whose result is listed code), or a property's `.setter`."""
        if isinstance(node, ast.Attribute) and node.attr in _PROPERTY_PARTS and isinstance(node.value, ast.Name):
            return
        if isinstance(node, ast.Call):
            self.expression(node, "a decorator")
            return
        if not self._listed(node):
            self._say(node, f"decorator `@{_text(node)}` runs code at import")

    # -- expressions ----------------------------------------------------------

    def expression(self, node: ast.expr, role: str) -> None:
        for problem in self._problems(node):
            self._say(problem[0], f"{role}: {problem[1]}")
            return  # one finding per expression is enough to refuse it

    def _problems(self, node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
        for child in ast.walk(node):
            if isinstance(child, (ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)):
                yield child, f"`{_text(child)}`"
            elif isinstance(child, ast.Name) and child.id.startswith("__"):
                yield child, f"`{child.id}`"
            elif isinstance(child, ast.Attribute) and child.attr.startswith("__"):
                yield child, f"`.{child.attr}`"
            elif isinstance(child, ast.Call):
                if not self._listed(child.func):
                    yield child, f"calls `{_text(child.func)}` at import"
                for argument in (*child.args, *[k.value for k in child.keywords]):
                    if self._hands_over_own_code(argument):
                        yield argument, f"hands `{_text(argument)}` to `{_text(child.func)}`, which may call it"
                for keyword in child.keywords:
                    if (
                        keyword.arg in _CALLED_KEYWORDS
                        and not isinstance(keyword.value, ast.Lambda)
                        and not self._listed(keyword.value)
                    ):
                        yield keyword.value, f"`{keyword.arg}={_text(keyword.value)}` is called at import"

    def _hands_over_own_code(self, argument: ast.expr) -> bool:
        """A function or class the module defines, passed to a call."""
        return isinstance(argument, ast.Name) and argument.id in self._own_code

    def _listed(self, func: ast.expr) -> bool:
        """Whether `func` is one of the listed callables (through the module's imports)."""
        dotted = _callee(func)
        if dotted is None:
            return False
        head, _, rest = dotted.partition(".")
        if head in self._bindings:
            dotted = self._bindings[head] + ("." + rest if rest else "")
        elif head in self._defined:
            return False  # the module's own `sorted` is not the builtin
        module, _, name = dotted.rpartition(".")
        if not module:
            return name in _BUILTINS
        if module in ("str", "bytes") and name in _STR_METHODS:
            return True
        return name in _MODULE_FUNCTIONS.get(module, ())


def _evaluated_at_def(node: ast.AST, decorators: bool = True) -> list[ast.expr]:
    """What Python evaluates when a `def` statement runs."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    args = node.args
    parts: list[ast.expr] = list(node.decorator_list) if decorators else []
    parts += [d for d in (*args.defaults, *args.kw_defaults) if d is not None]
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    parts += [a.annotation for a in every if a is not None and a.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return parts


def _text(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - a description must never fail the check
        text = type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
