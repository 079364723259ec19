"""Search settings shared by the CLI, the language server and the benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass


SCALING_CHOICES = ("warn", "refuse", "off")
# Of benchmark_seconds, what timing the grown calls of each finalist gets on top.
SCALING_SHARE = 1 / 3


@dataclass
class SearchConfig:
    # Beam search shape. Defaults fit a 2-core CPU with the 0.5B model (about 30 LLM calls);
    # the paper's values are beam_width=3, expansions=20, depth=5.
    beam_width: int = 2  # K: nodes kept per round
    expansions: int = 3  # N: candidates generated per node (and in round 0)
    depth: int = 3  # D: rounds, the first included
    alpha: float = 0.5  # weight of the critic's process score
    beta: float = 0.5  # weight of the outcome score (tests x efficiency)
    # Budget: the search stops at whichever comes first.
    max_llm_calls: int = 30
    max_generated_tokens: int = 20000
    max_seconds: float = 300.0
    # Generation.
    temperature: float = 0.7
    critic_temperature: float = 0.2
    max_code_tokens: int = 512
    max_critic_tokens: int = 160
    seed: int = 0
    prefill: bool = True  # open the code fence and write the signature for the model
    use_critic: bool = True
    # Final pick.
    finalists: int = 3  # re-measured before choosing
    timing_repeats: int = 5
    min_speedup: float = 1.05  # faster than the original by at least this factor to count
    tie_margin: float = 0.03  # times within 3% are a tie; the higher score wins
    # The function itself timed on its captured calls, beside the original: about this long per finalist.
    benchmark_seconds: float = 3.0
    # A finalist faster on the tests' inputs but slower on grown ones (sandbox/scaling.py):
    # "warn" (offered, said), "refuse" (not offered) or "off" (not measured).
    scaling: str = "warn"
    # "auto": a close per-call figure is settled by the function's own instructions (perf or
    # valgrind, if installed); "valgrind": whole test runs are counted too; "none": never.
    instruction_counter: str = "auto"
    coverage_warning: float = 0.8  # below this line coverage of the function: "weak tests"
    no_tests: bool = False  # run without tests (critic only); the result is unverified

    def validate(self) -> list[str]:
        """Problems with the values, one line each; empty when all is well."""
        problems = []
        for name in ("beam_width", "expansions", "depth", "max_llm_calls", "max_generated_tokens", "timing_repeats", "finalists"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        for name in ("alpha", "beta"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.alpha + self.beta <= 0:
            problems.append("alpha + beta must be positive")
        if self.max_seconds <= 0:
            problems.append("max_seconds must be positive")
        if not 0 < self.benchmark_seconds <= 120:
            problems.append("benchmark_seconds must be more than 0 and at most 120")
        if self.scaling not in SCALING_CHOICES:
            problems.append("scaling must be warn, refuse or off")
        if self.instruction_counter not in ("auto", "valgrind", "none"):
            problems.append("instruction_counter must be auto, valgrind or none")
        return problems

    def to_dict(self) -> dict:
        return asdict(self)
