"""The methods compared, each a configuration of the one engine (same model, same prompts).

Expressing the baselines as engine settings keeps the comparison honest: the
only difference between two methods is the search, never the prompt or the
code path. The budgets differ by design; every result records its LLM calls
and generated tokens so they can be compared.
"""

from __future__ import annotations

from dataclasses import replace

from orps_lsp.config import SearchConfig

METHODS: dict[str, dict] = {
    # One sample, "think then code" (the prompt asks for the plan as comments); no tests, no review.
    "cot": dict(beam_width=1, expansions=1, depth=1, use_critic=False, no_tests=True),
    # N samples; the visible tests then the speed pick one (the engine's guarded final pick).
    "best_of_n": dict(beam_width=1, expansions=4, depth=1, use_critic=False),
    # Reflexion-style: one chain, each attempt refined from its test report, no critic score.
    "reflexion": dict(beam_width=1, expansions=1, depth=4, use_critic=False),
    # ORPS with the default budget (the product's settings).
    "orps": dict(),
    # The paper's ablation: ORPS without execution feedback; the critic alone scores and picks.
    "orps_no_exec": dict(no_tests=True),
}

LABELS = {
    "cot": "CoT (1 sample)",
    "best_of_n": "Best-of-4",
    "reflexion": "Reflexion (4 steps)",
    "orps": "ORPS (default)",
    "orps_no_exec": "ORPS w/o execution",
}


def config_for(method: str, base: SearchConfig | None = None) -> SearchConfig:
    if method not in METHODS:
        raise SystemExit(f"unknown method '{method}'; choose from {', '.join(METHODS)}")
    return replace(base or SearchConfig(), **METHODS[method])
