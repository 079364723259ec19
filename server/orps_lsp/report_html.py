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

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from .render import _fmt_time as format_time  # one time format for the text and HTML reports
from .files import atomic_file
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
    return _PAGE.format(
        title=escape(title),
        # The SVG's own size is only known here; a style rule keeps the page free of style attributes.
        css=_CSS + f"#tree {{ min-width: {width * MIN_SCALE:.0f}px; }}\n",
        header=_header(data),
        svg=_svg(data, boxes, width, height),
        data=_script_json(data),
        script=_SCRIPT,
    )


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
    children: dict[Any, list[dict]] = {ROOT: []}
    for node in nodes:
        parent = node.get("parent")
        children.setdefault(parent if parent in ids else ROOT, []).append(node)
    column: dict[Any, float] = {}
    next_leaf = 0

    def place(key: Any, trail: frozenset) -> float:  # trail guards against a cyclic report
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
            edges.append(f'<path class="edge{" best-path" if on_path else ""}" '
                         f'd="M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"/>')
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
    return (f'<svg id="tree" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="search tree">'
            f'<g class="edges">{"".join(edges)}</g><g class="nodes">{"".join(groups)}</g></svg>')


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
    warnings = "".join(f'<li class="warning">{escape(w)}</li>' for w in data.get("warnings", []))
    tests = "".join(f"<li><code>{escape(str(path))}</code>: {escape(str(why))}</li>"
                    for path, why in (data.get("tests") or {}).items())
    return (
        f"<h1>ORPS {escape(str(data.get('mode', '')))}: <code>{escape(str(data.get('function', '')))}</code></h1>"
        f'<p class="file">{escape(str(data.get("file", "")))}</p>'
        f'<p class="verdict">{escape(str(data.get("verdict", "")))}</p>'
        f'<p class="facts">{escape(" · ".join(facts))}</p>'
        + (f"<ul>{warnings}</ul>" if warnings else "")
        + (f'<details class="tests"><summary>tests that judged it, and why</summary><ul>{tests}</ul></details>'
           if tests else "")
        + (f'<details class="tests" open><summary>a test your suite lacks (the original passes it; a refused '
           f'rewrite did not)</summary><pre class="text">{escape(str(data["missing_test"]))}</pre></details>'
           if data.get("missing_test") else "")
    )


def _script_json(data: dict[str, Any]) -> str:
    """JSON that is safe inside <script>: no '</script>', no HTML-significant characters."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>{header}
<p class="legend"><span class="key pass"></span>all tests pass <span class="key partial"></span>some
<span class="key fail"></span>none <span class="key invalid"></span>invalid <span class="key best-path"></span>chosen path
· click a box for its code, execution and critique</p></header>
<main><div id="tree-box">{svg}</div><aside id="panel" aria-live="polite"></aside></main>
<script>window.ORPS_REPORT = {data};
{script}</script>
</body>
</html>
"""

_CSS = """
:root { --fg: var(--vscode-foreground, #1f2328); --bg: var(--vscode-editor-background, #ffffff);
  --muted: var(--vscode-descriptionForeground, #656d76); --line: var(--vscode-panel-border, #d0d7de);
  --box: var(--vscode-editorWidget-background, #f6f8fa); --accent: var(--vscode-focusBorder, #0969da);
  --pass: #1a7f37; --partial: #bf8700; --fail: #cf222e; --mono: var(--vscode-editor-font-family, ui-monospace, monospace); }
* { box-sizing: border-box; }
body { margin: 0; padding: 12px 16px; color: var(--fg); background: var(--bg);
  font: 13px/1.45 var(--vscode-font-family, system-ui, sans-serif); }
h1 { font-size: 17px; margin: 0 0 2px; } h2 { font-size: 14px; margin: 14px 0 4px; }
p { margin: 2px 0; } .file, .facts, .legend { color: var(--muted); } .verdict { font-weight: 600; }
.warning { color: var(--partial); }
main { display: flex; gap: 12px; margin-top: 10px; align-items: flex-start; }
#tree { display: block; max-width: 100%; height: auto; }
#tree-box { flex: 1 1 auto; min-width: 0; overflow: auto; max-height: calc(100vh - 130px); border: 1px solid var(--line); border-radius: 6px; }
#panel { flex: 0 0 380px; max-height: calc(100vh - 130px); overflow: auto; border: 1px solid var(--line);
  border-radius: 6px; padding: 8px 12px; }
#panel:empty::before { content: "Click a box in the tree."; color: var(--muted); }
pre { font: 12px/1.4 var(--mono); background: var(--box); padding: 8px; border-radius: 4px; overflow: auto; white-space: pre; }
pre.text { white-space: pre-wrap; }
table { border-collapse: collapse; } td { padding: 1px 10px 1px 0; vertical-align: top; } td:first-child { color: var(--muted); }
.edge { fill: none; stroke: var(--line); stroke-width: 1.5; }
.edge.best-path { stroke: var(--accent); stroke-width: 3; }
.node { cursor: pointer; outline: none; }
.node rect { fill: var(--box); stroke: var(--muted); stroke-width: 1.5; }
.node.pass rect { stroke: var(--pass); } .node.partial rect { stroke: var(--partial); } .node.fail rect { stroke: var(--fail); }
.node.invalid { opacity: 0.45; } .node.invalid rect { stroke-dasharray: 4 3; }
.node.best-path rect { stroke: var(--accent); stroke-width: 3; }
.node.best rect { fill: color-mix(in srgb, var(--accent) 14%, var(--box)); }
.node.selected rect, .node:focus-visible rect { stroke: var(--fg); stroke-width: 3; }
.node text { fill: var(--fg); font: 11.5px var(--mono); pointer-events: none; } .node text.line0 { font-weight: 700; }
.key { display: inline-block; width: 12px; height: 12px; margin: 0 3px 0 10px; vertical-align: -1px; border: 2px solid var(--muted); border-radius: 3px; }
.key.pass { border-color: var(--pass); } .key.partial { border-color: var(--partial); } .key.fail { border-color: var(--fail); }
.key.invalid { opacity: 0.45; border-style: dashed; } .key.best-path { border-color: var(--accent); border-width: 3px; }
summary { cursor: pointer; color: var(--muted); margin-top: 6px; }
/* A narrow window (a webview beside the editor): the panel goes under the tree. */
@media (max-width: 900px) {
  main { flex-direction: column; align-items: stretch; }
  #tree-box, #panel { max-height: none; } #panel { flex: 0 0 auto; }
}
"""

# The side panel. Everything from the report goes in through textContent, never innerHTML.
_SCRIPT = """(function () {
  "use strict";
  var report = window.ORPS_REPORT || {};
  var nodes = {};
  (report.nodes || []).forEach(function (n) { nodes[String(n.id)] = n; });
  var panel = document.getElementById("panel");

  function time(s) {
    if (s === null || s === undefined) return "-";
    if (s < 1e-6) return "<1 us";
    if (s < 1e-3) return (s * 1e6).toFixed(0) + " us";
    if (s < 1) return (s * 1e3).toFixed(2) + " ms";
    return s.toFixed(2) + " s";
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function table(rows) {
    var t = el("table");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      var tr = el("tr"); tr.appendChild(el("td", r[0])); tr.appendChild(el("td", String(r[1]))); t.appendChild(tr);
    });
    return t;
  }
  function execution(x) {
    if (!x) return [el("p", "Not run (a duplicate, or the search stopped first).")];
    var st = x.static || {};
    var out = [table([
      ["tests passed", x.passed + "/" + x.total],
      ["time in tests (wall)", time(x.wall_time)], ["time in tests (CPU)", time(x.cpu_time)],
      ["instructions", x.instructions ? x.instructions.toLocaleString() + " (" + x.instruction_counter + ")" : null],
      ["peak memory", x.peak_rss_kb ? (x.peak_rss_kb / 1024).toFixed(1) + " MiB" : null],
      ["line coverage", x.coverage === null || x.coverage === undefined ? null : Math.round(x.coverage * 100) + "%"],
      ["complexity / NLOC", st.cyclomatic_complexity + " / " + st.nloc],
      ["timed out", x.timed_out ? "yes" : null], ["error", x.error],
      ["captured calls", x.capture ? x.capture.usable + " kept of " + x.capture.captured : null],
      ["replayed calls", x.behaviour && x.behaviour.compared ?
        x.behaviour.identical + "/" + x.behaviour.compared + " identical to the original" : null],
      ["generated inputs", x.capture && x.capture.generated ? x.capture.generated + " judge" :
        x.behaviour && x.behaviour.generated_compared ?
        x.behaviour.generated_identical + "/" + x.behaviour.generated_compared + " identical to the original" : null],
      ["CrossHair", x.behaviour && x.behaviour.cross_check ? (x.behaviour.cross_check.seconds === null ?
        "not run: " + x.behaviour.cross_check.note : x.behaviour.cross_check.different ?
        x.behaviour.cross_check.different + " difference(s) in " + x.behaviour.cross_check.seconds + " s" :
        "no difference in " + x.behaviour.cross_check.seconds + " s") : null]
    ])];
    if (x.behaviour && x.behaviour.differences && x.behaviour.differences.length) {
      out.push(el("pre", "Behaves differently from the original:\\n" + x.behaviour.differences.join("\\n"), "text"));
    }
    var failing = (x.tests || []).filter(function (t) { return t.outcome !== "passed"; });
    if (failing.length) {
      out.push(el("pre", failing.map(function (t) {
        return t.outcome.toUpperCase() + " " + t.nodeid + (t.message ? "\\n  " + t.message.trim().split("\\n").slice(0, 3).join("\\n  ") : "");
      }).join("\\n"), "text"));
    }
    if (x.output_tail) {  // mostly pytest's own noise: folded unless the run went wrong
      var details = el("details"); details.open = !!(x.error || x.timed_out);
      details.appendChild(el("summary", "output")); details.appendChild(el("pre", x.output_tail, "text"));
      out.push(details);
    }
    return out;
  }
  function show(key) {
    var n = nodes[key], original = key === "original";
    if (!n && !original) return;
    panel.textContent = "";
    var add = function (e) { panel.appendChild(e); };
    if (original) {
      add(el("h2", "The original code"));
    } else {
      add(el("h2", "#" + n.id + " in round " + (n.depth + 1) + (n.id === report.best_id ? " (chosen)" : "")));
      if (n.strategy) add(el("p", "Strategy: " + n.strategy));
      if (!n.valid) add(el("p", "Invalid: " + (n.invalid_reason || "no usable code"), "warning"));
    }
    add(el("h2", "Execution"));
    execution(original ? report.original : n.execution).forEach(add);
    if (!original) {
      var c = n.critique || {}, s = n.scores || {};
      add(el("h2", "Critique" + (c.score !== null && c.score !== undefined ? " (" + c.score + "/5)" : "")));
      add(el("pre", c.text || "(none)", "text"));
      add(el("h2", "Scores"));
      add(table([["step", (s.step || 0).toFixed(3)], ["process (critic)", (s.process || 0).toFixed(3)],
        ["outcome (tests, profile)", (s.outcome || 0).toFixed(3)], ["pass ratio", (s.pass_ratio || 0).toFixed(3)],
        ["efficiency", (s.efficiency || 0).toFixed(3)], ["alpha / beta", s.alpha + " / " + s.beta]]));
      if (n.reasoning) { add(el("h2", "Reasoning")); add(el("pre", n.reasoning, "text")); }
    }
    add(el("h2", "Code"));
    add(el("pre", original ? report.original_code : n.code || "(none)"));
    document.querySelectorAll(".node.selected").forEach(function (g) { g.classList.remove("selected"); });
    var box = document.querySelector('.node[data-node="' + key + '"]');
    if (box) { box.classList.add("selected"); if (box.scrollIntoView) box.scrollIntoView({block: "nearest", inline: "nearest"}); }
  }
  document.querySelectorAll(".node").forEach(function (g) {
    var key = g.getAttribute("data-node");
    g.addEventListener("click", function () { show(key); });
    g.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(key); }
    });
  });
  show(report.best_id !== null && report.best_id !== undefined ? String(report.best_id) : "original");
})();
"""

__all__ = ["render_html", "write_html", "layout", "best_path", "SCRIPT_TAG", "ROOT"]
