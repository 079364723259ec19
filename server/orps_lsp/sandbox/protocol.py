"""Names shared by the executor and the plugin (which must stay import-light)."""

from typing import Any

RESULTS_FD_VAR = "ORPS_RESULTS_FD"  # descriptor number of the results channel
TIMEOUT_VAR = "ORPS_PER_TEST_TIMEOUT"  # seconds, as text
# Every process of a run inherits this variable: the executor's final sweep and
# the plugin's count of stray processes find the run's processes by it.
MARKER_VAR = "ORPS_SANDBOX_RUN"
# Set ("1") when the run has a pid namespace to itself and its init (the warm
# worker): every process there but init belongs to the run. A process the run
# only forked keeps its parent's environment as /proc shows it, without the marker.
OWN_NAMESPACE_VAR = "ORPS_SANDBOX_OWN_PIDNS"
KEY_CHARS = 32  # hex characters of the HMAC key the executor writes to the child's stdin
MAC_CHARS = 32  # hex characters of the truncated HMAC-SHA256 that starts each result line
HARD_TIMEOUT_GRACE = 1.0  # seconds between the SIGALRM and faulthandler's exit
PLUGIN_MODULE = "orps_lsp.sandbox.plugin"
# What the judged module is: the plugin checks that the tests import it from the run's copy
# (absolute path there), not a look-alike (an installed or editable copy of the package).
CANDIDATE_FILE_VAR = "ORPS_CANDIDATE_FILE"
CANDIDATE_NAMES_VAR = "ORPS_CANDIDATE_NAMES"  # JSON: {"module": dotted name, "function": qualname}
# The original is the oracle (capture.py): "1" in the original's capture run; the path of a
# file of captured calls to replay (read and removed by the plugin before any project code runs).
CAPTURE_VAR = "ORPS_CAPTURE"
REPLAY_FILE_VAR = "ORPS_REPLAY_FILE"
REPLAY_SECONDS = 3.0  # the most a run spends replaying captured calls
GENERATED_SECONDS = 2.0  # the most a run spends on generated inputs (generate.py)
GENERATED_CALL_SECONDS = 0.5  # one generated input: where the original takes longer, the input is left out


def replay_plan(
    calls: list[str],
    generated: list[dict[str, Any]],
    *,
    rounds: int = 1,
    bases_only: bool = False,
    symbolic: dict[str, Any] | None = None,
    benchmark: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a run replays (the file at REPLAY_FILE_VAR; plugin._read_replay checks it):
    `calls`, captured calls (pickled); `generated`, inputs drawn from them (generate.py);
    `rounds`, how many times; `bases_only`, the calls are there for the generated inputs,
    not replayed themselves; `symbolic`, CrossHair's search for a difference from the
    original (symbolic.py): {"original": source, "layout", "seconds", "compare_messages"};
    `benchmark`, the per-call benchmark (benchmark.py), in a run whose tests are collected
    (they import the module) but not run: {"original": source, "seconds"} to time both
    versions side by side ({"original": source, "heavy": True}: each call twice per version, in
    ABBA order), or {"passes": n, "once": k, "chunks": [calls per timing, per call]} to run the
    module's own function only (the last k calls made once each)."""
    return {
        "calls": calls,
        "generated": generated,
        "rounds": rounds,
        "bases_only": bases_only,
        "symbolic": symbolic,
        "benchmark": benchmark,
    }


BENCHMARK_MAX_SECONDS = 120.0  # the most a run's benchmark may be given
BENCHMARK_MAX_PASSES = 1_000_000


def crosshair_cap(seconds: float) -> float:
    """The plugin's hard limit on a CrossHair search given `seconds` (it bounds itself, but
    runs the candidate's code); the executor allows the run this much longer."""
    return 2 * seconds + 2
