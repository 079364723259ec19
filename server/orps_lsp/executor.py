"""The executor interface the search core talks to.

The search core never starts processes itself: it hands whole module sources
to an `Executor` and gets `ExecutionReport`s back. `sandbox.PytestExecutor` is
the real one; tests use a scripted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .report import CrossCheck, ExecutionReport, LineProfile, PerCallBenchmark
from .settings_schema import ORACLE, default, problems


@dataclass
class SandboxLimits:
    per_test_timeout: float = default("test_timeout")  # seconds of wall time for one test
    total_timeout: float = default("run_timeout")  # seconds of wall time for one candidate run
    memory_mb: int = default("memory_mb")  # RLIMIT_AS of the pytest process
    cpu_seconds: int = 60  # RLIMIT_CPU
    max_processes: int = 64  # RLIMIT_NPROC (ignored for root; see sandbox docs)
    file_size_mb: int = 64  # RLIMIT_FSIZE
    output_limit_kb: int = 256  # stdout/stderr kept from a run
    isolation: str = "auto"  # "auto" | "bwrap" | "netns" | "none"; auto: ORPS_ISOLATION, else the strongest usable
    warm_worker: bool = True  # fork runs from a warm pytest process (bubblewrap only; ORPS_WARM_WORKER=0: off)


@dataclass
class OracleOptions:
    """How the original judges candidates in optimize mode (sandbox/oracle.py)."""

    generated_inputs: int = default("generated_inputs")  # inputs drawn from the captured calls, once per search
    compare_exception_messages: bool = default("compare_exception_messages")  # by type and message (else by type)
    seed: int = default("seed")  # the generated inputs are the same for the same seed
    # CrossHair (where installed) looks this long for an input on which the candidate about
    # to be offered differs from the original (0: not at all).
    crosshair_seconds: float = default("crosshair_seconds")

    def validate(self) -> list[str]:
        return problems(self, ORACLE)


@dataclass
class TestSelection:
    """Which of the user's tests judge the function."""

    test_files: list[Path] = field(default_factory=list)  # relative to the project root
    keyword: str | None = None  # pytest -k
    extra_args: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # test file -> why it was chosen
    # Optimize: tests run only when the original's calls are captured (node ids or paths, relative
    # to the project): what production feeds the function, timed besides the unit tests' calls.
    workload: list[str] = field(default_factory=list)

    __test__ = False


@dataclass
class ExecutionTarget:
    project_root: Path  # absolute
    file: Path  # absolute path of the module that holds the function
    function: str  # qualified name inside the module ("f" or "Class.method")
    tests: TestSelection = field(default_factory=TestSelection)
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    # optimize: the original's calls are captured and every candidate must behave alike on them.
    # solve: the original is a stub, whose behaviour is what the answer must change.
    original_is_oracle: bool = True
    oracle: OracleOptions = field(default_factory=OracleOptions)


class Executor(Protocol):
    def run(
        self,
        module_source: str,
        *,
        repeats: int = 1,
        count_instructions: bool = False,
        measure_coverage: bool = False,
    ) -> ExecutionReport:
        """Run the selected tests with `module_source` in place of the target file.

        `repeats` > 1 re-runs passing tests to take the best time.
        Never raises for anything the candidate does: failures are in the report.
        Raises `Cancelled` when the cancel token is set (after killing its processes).
        """
        ...

    def cross_check(self, module_source: str, *, seconds_left: float = float("inf")) -> CrossCheck | None:
        """Optimize: one more oracle for a candidate about to be offered (CrossHair, where
        installed), within `seconds_left`; None where there is none. Only ever finds
        differences: a candidate it cannot check is judged as before."""
        ...

    def benchmark(self, module_source: str, *, seconds: float, scaling: float = 0.0) -> PerCallBenchmark | None:
        """Optimize: the function alone, timed beside the original on its captured calls for
        about `seconds` (a figure with its 95% interval, or a note saying why there is none),
        then on grown calls for about `scaling` seconds when it is above 0; None where there
        are no captured calls to time it on."""
        ...

    def time_heavy_calls(self, module_source: str, bench: PerCallBenchmark) -> None:
        """The captured calls too slow to time per call (`bench.untimed()`): both versions on
        each, side by side, twice each (the figures go into `bench.heavy_*`)."""
        ...

    def confirm_benchmark(self, module_source: str, bench: PerCallBenchmark, *, heavy_only: bool = False) -> None:
        """Each version run alone on the calls, `bench`'s figures checked from outside its
        process: the kernel's CPU count and the run's length go into `bench` (the heavy calls
        timed beside, `bench.heavy`, made once in each). `heavy_only`: the claim rests on
        those; the quick calls are made once, not for seconds."""
        ...

    def count_instructions_per_call(self, module_source: str, bench: PerCallBenchmark) -> None:
        """Close calls: the instructions of each version's function alone on the timed calls,
        counted from outside its process, into `bench` (a note where no counter exists)."""
        ...

    def line_profile(self, *, seconds: float) -> LineProfile | None:
        """Optimize: where the original spends its time on its captured calls, line by line,
        profiled for about `seconds`; None where there are no captured calls."""
        ...

    def close(self) -> None: ...
