"""CrossHair as one more oracle: before an offer, its symbolic search looks for an input on
which the candidate differs from the original; what it proposes is run on both and
compared like any other call. Real pytest, real sandbox, real CrossHair."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, OracleOptions, SandboxLimits
from orps_lsp.report import BehaviourCheck
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.symbolic import annotation

pytest.importorskip("crosshair", reason="CrossHair is an optional extra (orps-lsp[crosshair])")

from test_cli import orps  # noqa: E402 - after the skip: the CLI's own helper

LIMITS = SandboxLimits(per_test_timeout=5, total_timeout=30, memory_mb=1024, cpu_seconds=60)

# A line that is a marker: the shebang, or the end of the data. Random strings, and the
# strings drawn from the tests' characters, never spell "__END__"; a solver does.
MARKERS = 'def is_marker(line):\n    return line.startswith("#!") or line == "__END__"\n'
MARKER_TESTS = "from mod import is_marker\n\ndef test():\n    assert is_marker('#!python')\n    assert not is_marker('x = 1')\n"


def executor_for(root: Path, module: str, tests: str, function: str, seconds: float = 3.0) -> PytestExecutor:
    (root / "mod.py").write_text(textwrap.dedent(module))
    (root / "test_mod.py").write_text(textwrap.dedent(tests))
    return PytestExecutor(
        ExecutionTarget(
            project_root=root,
            file=root / "mod.py",
            function=function,
            tests=discover_tests(root, root / "mod.py", function),
            limits=LIMITS,
            oracle=OracleOptions(crosshair_seconds=seconds),
        )
    )


def test_crosshair_finds_the_input_the_tests_and_the_drawn_inputs_miss(tmp_path):
    drops_a_case = 'def is_marker(line):\n    return line.startswith("#!")\n'
    same = 'def is_marker(line):\n    return line[:2] == "#!" or line == "__END__"\n'
    with executor_for(tmp_path, MARKERS, MARKER_TESTS, "is_marker") as executor:
        original = executor.run(MARKERS)
        wrong, right = executor.run(drops_a_case), executor.run(same)
        # Alike on the captured calls and on every generated input: only CrossHair tells.
        assert original.capture.generated >= 20 and not wrong.behaviour.differs, wrong.behaviour.describe()
        found, nothing = executor.cross_check(drops_a_case), executor.cross_check(same)
    assert found.different == 1 and found.proposed >= 1
    assert found.differences[0] == "is_marker('__END__') (found by CrossHair) returned False; the original returns True"
    assert found.counterexamples[0]["call"] == "is_marker('__END__')"  # the missing test, as for any difference
    assert nothing.different == 0 and nothing.seconds is not None and not nothing.note
    behaviour = right.behaviour
    behaviour.add_cross_check(nothing)
    assert behaviour.evidence().endswith(f"generated inputs identical (CrossHair: no difference in {nothing.seconds:g} s)")
    refused = BehaviourCheck()
    refused.add_cross_check(found)
    assert refused.differs and "an input CrossHair found" in refused.describe()


def test_what_crosshair_proposes_is_believed_only_when_the_runs_show_it(tmp_path):
    """A candidate that differs only under CrossHair's analysis (it looks for a tracer) makes
    CrossHair propose differences; run for real on both, the inputs show none: not refused."""
    symbolic_only = (
        'def is_marker(line):\n    import sys\n    if sys.gettrace() is not None:\n        return "analysed"\n'
        '    return line.startswith("#!") or line == "__END__"\n'
    )
    with executor_for(tmp_path, MARKERS, MARKER_TESTS, "is_marker") as executor:
        executor.run(MARKERS)
        check = executor.cross_check(symbolic_only)
    assert check.proposed >= 1 and check.different == 0, check


def test_untyped_arguments_take_the_captured_calls_types_and_methods_are_left_alone(tmp_path):
    assert annotation(["list", ["int", 1, 3], 3]) == typing.List[int]
    assert (
        annotation(["dict", ["str", 1, "a"], ["tuple", [["float", 0.5, 0.5], ["none"]]], 1])
        == typing.Dict[str, typing.Tuple[float, type(None)]]
    )
    assert annotation("other") is None and annotation(["list", "other", 2]) is None
    module = (
        "class Counter:\n    def __init__(self):\n        self.n = 0\n\n"
        "    def add(self, k):\n        self.n += k\n        return self.n\n"
    )
    tests = "from mod import Counter\n\ndef test():\n    assert Counter().add(2) == 2\n"
    with executor_for(tmp_path, module, tests, "Counter.add") as executor:
        executor.run(module)
        check = executor.cross_check(module.replace("self.n += k", "self.n = self.n + k"))
    assert check.seconds is None and "methods" in check.note


def test_an_offer_crosshair_refutes_is_not_made(tmp_path):
    """End to end: a rewrite many times faster on every test, alike on every captured call
    and drawn input, that drops the end marker; CrossHair's input refuses it, the file stays."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "markers.py").write_text(
        "def markers(lines):\n    found = []\n    for line in lines:\n"
        "        if line.startswith('#!') or line == '__END__':\n            found = found + [line]\n    return found\n"
    )
    (project / "test_markers.py").write_text(
        "from markers import markers\n\ndef test_small():\n    assert markers(['#!sh', 'x']) == ['#!sh']\n\n"
        "def test_many():\n    assert len(markers(['#!' + 'x' * 60] * 4000)) == 4000\n"
    )
    before = (project / "markers.py").read_text()
    fast = "    return [line for line in lines if line.startswith('#!')]\n```"
    result = orps(
        "optimize",
        "markers.py::markers",
        "--apply",
        "--depth",
        "1",
        "--instruction-counter",
        "none",
        "--crosshair-seconds",
        "4",
        cwd=project,
        answers=[fast],
        tmp_path=tmp_path,
    )
    assert result.returncode == 1, result.stderr + result.stdout
    assert "on an input CrossHair found" in result.stdout, result.stdout
    assert "(found by CrossHair) returned []; the original returns ['__END__']" in result.stdout
    assert (project / "markers.py").read_text() == before
    assert (
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, capture_output=True
        ).returncode
        == 0
    )
