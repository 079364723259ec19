"""From "this function in this file" to a finished search: the one call the
CLI and the language server share.

It reads the file (or the editor's unsaved text), finds the function and its
tests, sets up the sandbox, and runs the ORPS search. Every problem with the
input is raised as an `InputError` with one clear sentence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .cancel import CancelToken
from .config import SearchConfig
from .contract import Problem
from .discovery import CLI_HINT, NoTestsFound, discover_tests, module_import_name
from .executor import ExecutionTarget, OracleOptions, SandboxLimits, TestSelection
from .files import replace_file
from .model.base import ChatModel
from .regression import missing_test, test_file_for, unmentioned_exceptions
from .report import SearchReport
from .search import OriginalDidNotRun, ProgressCallback, SearchTask, run_search
from .source import SourceError, find_function

PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", "tox.ini", ".git")


class InputError(Exception):
    """Bad input: one clear sentence for the user; exit code 2 on the CLI.

    `details` (pytest's own output, say) is shown before the sentence, or logged.
    """

    def __init__(self, message: str, details: str = "", problem: Problem | None = None) -> None:
        super().__init__(message)
        self.details = details
        self.problem = problem  # what the user would fix (contract.Problem), when it is one of those


@dataclass
class SearchRequest:
    file: Path
    function: str  # "f" or "Class.method"
    mode: str | None = None  # "optimize" | "solve" | None: solve a stub, optimize anything else
    project_root: Path | None = None
    tests: list[str] | None = None  # test paths; None: discover
    keyword: str | None = None  # pytest -k
    pytest_args: list[str] = field(default_factory=list)
    workload: list[str] = field(default_factory=list)  # tests whose calls are captured, not judged
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    oracle: OracleOptions = field(default_factory=OracleOptions)
    source: str | None = None  # the editor's text when it differs from the disk


def parse_target(spec: str) -> tuple[Path, str]:
    """'path/to/mod.py::func' (or '::Class.method') -> (path, qualname)."""
    if "::" not in spec:
        raise InputError(f"expected FILE::FUNCTION (for example src/pkg/mod.py::slow_function), got '{spec}'")
    file, _, function = spec.partition("::")
    if not file or not function:
        raise InputError(f"expected FILE::FUNCTION, got '{spec}'")
    return Path(file), function.replace("::", ".")


def find_project_root(file: Path) -> Path:
    for parent in file.resolve().parents:
        if any((parent / marker).exists() for marker in PROJECT_MARKERS):
            return parent
    return file.resolve().parent


def read_source(file: Path) -> str:
    if not file.exists():
        raise InputError(f"file not found: {file}")
    if not file.is_file():
        raise InputError(f"not a file: {file}")
    try:
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} is not UTF-8 text (byte {exc.start}); save it as UTF-8 first") from None


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class PreparedSearch:
    task: SearchTask
    target: ExecutionTarget | None  # None with no tests
    source_hash: str


def _workload(root: Path, entries: list[str]) -> list[str]:
    """The workload's pytest ids, relative to the project; a file that is not there is bad input."""
    found = []
    for entry in entries:
        path, _, rest = entry.partition("::")
        resolved = (root / path).resolve()
        if not resolved.exists() or (resolved != root and root not in resolved.parents):
            raise InputError(f"workload '{entry}': no such test file or folder in the project {root}")
        found.append(str(resolved.relative_to(root)) + (f"::{rest}" if rest else ""))
    return found


def prepare(request: SearchRequest, *, no_tests: bool = False) -> PreparedSearch:
    file = request.file.resolve() if request.file.exists() else request.file
    source = request.source if request.source is not None else read_source(request.file)
    try:
        function = find_function(source, request.function, filename=str(request.file))
    except SourceError as exc:
        raise InputError(str(exc)) from None
    mode = request.mode or ("solve" if function.is_stub else "optimize")
    if mode == "optimize" and function.is_stub:
        raise InputError(f"'{function.qualname}' has no body to optimize (it is a stub); use solve instead")
    if mode == "solve" and not function.is_stub:
        raise InputError(
            f"'{function.qualname}' already has a body (solve writes the body of a stub: `...`, `pass` or "
            "`raise NotImplementedError`); use optimize to make it faster"
        )
    root = (request.project_root or find_project_root(file)).resolve()
    if root not in file.parents:
        raise InputError(f"{file} is not inside the project {root}")
    target = None
    tests_source = ""
    if not no_tests:
        try:
            selection = discover_tests(root, file, function.qualname, test_paths=request.tests, keyword=request.keyword)
        except NoTestsFound as exc:
            raise InputError(str(exc), problem=Problem.TESTS) from None
        selection.extra_args = list(request.pytest_args)
        selection.workload = _workload(root, request.workload) if mode == "optimize" else []
        target = ExecutionTarget(
            project_root=root,
            file=file,
            function=function.qualname,
            tests=selection,
            limits=request.limits,
            original_is_oracle=mode == "optimize",
            oracle=request.oracle,
        )
        tests_source = _tests_source(root, selection, file)
    task = SearchTask(
        mode=mode,
        file=str(file),
        source=source,
        function=function,
        tests_source=tests_source,
        tests_chosen=dict(target.tests.reasons) if target else {},
    )
    return PreparedSearch(task=task, target=target, source_hash=content_hash(source))


def _tests_source(root: Path, selection: TestSelection, module: Path) -> str:
    chunks = []
    for path in selection.test_files:
        full = path if path.is_absolute() else root / path
        if full.resolve() == module.resolve():
            continue  # the module itself, chosen for its doctests: the model sees it already
        try:
            chunks.append(f"# {path}\n" + full.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return "\n\n".join(chunks)


def run(
    prepared: PreparedSearch,
    model: ChatModel,
    config: SearchConfig,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SearchReport:
    from .sandbox.executor import PytestExecutor  # the sandbox starts processes; import late

    cancel = cancel or CancelToken()
    if prepared.target is None:
        return run_search(prepared.task, model, None, config, progress=progress, cancel=cancel)
    with PytestExecutor(prepared.target, cancel=cancel) as executor:
        try:
            report = run_search(prepared.task, model, executor, config, progress=progress, cancel=cancel)
        except OriginalDidNotRun as exc:
            raise InputError(original_did_not_run(prepared, exc.reason), details=exc.output_tail, problem=Problem.TESTS) from None
        report.sandbox = executor.describe_isolation()
    target = prepared.target
    report.missing_test = missing_test(report, module_import_name(target.project_root, target.file))
    test_file = test_file_for(target.project_root, target.tests.test_files, target.file) if report.missing_test else None
    report.missing_test_file = str(test_file) if test_file else ""
    report.warnings += unmentioned_exceptions(report, prepared.task.function.docstring)
    return report


def original_did_not_run(prepared: PreparedSearch, reason: str) -> str:
    target = prepared.target
    tests = " ".join(str(p) for p in target.tests.test_files) if target else ""
    return (
        f"the original {prepared.task.function.qualname} did not run its tests cleanly, so no candidate could be "
        f"judged: {reason}. Nothing was generated. To see pytest's own report, run `python -m pytest {tests}` in "
        f"{target.project_root if target else 'the project'}. {CLI_HINT}"
    )


def write_atomically(path: Path, text: str, expected_hash: str) -> None:
    """Write `text` to `path` only if the file still holds what the search started from.

    The new text goes to a temporary file beside it and replaces it in one
    rename: the file is never half-written.
    """
    current = read_source(path)
    if content_hash(current) != expected_hash:
        raise InputError(f"{path} changed while the search ran; nothing was written (run again on the new text)")
    replace_file(path, text)
