"""The methods compared, each a configuration of the one engine (same model, same prompts).

Expressing the baselines as engine settings keeps the comparison honest: the
only difference between two methods is the search, never the prompt or the
code path. The budgets differ by design; every result records its LLM calls
and generated tokens so they can be compared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from orps_lsp.config import SearchConfig
from orps_lsp.executor import SandboxLimits

# The tasks' tests take milliseconds (the optimize timing test at most ~2 s, and the sandbox scales
# its limits to the original's times): 5 s per test and 30 s per run cut off endless candidates
# sooner than the defaults (10 s / 60 s) and change nothing else.
SEARCH_LIMITS = SandboxLimits(per_test_timeout=5.0, total_timeout=30.0)
PARALLEL = 4  # the product's default: a node's children decoded in one batch

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


def cache_path(cache: Path, task, method: str, model_name: str) -> Path:
    """Where the result of (task, method, model, settings) is kept: any change of them is a new file."""
    # Whether runs fork from the warm worker or start cold changes how fast a result comes, not the result.
    limits = {name: value for name, value in vars(SEARCH_LIMITS).items() if name != "warm_worker"}
    blob = json.dumps(
        {
            "task": task.to_dict(),
            "method": method,
            "model": model_name,
            "config": config_for(method).to_dict(),
            "limits": limits,
            "parallel": PARALLEL,
        },
        sort_keys=True,
    )
    return cache / f"{task.slug}.{method}.{hashlib.sha256(blob.encode()).hexdigest()[:16]}.json"
