"""The search report as one self-contained HTML page: the search tree drawn in SVG.

    orps-lsp optimize FILE::FUNC --report report.html     (and the VS Code webview)

The tree is drawn here, in Python, so the picture needs no script and the
structure can be tested without a browser; the one inline <script> only adds
the click-to-inspect side panel. That single, attribute-less `<script>` tag is
what lets the VS Code extension stamp it with a CSP nonce (`SCRIPT_TAG`); the
page loads nothing from the network and uses no inline event handlers, so a
strict `default-src 'none'` policy allows it. Colours come from the editor's
theme variables inside a webview, with light defaults in a browser.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from .files import atomic_file
from .render import _fmt_time as format_time  # one time format for the text and HTML reports
from .report import SearchReport

SCRIPT_TAG = "<script>"  # exactly once in the page; the extension replaces it with <script nonce="...">
ROOT = "original"  # the data-node id of the box for the original code

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 160, 66, 14, 40, 14
MIN_SCALE = 0.6  # the tree shrinks to fit the window down to this, then scrolls (text stays readable)


@dataclass
class Box:
    key: str  # data-node: the node id, or ROOT
    x: float
    y: float
    node: dict[str, Any] | None  # None for the original


def render_html(report: SearchReport | dict[str, Any]) -> str:
    """The whole page for a report (a SearchReport, or its `to_dict()` / `--json` form)."""
    data = report.to_dict() if isinstance(report, SearchReport) else report
    boxes, width, height = layout(data)
    title = f"ORPS {data.get('mode', '')}: {data.get('function', '')}"
    return Template(_asset("page.html")).substitute(
        title=escape(title),
        # The SVG's own size is only known here; a style rule keeps the page free of style attributes.
        css=_asset("style.css") + f"#tree {{ min-width: {width * MIN_SCALE:.0f}px; }}\n",
        header=_header(data),
        svg=_svg(data, boxes, width, height),
        data=_script_json(data),
        # The side panel. Everything from the report goes in through textContent, never innerHTML.
        script=_asset("script.js"),
    )


@functools.cache
def _asset(name: str) -> str:
    """A file of the page (report_page/: the HTML with $placeholders, its CSS, its script), read once."""
    return resources.files(__package__).joinpath("report_page", name).read_text(encoding="utf-8")


def write_html(report: SearchReport | dict[str, Any], path: str | Path) -> Path:
    """Write the page to `path` through a temporary file and one rename: never half-written."""
    target = Path(path)
    with atomic_file(target, permissions=0o644) as handle:  # a report is meant to be opened and shared
        handle.write(render_html(report))
    return target


# ------------------------------------------------------------------- layout
def best_path(data: dict[str, Any]) -> set[int]:
    """The ids from the chosen node up to its root candidate (empty when nothing was chosen)."""
    by_id = {n["id"]: n for n in data.get("nodes", [])}
    path, current = set(), data.get("best_id")
    while current is not None and current in by_id and current not in path:
        path.add(current)
        current = by_id[current].get("parent")
    return path


def layout(data: dict[str, Any]) -> tuple[list[Box], int, int]:
    """A top-down tidy tree: leaves side by side, each parent centred over its children.

    The original code is the root; candidates without a (known) parent hang from it.
    """
    nodes = sorted(data.get("nodes", []), key=lambda n: n["id"])
    ids = {n["id"] for n in nodes}
    children: dict[Any, list[dict[str, Any]]] = {ROOT: []}
    for node in nodes:
        parent = node.get("parent")
        children.setdefault(parent if parent in ids else ROOT, []).append(node)
    column: dict[Any, float] = {}
    next_leaf = 0

    def place(key: Any, trail: frozenset[Any]) -> float:  # trail guards against a cyclic report
        nonlocal next_leaf
        kids = [k for k in children.get(key, []) if k["id"] not in trail]
        if not kids:
            column[key], next_leaf = next_leaf, next_leaf + 1
        else:
            xs = [place(k["id"], trail | {k["id"]}) for k in kids]
            column[key] = (xs[0] + xs[-1]) / 2
        return column[key]

    place(ROOT, frozenset())
    rows = {ROOT: 0}
    for node in nodes:  # ids grow with depth, so a parent's row is known before its children's
        parent = node.get("parent")
        rows[node["id"]] = rows.get(parent if parent in ids else ROOT, 0) + 1
    by_id = {n["id"]: n for n in nodes}
    boxes = [
        Box(key=str(key), x=MARGIN + col * (BOX_W + GAP_X), y=MARGIN + rows.get(key, 1) * (BOX_H + GAP_Y), node=by_id.get(key))
        for key, col in column.items()
    ]
    width = int(MARGIN * 2 + max(1, next_leaf) * (BOX_W + GAP_X) - GAP_X)
    height = int(MARGIN * 2 + (max(rows.values()) + 1) * (BOX_H + GAP_Y) - GAP_Y)
    return boxes, width, height


# -------------------------------------------------------------------- pieces
def _tests_line(execution: dict[str, Any] | None) -> str:
    if not execution:
        return "not run"
    if execution.get("error") and not execution.get("total"):
        return "run failed"
    return f"tests {execution.get('passed', 0)}/{execution.get('total', 0)}"


def _box_lines(box: Box, data: dict[str, Any]) -> tuple[str, str, str]:
    if box.node is None:
        execution = data.get("original") or {}
        return "original", _tests_line(execution), format_time(execution.get("wall_time"))
    node = box.node
    head = f"#{node['id']}" + (f" {node['strategy']}" if node.get("strategy") else "")
    if not node.get("valid"):
        return head, "invalid", node.get("invalid_reason") or "no usable code"
    execution = node.get("execution")
    score = (node.get("critique") or {}).get("score")
    critic = f"critic {score}/5" if score is not None else "critic -"
    time = format_time(execution.get("wall_time")) if execution else "-"
    return head, _tests_line(execution), f"{time} · {critic}"


def _outcome_class(execution: dict[str, Any] | None) -> str:
    if not execution or not execution.get("total"):
        return "untested"
    passed, total = execution.get("passed", 0), execution["total"]
    return "pass" if passed == total else ("partial" if passed else "fail")


def _clip(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(data: dict[str, Any], boxes: list[Box], width: int, height: int) -> str:
    path = best_path(data)
    where = {box.key: box for box in boxes}
    edges, groups = [], []
    for box in boxes:
        node = box.node
        if node is not None:
            parent = where.get(str(node.get("parent")), where[ROOT])
            on_path = node["id"] in path
            x1, y1, x2, y2 = parent.x + BOX_W / 2, parent.y + BOX_H, box.x + BOX_W / 2, box.y
            mid = (y1 + y2) / 2
            edges.append(
                f'<path class="edge{" best-path" if on_path else ""}" '
                f'd="M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"/>'
            )
        classes = ["node"]
        if node is None:
            classes += ["root", _outcome_class(data.get("original"))]
        else:
            classes.append(_outcome_class(node.get("execution")) if node.get("valid") else "invalid")
            if node["id"] in path:
                classes.append("best-path")
            if node["id"] == data.get("best_id"):
                classes.append("best")
        lines = _box_lines(box, data)
        tooltip = (node or {}).get("invalid_reason") or (node or {}).get("strategy") or lines[0]
        texts = "".join(
            f'<text class="line{i}" x="10" y="{20 + 19 * i}">{escape(_clip(line))}</text>' for i, line in enumerate(lines)
        )
        groups.append(
            f'<g class="{" ".join(classes)}" data-node="{box.key}" transform="translate({box.x:.0f},{box.y:.0f})" '
            f'tabindex="0" role="button" aria-label="{escape(" - ".join(lines))}">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect width="{BOX_W}" height="{BOX_H}" rx="6"/>{texts}</g>'
        )
    return (
        f'<svg id="tree" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="search tree">'
        f'<g class="edges">{"".join(edges)}</g><g class="nodes">{"".join(groups)}</g></svg>'
    )


def _header(data: dict[str, Any]) -> str:
    stats = data.get("stats") or {}
    facts = [
        f"{len(data.get('nodes', []))} candidates",
        f"{stats.get('candidates_executed', 0)} run",
        f"{stats.get('llm_calls', 0)} LLM calls",
        f"{stats.get('wall_seconds', 0):.0f} s",
        f"stopped by {stats.get('stopped_by') or '-'}",
        f"model {data.get('model', '?')}",
    ]
    # A report written before warnings had codes (--json) lists plain strings.
    warnings = "".join(
        f'<li class="warning" data-code="{escape(str(w["code"]))}">{escape(str(w["message"]))}</li>'
        if isinstance(w, dict)
        else f'<li class="warning">{escape(str(w))}</li>'
        for w in data.get("warnings", [])
    )
    tests = "".join(
        f"<li><code>{escape(str(path))}</code>: {escape(str(why))}</li>" for path, why in (data.get("tests") or {}).items()
    )
    return (
        f"<h1>ORPS {escape(str(data.get('mode', '')))}: <code>{escape(str(data.get('function', '')))}</code></h1>"
        f'<p class="file">{escape(str(data.get("file", "")))}</p>'
        f'<p class="verdict">{escape(str(data.get("verdict", "")))}</p>'
        f'<p class="facts">{escape(" · ".join(facts))}</p>'
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + (f'<details class="tests"><summary>tests that judged it, and why</summary><ul>{tests}</ul></details>' if tests else "")
        + (
            f'<details class="tests" open><summary>a test your suite lacks (the original passes it; a refused '
            f'rewrite did not)</summary><pre class="text">{escape(str(data["missing_test"]))}</pre></details>'
            if data.get("missing_test")
            else ""
        )
    )


def _script_json(data: dict[str, Any]) -> str:
    """JSON that is safe inside <script>: no '</script>', no HTML-significant characters."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = ["render_html", "write_html", "layout", "best_path", "SCRIPT_TAG", "ROOT"]
