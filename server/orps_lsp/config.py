"""Search settings shared by the CLI, the language server and the benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .settings_schema import BY_NAME, SEARCH, default, problems

SCALING_CHOICES = BY_NAME["scaling"].choices
# Of benchmark_seconds, what timing the grown calls of each finalist gets on top.
SCALING_SHARE = 1 / 3


@dataclass
class SearchConfig:
    # The fields a user sets take their defaults and bounds from settings_schema.py; the others
    # are the search's own constants.
    # Beam search shape. Defaults fit a 2-core CPU with the 0.5B model (about 30 LLM calls);
    # the paper's values are beam_width=3, expansions=20, depth=5.
    beam_width: int = default("beam_width")  # K: nodes kept per round
    expansions: int = default("expansions")  # N: candidates generated per node (and in round 0)
    depth: int = default("depth")  # D: rounds, the first included
    alpha: float = default("alpha")  # weight of the critic's process score
    beta: float = default("beta")  # weight of the outcome score (tests x efficiency)
    # Budget: the search stops at whichever comes first.
    max_llm_calls: int = default("max_llm_calls")
    max_generated_tokens: int = default("max_generated_tokens")
    max_seconds: float = default("max_seconds")
    # Generation.
    temperature: float = default("temperature")
    critic_temperature: float = 0.2
    max_code_tokens: int = 512
    max_critic_tokens: int = 160
    seed: int = default("seed")
    prefill: bool = True  # open the code fence and write the signature for the model
    use_critic: bool = default("use_critic")
    # Final pick.
    finalists: int = 3  # re-measured before choosing
    timing_repeats: int = 5
    min_speedup: float = 1.05  # faster than the original by at least this factor to count
    tie_margin: float = 0.03  # times within 3% are a tie; the higher score wins
    # The function itself timed on its captured calls, beside the original: about this long per finalist.
    benchmark_seconds: float = default("benchmark_seconds")
    scaling: str = default("scaling")  # a finalist slower on grown calls (sandbox/scaling.py): warn, refuse, off
    instruction_counter: str = default("instruction_counter")
    coverage_warning: float = 0.8  # below this line coverage of the function: "weak tests"
    no_tests: bool = False  # run without tests (critic only); the result is unverified

    def validate(self) -> list[str]:
        """Problems with the values, one line each; empty when all is well."""
        found = problems(self, SEARCH)
        for name in ("timing_repeats", "finalists"):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1")
        if self.alpha + self.beta <= 0:
            found.append("alpha + beta must be positive")
        return found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
