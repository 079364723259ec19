from fakes import report

from orps_lsp.report import Critique, ExecutionReport, TestOutcome
from orps_lsp.scoring import efficiency_ratio, parse_critique, passes_guard, step_scores


def test_parse_well_formed_critique():
    c = parse_critique("Critique: Uses a set, linear time.\nScore: 4\nDone: yes")
    assert (c.text, c.score, c.done) == ("Uses a set, linear time.", 4, True)
    assert c.process_score == 0.75


def test_parse_lenient_variants():
    assert parse_critique("Critique: ok\n**Score:** 5/5\nDone: no").score == 5
    assert parse_critique("Looks right. I'd rate it 3 out of 5.").score == 3
    assert parse_critique("Critique: fine\nScore: [2]").score == 2


def test_missing_or_malformed_score_is_lowest_never_a_crash():
    for raw in ("", "Critique: looks fine", "Score: excellent", "Score: 9", None):
        c = parse_critique(raw)
        assert c.score is None and c.process_score == 0.0 and not c.done


def test_efficiency_ratio_rewards_faster_and_smaller():
    original = report(3, 3, cpu=1.0, rss=20_000, cc=6)
    assert efficiency_ratio(original, report(3, 3, cpu=1.0, rss=20_000, cc=6)) == 1.0
    faster = efficiency_ratio(original, report(3, 3, cpu=0.1, rss=20_000, cc=6))
    assert faster > 3
    assert efficiency_ratio(original, report(3, 3, cpu=2.0, rss=20_000, cc=6)) < 1


def test_step_score_combines_process_and_outcome_with_weights():
    original = report(4, 4, cpu=1.0)
    critique = Critique(score=5)
    s = step_scores(critique, report(2, 4, cpu=1.0), original, alpha=0.5, beta=0.5, mode="optimize")
    assert s.process == 1.0 and s.pass_ratio == 0.5 and abs(s.efficiency - 0.5) < 1e-9
    assert abs(s.step - (0.5 * 1.0 + 0.5 * 0.25)) < 1e-9
    only_tests = step_scores(None, report(4, 4, cpu=1.0), original, alpha=0.0, beta=1.0, mode="solve")
    assert only_tests.step == 1.0  # solve: no efficiency factor, no critic weight


def test_guard_requires_every_originally_passing_test():
    original = ExecutionReport(tests=[TestOutcome("a", "passed"), TestOutcome("b", "failed")], passed=1, total=2)
    same = ExecutionReport(tests=[TestOutcome("a", "passed"), TestOutcome("b", "failed")], passed=1, total=2)
    swapped = ExecutionReport(tests=[TestOutcome("a", "failed"), TestOutcome("b", "passed")], passed=1, total=2)
    crashed = ExecutionReport(error="import failed")
    assert passes_guard(original, same)
    assert not passes_guard(original, swapped)
    assert not passes_guard(original, crashed)
