"""Prompts for the two roles the model plays: programmer and critic.

Ordering matters for speed: everything shared by the candidates of one node
comes first (system prompt, task, tests, report, history) and the per-candidate
strategy hint comes last, so the backend re-evaluates only the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model.base import Message
from .report import Critique, ExecutionReport
from .source import FunctionInfo

STRATEGIES = [
    "make it as efficient as possible: pick the algorithm with the best time complexity",
    "write it concisely with Python built-ins and the standard library",
    "use a straightforward iterative approach with plain loops",
    "avoid repeated work: cache or precompute results (memoisation, dictionaries, sets)",
    "use the standard library (itertools, collections, math, bisect, heapq) where it fits",
    "keep it simple and correct first; handle every edge case the docstring and tests mention",
    "reduce memory: avoid building large intermediate lists",
    "think about the mathematical structure of the problem for a closed form or a shortcut",
]

PROGRAMMER_SYSTEM = (
    "You are an expert Python programmer. You write correct, efficient, idiomatic Python. "
    "You answer with one complete Python function in a single ```python code block. "
    "Put any import you need inside the function. Do not write tests, examples or prints."
)

CRITIC_SYSTEM = (
    "You are a strict reviewer of Python code. You read a function and the report of running "
    "the user's tests on it, and you judge correctness first, then efficiency and clarity. "
    "You answer in exactly this format:\n"
    "Critique: <two to four sentences: what is wrong or slow, and how to fix it>\n"
    "Score: <an integer from 1 (wrong) to 5 (correct and efficient)>\n"
    "Done: <yes if nothing important can be improved, else no>"
)


@dataclass
class TaskContext:
    mode: str  # "optimize" | "solve"
    function: FunctionInfo
    tests_source: str
    original_report: ExecutionReport | None
    max_tests_chars: int = 2500

    def goal(self) -> str:
        if self.mode == "solve":
            return f"Implement the function `{self.function.name}` so that it does what its docstring says and passes the tests."
        return (
            f"Rewrite the function `{self.function.name}` so that it runs faster while giving exactly the "
            "same results: every test must still pass."
        )

    def describe(self) -> str:
        parts = [self.goal(), "", "The function:", "```python", self.function.source.rstrip(), "```"]
        if self.tests_source.strip():
            tests = self.tests_source.strip()
            if len(tests) > self.max_tests_chars:
                tests = tests[: self.max_tests_chars] + "\n# ... (more tests not shown)"
            parts += ["", "The tests it must pass:", "```python", tests, "```"]
        if self.original_report is not None and self.mode == "optimize":
            parts += ["", "Running the tests on this function gave:", self.original_report.summary()]
            profile = self.original_report.line_profile
            hot = profile.hot() if profile is not None else []
            if hot:
                parts += ["", "Where its time goes on the calls the tests make (line profile; line 1 is its first line):", *hot]
        return "\n".join(parts)


def programmer_prefill(function: FunctionInfo) -> str:
    """Open the code block and write the decorators and signature for the model."""
    header = function.header
    return "```python\n" + (header + "\n" if header else "")


def first_attempt(task: TaskContext, strategy: str) -> list[Message]:
    return [
        {"role": "system", "content": PROGRAMMER_SYSTEM},
        {"role": "user", "content": task.describe() + f"\n\nApproach for this attempt: {strategy}."},
    ]


@dataclass
class Step:
    """One earlier attempt on the path from the root to the node being refined."""

    code: str
    report: ExecutionReport | None
    critique: Critique | None


def refinement(task: TaskContext, path: list[Step], strategy: str, keep_full: int = 2) -> list[Message]:
    """Conversation: the task, then each earlier attempt with its feedback, then 'improve'.

    Only the last `keep_full` attempts keep their code, so the prompt fits a
    small context window however deep the search goes.
    """
    messages: list[Message] = [
        {"role": "system", "content": PROGRAMMER_SYSTEM},
        {"role": "user", "content": task.describe()},
    ]
    for index, step in enumerate(path):
        is_recent = index >= len(path) - keep_full
        code = step.code if is_recent else "# (earlier attempt, code omitted)"
        messages.append({"role": "assistant", "content": f"```python\n{code}\n```"})
        feedback = ["Result of running the tests on this code:"]
        feedback.append(step.report.summary() if step.report else "(not run)")
        if step.critique and step.critique.text:
            feedback += ["", f"Reviewer: {step.critique.text}"]
        if index == len(path) - 1:
            feedback += ["", f"Write an improved version. Approach for this attempt: {strategy}."]
        messages.append({"role": "user", "content": "\n".join(feedback)})
    return messages


def critic(task: TaskContext, code: str, report: ExecutionReport | None) -> list[Message]:
    """The critic's prompt. What every review shares (the goal, the original's
    report) comes first so that consecutive reviews reuse the cached prefix."""
    parts = [task.goal()]
    if task.original_report is not None and task.mode == "optimize":
        parts += ["", "Running the tests on the original function gave:", task.original_report.summary()]
    parts += ["", "Code under review:", "```python", code.rstrip(), "```", "", "Execution report of the code under review:"]
    parts.append(report.summary() if report is not None else "The code was not run (no tests).")
    return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": "\n".join(parts)}]


CRITIC_PREFILL = "Critique:"
