"""The package's shape: no import cycle between its modules, and a search core that imports
neither the editor's library (pygls) nor the inference engine (llama_cpp)."""

from __future__ import annotations

import ast
from pathlib import Path

import orps_lsp

PACKAGE = Path(orps_lsp.__file__).resolve().parent
# The engine: the search, its prompts and scoring, the final pick, the settings and the contract.
CORE = (
    "search",
    "search_task",
    "budget",
    "model_calls",
    "search_lab",
    "search_warnings",
    "prompts",
    "scoring",
    "final_pick",
    "extract",
    "config",
    "settings_schema",
    "contract",
    "engine",
    "report",
    "render",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules `name` imports when it is imported (module level, TYPE_CHECKING blocks left out)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def test_no_import_cycle():
    modules = _modules()
    graph = {name: {m for m in _imports(name, path, modules) if m in modules and m != name} for name, path in modules.items()}
    cycles, state = [], {}

    def walk(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for follower in sorted(graph[name]):
            if state.get(follower) == "open":
                cycles.append(trail[trail.index(follower) :] + [follower])
            elif follower not in state:
                walk(follower, [*trail, follower])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not cycles, cycles


def test_the_search_core_imports_neither_pygls_nor_llama_cpp():
    modules = _modules()
    for short in CORE:
        name = f"orps_lsp.{short}"
        outside = {m.split(".")[0] for m in _imports(name, modules[name], modules)}
        assert not outside & {"pygls", "lsprotocol", "llama_cpp"}, (name, outside)
