"""The final pick re-checks a large claimed saving with the figures taken outside the test
process (final_pick.unconfirmed_by_the_kernel): what an honest speed-up shows there, a forged one does not."""

from __future__ import annotations

from orps_lsp.report import ExecutionReport
from orps_lsp.final_pick import RECHECK_SECONDS, unconfirmed_by_the_kernel


def runs(cpu: list[float], wall: list[float]) -> ExecutionReport:
    return ExecutionReport(outside_cpu_times=cpu, outside_wall_times=wall)


ORIGINAL = runs([1.40, 1.45, 1.42], [1.60, 1.62, 1.65])


def test_an_honest_saving_shows_outside() -> None:
    # 1.0 s less per run in the tests; the whole runs are 0.9-1.0 s shorter, in CPU and in length.
    candidate = runs([0.45, 0.47, 0.46], [0.66, 0.70, 0.68])
    assert unconfirmed_by_the_kernel(ORIGINAL, candidate, 1.0, "CPU time") == ""


def test_a_saving_the_kernel_did_not_count_is_refused() -> None:
    candidate = runs([1.50, 1.55, 1.52], [1.70, 1.72, 1.69])  # the work went somewhere the clocks did not look
    why = unconfirmed_by_the_kernel(ORIGINAL, candidate, 1.0, "CPU time")
    assert "CPU time" in why and "1.420" in why


def test_work_moved_to_another_process_still_takes_as_long() -> None:
    candidate = runs([0.30, 0.31, 0.30], [1.90, 1.95, 1.92])  # its process's CPU fell, the run grew longer
    assert "run time" in unconfirmed_by_the_kernel(ORIGINAL, candidate, 1.0, "CPU time")


def test_a_wall_time_saving_need_not_save_cpu() -> None:
    candidate = runs([1.40, 1.41, 1.42], [0.62, 0.60, 0.61])  # it stopped sleeping
    assert unconfirmed_by_the_kernel(ORIGINAL, candidate, 1.0, "wall time") == ""
    assert unconfirmed_by_the_kernel(ORIGINAL, candidate, 1.0, "CPU time") != ""


def test_small_claims_and_missing_figures_are_not_judged() -> None:
    same = runs([1.40, 1.45, 1.42], [1.60, 1.62, 1.65])
    assert unconfirmed_by_the_kernel(ORIGINAL, same, RECHECK_SECONDS / 2, "CPU time") == ""
    assert unconfirmed_by_the_kernel(ORIGINAL, runs([], []), 1.0, "CPU time") == ""
