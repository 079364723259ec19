"""The HTML search report: its structure, and what a real browser draws of it.

The browser tests drive Debian's headless Chromium (`apt-get install chromium`);
they are skipped, saying why, only when it is absent and cannot be installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fakes import report as execution
from orps_lsp.cli import main as cli_main
from orps_lsp.contract import ReportWarning, WarningCode
from orps_lsp.report import Critique, Node, PerCallBenchmark, Scores, SearchReport, SearchStats
from orps_lsp.report_html import ROOT, SCRIPT_TAG, best_path, render_html, write_html

SLOW = "def has_duplicates(items):\n    return any(items.count(x) > 1 for x in items)\n"
FAST = "def has_duplicates(items):\n    return len(set(items)) != len(items)\n"


def node(
    id: int,
    parent: int | None,
    depth: int,
    *,
    passed: int = 6,
    cpu: float = 0.004,
    score: int | None = 4,
    valid: bool = True,
    code: str = FAST,
) -> Node:
    return Node(
        id=id,
        parent=parent,
        depth=depth,
        strategy=f"idea {id}",
        code=code if valid else "",
        valid=valid,
        invalid_reason="" if valid else "no code block in the answer",
        execution=execution(passed, 6, cpu) if valid else None,
        critique=Critique(text=f"critique of {id}: uses a set </script><b>", score=score) if valid else None,
        scores=Scores(process=0.75, outcome=passed / 6, pass_ratio=passed / 6, step=0.5 + id / 100),
    )


def sample_report() -> SearchReport:
    """Beam 2, 3 expansions, depth 2: 3 roots, 2 kept, 3 children each; #7 wins, #2 is invalid."""
    nodes = [
        node(0, None, 0, cpu=0.006),
        node(1, None, 0, passed=3, score=2),
        node(2, None, 0, valid=False),
        node(3, 0, 1, cpu=0.003),
        node(4, 0, 1, passed=0, score=1),
        node(5, 0, 1, cpu=0.005),
        node(6, 1, 1, passed=5),
        node(7, 1, 1, cpu=0.001, score=5),
        node(8, 1, 1, valid=False),
    ]
    return SearchReport(
        mode="optimize",
        file="slowmath.py",
        function="has_duplicates",
        model="scripted",
        original_code=SLOW,
        original=execution(6, 6, 0.02),
        nodes=nodes,
        best_id=7,
        improved=True,
        new_source=FAST,
        verdict="improved: 20.0x faster, 6/6 tests pass",
        warnings=[ReportWarning(WarningCode.WEAK_TESTS, "weak tests: 2 lines never run")],
        stats=SearchStats(llm_calls=18, candidates_executed=7, wall_seconds=42, stopped_by="depth"),
    )


class Boxes(HTMLParser):
    """The SVG node groups of a page, and the scripts in it."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, set[str]] = {}  # data-node -> classes
        self.scripts: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "g" and "data-node" in attributes:
            self.nodes[attributes["data-node"]] = set(attributes.get("class", "").split())
        if tag == "script":
            self.scripts.append(attributes)


def parse(html: str) -> Boxes:
    boxes = Boxes()
    boxes.feed(html)
    return boxes


def embedded_report(html: str) -> dict:
    data = re.search(r"window\.ORPS_REPORT = (.*?);\n", html).group(1)
    return json.loads(data)


# ------------------------------------------------------------------ structure
def test_one_box_per_node_plus_the_original():
    report = sample_report()
    boxes = parse(render_html(report)).nodes
    assert set(boxes) == {str(n.id) for n in report.nodes} | {ROOT}
    assert all("node" in classes for classes in boxes.values())
    assert "root" in boxes[ROOT]


def test_the_chosen_path_is_marked():
    boxes = parse(render_html(sample_report())).nodes
    assert best_path(sample_report().to_dict()) == {7, 1}
    assert {key for key, classes in boxes.items() if "best-path" in classes} == {"7", "1"}
    assert {key for key, classes in boxes.items() if "best" in classes} == {"7"}


def test_outcomes_and_invalid_nodes_are_classed():
    boxes = parse(render_html(sample_report())).nodes
    assert "invalid" in boxes["2"] and "invalid" in boxes["8"]
    assert "pass" in boxes["3"] and "partial" in boxes["1"] and "fail" in boxes["4"]


def test_box_text_shows_tests_time_and_critic_score():
    html = render_html(sample_report())
    group = re.search(r'<g class="[^"]*" data-node="7".*?</g>', html).group(0)
    assert "tests 6/6" in group and "1.00 ms" in group and "critic 5/5" in group


def test_warnings_show_with_their_codes():
    html = render_html(sample_report())
    assert '<li class="warning" data-code="weak-tests">weak tests: 2 lines never run</li>' in html


def test_a_report_written_before_warnings_had_codes_still_renders():
    data = json.loads(json.dumps(sample_report().to_dict()))
    data["warnings"] = ["weak tests: 2 lines never run"]
    assert '<li class="warning">weak tests: 2 lines never run</li>' in render_html(data)


def test_one_nonce_ready_script_and_no_network():
    html = render_html(sample_report())
    scripts = parse(html).scripts
    assert scripts == [{}]  # one inline script, no src, no attributes: the extension stamps its nonce
    assert html.count(SCRIPT_TAG) == 1
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers: a nonce CSP would block them


def test_report_text_cannot_break_out_of_the_page():
    html = render_html(sample_report())
    assert html.count("</script>") == 1  # the critique's "</script>" is escaped in the data
    assert "<b>" not in html
    assert embedded_report(html)["nodes"][7]["critique"]["text"].endswith("</script><b>")


def test_a_dict_from_json_renders_the_same_page():
    report = sample_report()
    assert render_html(json.loads(json.dumps(report.to_dict()))) == render_html(report)


def test_an_empty_search_still_draws_the_original():
    report = sample_report()
    report.nodes, report.best_id, report.improved = [], None, False
    boxes = parse(render_html(report)).nodes
    assert set(boxes) == {ROOT}


def test_a_node_whose_parent_is_missing_hangs_from_the_original():
    data = sample_report().to_dict()
    data["nodes"] = [dict(data["nodes"][3], parent=99)]
    data["best_id"] = None
    assert set(parse(render_html(data)).nodes) == {ROOT, "3"}


def test_write_html_replaces_the_file_whole(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    write_html(sample_report(), target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_cli_writes_the_report(example_project, tmp_path, monkeypatch, capsys):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(["    return len(set(items)) != len(items)\n```"]))
    monkeypatch.setenv("ORPS_SCRIPTED_MODEL", str(answers))
    monkeypatch.chdir(example_project)
    code = cli_main(["optimize", "slowmath.py::has_duplicates", "--depth", "1", "--quiet", "--report", str(tmp_path / "r.html")])
    assert code in (0, 1), capsys.readouterr().err
    boxes = parse((tmp_path / "r.html").read_text(encoding="utf-8")).nodes
    assert ROOT in boxes and len(boxes) > 1


# ------------------------------------------------------------------- browser
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        install = subprocess.run(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
            shell=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        found = shutil.which("chromium")
        if found:
            return found
        reason = f"chromium is not installed and apt-get could not install it: {install.stderr.strip()[-300:]}"
    else:
        reason = "chromium is not installed and this user cannot install it (needs root and apt-get)"
    print(reason, file=sys.stderr)
    pytest.skip(reason)


def headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "report.html"
    write_html(sample_report(), path)
    return path


def test_chromium_draws_every_node_and_runs_the_script(page, tmp_path):
    result = headless(chromium(), tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = parse(result.stdout)
    assert len(dom.nodes) == len(sample_report().nodes) + 1
    # The script ran: it opened the chosen node in the side panel.
    assert "selected" in dom.nodes["7"]
    assert '<aside id="panel" aria-live="polite"><h2>#7 in round 2 (chosen)</h2>' in result.stdout


def test_chromium_screenshot_is_a_real_picture(page, tmp_path):
    shot = tmp_path / "report.png"
    result = headless(chromium(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,800", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1200 and int.from_bytes(png[20:24], "big") == 800
    # A blank 1200x800 page compresses to a few kB; boxes, text and the code panel do not.
    assert len(png) > 30_000, len(png)
    if os.environ.get("ORPS_REPORT_SCREENSHOT"):  # refresh docs/report.png: ORPS_REPORT_SCREENSHOT=docs/report.png
        shutil.copyfile(shot, os.environ["ORPS_REPORT_SCREENSHOT"])


def test_the_missing_test_is_shown_escaped_in_the_header():
    report = sample_report()
    report.missing_test = "from m import f\n\n\ndef test_f():\n    assert f('<b>') == '</script>'\n"
    html = render_html(report)
    header = html.split("<main>")[0]
    assert "a test your suite lacks" in header and "assert f(&#x27;&lt;b&gt;&#x27;)" in header
    assert "</script>'" not in header


def test_the_hover_shows_the_missing_test_as_python():
    from orps_lsp.lsp.hover import hover_markdown

    report = sample_report()
    assert "A test your suite lacks" not in hover_markdown(report)
    report.missing_test = "from m import f\n\n\ndef test_f():\n    assert f(1) == 2\n"
    text = hover_markdown(report)
    assert "A test your suite lacks" in text and "```python\nfrom m import f" in text


def test_the_lens_hover_and_table_give_the_per_call_figure_the_verdict_gives():
    """Where the function was timed per call, the editor's figures are that one, not the ratio
    of whole test runs (mostly pytest's time)."""
    from orps_lsp.lsp.hover import hover_markdown, lens_title
    from orps_lsp.render import metrics_table

    report = sample_report()
    report.improved = True
    report.best.execution.per_call = PerCallBenchmark(
        calls=3, speedup=4.0, low=3.9, high=4.1, original_seconds=[4e-6, 8e-6, 12e-6], candidate_seconds=[1e-6, 2e-6, 3e-6]
    )
    assert "4.0x faster" in lens_title(report) and "Speed-up: **4.00x**" in hover_markdown(report)
    row = next(line for line in metrics_table(report).splitlines() if line.startswith("time per call"))
    assert "8 us" in row and "2 us" in row, row
