"""Benchmark tasks from ../shared/data, each turned into a tiny real project on disk.

Two kinds, as a user meets them:
- write: a stub (signature + docstring) and a few visible tests; the rest of the
  tests are held back and score the result (LBPP, HumanEval+, MBPP+);
- optimize: a correct but slow function (the HumanEval canonical program) with
  visible correctness tests and one timing test; hidden tests check HumanEval+
  inputs and time the result against the original and the ENAMEL expert.

Expected outputs are computed by running the reference solution in a child
process (the data is public, but it is still code: it never runs in this one).
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import random
import re
import subprocess
import sys
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MODULE = "solution"  # the module every task's tests import
VISIBLE_CASES = 3  # case-based write tasks: inputs shown as the user's tests
HIDDEN_CASES = 40  # at most this many held-back inputs score the result
MAX_CASE_CHARS = 4000  # inputs/outputs whose repr is longer are left out (keeps test files small)
# EvalPlus needs its own output checker for these; 77 overflows; 47 has a wrong expected value in derived sets.
HUMANEVAL_SKIP = {21, 22, 32, 47, 77, 91, 122, 130}
# Baseline at least 10x slower than the expert at some ENAMEL level (shared/data/README.md).
ENAMEL_GOOD = [0, 24, 36, 43, 55, 59, 75, 89, 96, 111, 126, 143, 154]
TIMING_SECONDS = (0.1, 2.0)  # the ENAMEL level is the largest where the original takes at most this long
NON_STDLIB = re.compile(r"^\s*(?:import|from)\s+(numpy|pandas|pytest|scipy|sklearn|torch|requests)\b", re.M)


@dataclass
class Task:
    id: str  # "lbpp/12", "HumanEval/0", "Mbpp/2", "enamel/HumanEval/24"
    kind: str  # "write" | "optimize"
    function: str  # the entry point
    source: str  # module text: the stub (write) or the slow original (optimize)
    visible_tests: str  # pytest file shown to the tool as the project's tests
    hidden_tests: str  # pytest file held back to score the result
    timing_tests: str = ""  # optimize: pytest file that times the function on large inputs
    expert: str = ""  # optimize: the ENAMEL expert module (the target to compare with)
    info: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.id).strip("_")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(**data)


# ------------------------------------------------------------------ projects
def write_project(root: Path, module_source: str, tests: dict[str, str]) -> Path:
    """A project as a user has one: pytest.ini, solution.py, tests/test_*.py."""
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (root / f"{MODULE}.py").write_text(module_source)
    for name, text in tests.items():
        (root / "tests" / name).write_text(text)
    return root / f"{MODULE}.py"


# -------------------------------------------------------------- test files
_COMPARE = '''

def _same(got, expected):
    """Equal, with floats compared to 1e-6 relative (as EvalPlus does for non-atol tasks)."""
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)) and type(got) is type(expected):
        return len(got) == len(expected) and all(_same(g, e) for g, e in zip(got, expected))
    return got == expected
'''


def case_tests(function: str, cases: list[tuple[list, object]], name: str) -> str:
    """A pytest file that calls `function(*args)` and compares with the expected value."""
    return (
        f"import copy\nimport math\n\nimport pytest\n\nfrom {MODULE} import {function}\n"
        + _COMPARE
        + f"\n\nCASES = {cases!r}\n\n\n"
        + "@pytest.mark.parametrize('index', range(len(CASES)))\n"
        + f"def test_{name}(index):\n"
        + "    args, expected = CASES[index]\n"
        + f"    assert _same({function}(*copy.deepcopy(args)), expected)\n"
    )


def assert_tests(setup: str, asserts: list[str]) -> str:
    body = [setup.rstrip(), ""]
    for index, code in enumerate(asserts):
        body += ["", f"def test_case_{index}():", textwrap.indent(code.strip(), "    "), ""]
    return "\n".join(body)


# ------------------------------------------------------- reference outputs
_RUNNER = r"""
import ast, json, sys, copy
spec = json.load(sys.stdin)
namespace = {"__name__": "reference"}
exec(compile(spec["program"], "reference.py", "exec"), namespace)
function = namespace[spec["entry"]]
out = []
for args in spec["inputs"]:
    try:
        out.append(repr(function(*copy.deepcopy(args))))
    except BaseException as exc:
        out.append(None)
print(json.dumps(out))
"""


def reference_outputs(program: str, entry: str, inputs: list[list], timeout: float = 60.0) -> list[object | None]:
    """What the reference returns on each input, in a child process; None where it failed."""
    spec = json.dumps({"program": program, "entry": entry, "inputs": inputs})
    done = subprocess.run([sys.executable, "-c", _RUNNER], input=spec, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "reference failed")
    values = []
    for text in json.loads(done.stdout):
        try:
            values.append(None if text is None else _literal(text))
        except ValueError:
            values.append(None)
    return values


def _literal(text: str) -> object:
    value = ast.literal_eval(text)
    if repr(value) != text:  # nan, inf, objects: cannot be written back as a literal
        raise ValueError(text)
    return value


def _usable(args: list, expected: object) -> bool:
    try:
        return len(repr(args)) <= MAX_CASE_CHARS and len(repr(expected)) <= MAX_CASE_CHARS and _literal(repr(args)) == args
    except (ValueError, SyntaxError, RecursionError):
        return False


def _split_cases(program: str, entry: str, base: list[list], plus: list[list], seed: int) -> tuple[list, list]:
    rng = random.Random(seed)
    plus = rng.sample(plus, min(len(plus), HIDDEN_CASES * 2))
    inputs = base + plus
    outputs = reference_outputs(program, entry, inputs)
    cases = [(args, out) for args, out in zip(inputs, outputs) if out is not None and _usable(args, out)]
    base_cases = cases[: min(len(base), len(cases))]
    visible = base_cases[:VISIBLE_CASES]
    hidden = [c for c in cases if c not in visible][:HIDDEN_CASES]
    return visible, hidden


# ------------------------------------------------------------------ loaders
def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def humaneval_write(limit: int, seed: int = 0) -> list[Task]:
    rows = [
        r
        for r in _jsonl(DATA / "humanevalplus" / "HumanEvalPlus.jsonl.gz")
        if _number(r["task_id"]) not in HUMANEVAL_SKIP and _number(r["task_id"]) not in ENAMEL_GOOD and not r["atol"]
    ]
    tasks = []
    for row in random.Random(seed).sample(rows, len(rows)):
        program = row["prompt"] + row["canonical_solution"]
        try:
            visible, hidden = _split_cases(program, row["entry_point"], row["base_input"], row["plus_input"], seed)
        except Exception:
            continue
        if len(visible) < 2 or len(hidden) < 3:
            continue
        entry = row["entry_point"]
        tasks.append(
            Task(
                row["task_id"],
                "write",
                entry,
                row["prompt"].rstrip() + "\n    ...\n",
                case_tests(entry, visible, "visible"),
                case_tests(entry, hidden, "hidden"),
                info={"set": "HumanEval+", "visible": len(visible), "hidden": len(hidden)},
            )
        )
        if len(tasks) == limit:
            break
    return tasks


def mbpp_write(limit: int, seed: int = 0) -> list[Task]:
    rows = [r for r in _jsonl(DATA / "mbppplus" / "MbppPlus.jsonl.gz") if not r["atol"]]
    tasks = []
    for row in random.Random(seed).sample(rows, len(rows)):
        code = row["canonical_solution"]
        entry = row["entry_point"]
        if NON_STDLIB.search(code):
            continue
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if [d.name for d in defs] != [entry] or any(isinstance(n, ast.ClassDef) for n in tree.body):
            continue
        try:
            visible, hidden = _split_cases(code, entry, row["base_input"], row["plus_input"], seed)
        except Exception:
            continue
        if len(visible) < 2 or len(hidden) < 3:
            continue
        description = row["prompt"].strip().strip('"').strip()
        description = "\n".join(line for line in description.splitlines() if not line.startswith("assert ")).strip()
        imports = [ast.get_source_segment(code, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        header = ast.get_source_segment(code, defs[0]).split("\n", 1)[0].strip()
        stub = "".join(f"{i}\n" for i in imports) + ("\n\n" if imports else "") + f'{header}\n    """{description}"""\n    ...\n'
        tasks.append(
            Task(
                row["task_id"],
                "write",
                entry,
                stub,
                case_tests(entry, visible, "visible"),
                case_tests(entry, hidden, "hidden"),
                info={"set": "MBPP+", "visible": len(visible), "hidden": len(hidden)},
            )
        )
        if len(tasks) == limit:
            break
    return tasks


def lbpp_write(limit: int, seed: int = 0) -> list[Task]:
    csv.field_size_limit(1 << 30)
    with open(DATA / "lbpp" / "lbpp.csv", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["language"] == "python"]
    tasks = []
    for row in random.Random(seed).sample(rows, len(rows)):
        completion, setup = row["completion"], row["test_setup"]
        if NON_STDLIB.search(completion) or NON_STDLIB.search(setup):
            continue
        try:
            tree = ast.parse(completion)
            asserts = ast.literal_eval(row["test_list"])  # a list literal of strings: never eval
        except (SyntaxError, ValueError):
            continue
        match = re.match(r"\s*def\s+(\w+)\s*\(", row["signature"])
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if (
            not match
            or len(defs) != 1
            or not isinstance(defs[0], ast.FunctionDef)
            or defs[0].name != match.group(1)
            or len(asserts) < 3
        ):
            continue
        entry = match.group(1)
        setup = re.sub(r"\bfrom code import\b", f"from {MODULE} import", setup)
        imports = [ast.get_source_segment(completion, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        header = ast.get_source_segment(completion, defs[0]).split("\n", 1)[0].strip()
        if not header.endswith(":"):
            continue  # a header over several lines: keep the stub simple
        docstring = textwrap.indent(textwrap.fill(row["instruction"].replace('"""', "'''"), 96), "    ").strip()
        stub = (
            "".join(f"{i}\n" for i in imports) + ("\n\n" if imports else "") + f'{header}\n    """{docstring}\n    """\n    ...\n'
        )
        visible, hidden = asserts[:2], asserts[2:]
        task = Task(
            row["task_id"],
            "write",
            entry,
            stub,
            assert_tests(setup, visible),
            assert_tests(setup, hidden),
            info={"set": "LBPP", "visible": len(visible), "hidden": len(hidden), "title": row["title"]},
        )
        if not _reference_passes(completion, task):
            continue
        tasks.append(task)
        if len(tasks) == limit:
            break
    return tasks


def _reference_passes(module_source: str, task: Task) -> bool:
    """Keep a task only if its own reference passes its tests (drops tasks with broken setups)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="orps-task-") as tmp:
        write_project(Path(tmp), module_source, {"test_visible.py": task.visible_tests, "test_hidden.py": task.hidden_tests})
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], cwd=tmp, capture_output=True, timeout=120
        )
        return done.returncode == 0


# ----------------------------------------------------------------- optimize
# ENAMEL's generators call two helpers of its own code base that the data set does not ship;
# these stand-ins draw the same kinds of numbers (primes and composites of a given size).
GENERATOR_HELPERS = '''
import random
import string


def _is_probable_prime(n):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def rand_probably_prime(size):
    """A random prime between size/2 and size (2 for tiny sizes)."""
    size = max(int(size), 3)
    while True:
        n = random.randint(max(2, size // 2), size)
        if _is_probable_prime(n):
            return n


def rand_primality(size, lid, cid):
    """A number near `size` for primality-style tasks: a prime, a product of two primes, or any number."""
    size = max(int(size), 4)
    kind = cid % 3
    if kind == 0:
        return rand_probably_prime(size)
    if kind == 1:
        root = max(int(size ** 0.5), 3)
        return rand_probably_prime(root) * rand_probably_prime(root)
    return random.randint(size // 2, size)
'''

_ON_GENERATED_INPUTS = r"""
import json, sys, time, copy, random, hashlib
spec = json.load(sys.stdin)
gen = {}
exec(compile(spec["helpers"] + "\n" + spec["generator"], "generator.py", "exec"), gen)
ref = {"__name__": "reference"}
exec(compile(spec["program"], "reference.py", "exec"), ref)
out = {}
for cid in spec["cases"]:
    random.seed(spec["lid"] * 1000 + cid)
    args = list(gen["generate_input"](spec["size"], spec["lid"], cid))
    started = time.process_time()
    result = ref[spec["entry"]](*copy.deepcopy(args))
    out[cid] = {"seconds": time.process_time() - started, "sha256": hashlib.sha256(repr(result).encode()).hexdigest()}
print(json.dumps(out))
"""


def on_generated_inputs(
    program: str, entry: str, generator: str, size: int, lid: int, cases: list[int], timeout: float
) -> dict[int, dict] | None:
    """Run `program` on ENAMEL inputs (in a child process): per case, CPU seconds and the answer's sha256."""
    spec = json.dumps(
        {
            "helpers": GENERATOR_HELPERS,
            "generator": generator,
            "program": program,
            "entry": entry,
            "size": size,
            "lid": lid,
            "cases": cases,
        }
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", _ON_GENERATED_INPUTS], input=spec, capture_output=True, text=True, timeout=timeout
        )
        return {int(k): v for k, v in json.loads(done.stdout).items()} if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def _seconds_at(program: str, entry: str, generator: str, size: int, lid: int) -> float:
    """CPU seconds the original takes on one input of this size (inf when over the limit)."""
    out = on_generated_inputs(program, entry, generator, size, lid, [1], timeout=TIMING_SECONDS[1] * 2 + 2)
    return out[1]["seconds"] if out else float("inf")


def timing_size(program: str, entry: str, generator: str, levels: list[int]) -> tuple[int, int, float] | None:
    """(size, level, seconds) at which the original takes TIMING_SECONDS: the largest ENAMEL
    level that fits, else a size between two levels found by bisection (in log space)."""
    low, best = None, None
    for lid, size in enumerate(levels):
        seconds = _seconds_at(program, entry, generator, size, lid)
        if seconds <= TIMING_SECONDS[1]:
            low = (size, lid, seconds)
            if seconds >= TIMING_SECONDS[0]:
                best = low
            continue
        if best is not None or low is None:
            break
        lo, hi = low[0], size  # too quick at lo, too slow at hi
        for _ in range(6):
            mid = max(lo + 1, int(round((lo * hi) ** 0.5)))
            if mid >= hi:
                break
            seconds = _seconds_at(program, entry, generator, mid, lid)
            if TIMING_SECONDS[0] <= seconds <= TIMING_SECONDS[1]:
                return mid, lid, seconds
            lo, hi = (mid, hi) if seconds < TIMING_SECONDS[0] else (lo, mid)
        break
    return best


def timing_tests(entry: str, generator: str, size: int, lid: int, cases: list[int], outputs_hash: dict[int, str]) -> str:
    """Tests that call the function on ENAMEL inputs of one level and check the answer's hash."""
    lines = [
        "import copy\nimport hashlib\nimport random\n",
        f"import pytest\n\nfrom {MODULE} import {entry}\n",
        GENERATOR_HELPERS,
        "\n" + generator.strip() + "\n",
        f"\nEXPECTED = {outputs_hash!r}\n\n",
        f"@pytest.mark.parametrize('cid', {cases!r})\n",
        "def test_timing(cid):\n",
        f"    random.seed({lid} * 1000 + cid)\n",
        f"    args = list(generate_input({size}, {lid}, cid))\n",
        f"    result = {entry}(*copy.deepcopy(args))\n",
        "    assert hashlib.sha256(repr(result).encode()).hexdigest() == EXPECTED[cid]\n",
    ]
    return "".join(lines)


def enamel_optimize(limit: int, seed: int = 0) -> list[Task]:
    csv.field_size_limit(1 << 30)
    with open(DATA / "enamel" / "enamel.csv", encoding="utf-8", newline="") as handle:
        enamel = {r["task_id"]: r for r in csv.DictReader(handle)}
    canonical = json.loads((DATA / "enamel" / "humaneval-canonical.json").read_text())
    experts = json.loads((DATA / "enamel" / "enamel-references.json").read_text())
    plus = {r["task_id"]: r for r in _jsonl(DATA / "humanevalplus" / "HumanEvalPlus.jsonl.gz")}
    tasks = []
    for number in ENAMEL_GOOD:
        task_id = f"HumanEval/{number}"
        if task_id not in enamel or task_id not in canonical or task_id not in experts or task_id not in plus:
            continue
        row, original, expert = enamel[task_id], canonical[task_id], experts[task_id]
        entry = row["entry_point"]
        levels = [int(x) for x in row["input_levels"].split()]
        found = timing_size(original, entry, row["input_generator"], levels)
        if found is None:
            continue
        size, lid, seconds = found
        # Expected answers come from the expert program: same answers, and quick on HumanEval+'s large inputs.
        answers = on_generated_inputs(expert, entry, row["input_generator"], size, lid, [0, 1, 2, 3], timeout=120)
        if answers is None:
            continue
        hashes = {cid: answer["sha256"] for cid, answer in answers.items()}
        try:
            visible, hidden = _split_cases(expert, entry, plus[task_id]["base_input"], plus[task_id]["plus_input"], seed)
        except Exception:
            continue
        visible_tests = (
            case_tests(entry, visible, "visible") + "\n\n" + _timing_block(row["input_generator"], entry, size, lid, 0, hashes[0])
        )
        tasks.append(
            Task(
                f"enamel/{task_id}",
                "optimize",
                entry,
                original,
                visible_tests,
                case_tests(entry, hidden, "hidden"),
                timing_tests(entry, row["input_generator"], size, lid, [1, 2, 3], {k: hashes[k] for k in (1, 2, 3)}),
                expert,
                info={
                    "set": "ENAMEL",
                    "level": lid,
                    "size": size,
                    "original_seconds": round(seconds, 3),
                    "visible": len(visible) + 1,
                    "hidden": len(hidden),
                },
            )
        )
        if len(tasks) == limit:
            break
    return tasks


def _timing_block(generator: str, entry: str, size: int, lid: int, cid: int, digest: str) -> str:
    """One visible test on a large input, so that the search sees the function's speed."""
    return "\n".join(
        [
            "import hashlib",
            "import random",
            GENERATOR_HELPERS,
            generator.strip(),
            "",
            "",
            "def test_large_input():",
            f"    random.seed({lid} * 1000 + {cid})",
            f"    args = list(generate_input({size}, {lid}, {cid}))",
            f"    result = {entry}(*copy.deepcopy(args))",
            f"    assert hashlib.sha256(repr(result).encode()).hexdigest() == {digest!r}",
            "",
        ]
    )


def build_tasks(write_per_set: int, optimize: int, seed: int = 0) -> list[Task]:
    """The slice: `write_per_set` tasks from each write set and `optimize` ENAMEL tasks, drawn with `seed`."""
    return (
        lbpp_write(write_per_set, seed)
        + humaneval_write(write_per_set, seed)
        + mbpp_write(write_per_set, seed)
        + enamel_optimize(optimize, seed)
    )


def load_or_build(path: Path, write_per_set: int, optimize: int, seed: int = 0) -> list[Task]:
    """Tasks from `path` when it was built with the same slice, else built (a few minutes) and saved there."""
    key = {"write_per_set": write_per_set, "optimize": optimize, "seed": seed}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("slice") == key:
            return [Task.from_dict(t) for t in saved["tasks"]]
    tasks = build_tasks(write_per_set, optimize, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"slice": key, "tasks": [t.to_dict() for t in tasks]}, indent=1))
    return tasks
