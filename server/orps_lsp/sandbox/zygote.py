"""The warm worker's own program: pytest kept loaded inside the sandbox, one fork per run.

A cold run pays for a new interpreter, pytest and every installed pytest
plugin (half a second or more) before the first test. The warm worker
(warm.py) starts this module once per executor, under bubblewrap as the pid
namespace's init (`--as-pid-1`), in a sandbox laid out exactly like a cold
run's (the same run directory, the tests bound read-only, the same hidden
directories and scratch tmpfs). It imports pytest, the plugins, coverage and
the third-party modules the tests import, then serves runs one at a time on
a socket (one JSON message per packet):

    <- {"event": "ready", "threads": N}  N > 1: a library started threads; the executor will not fork from us
    -> {"op": "run", ...} with the results and output descriptors attached
    <- {"event": "forked", "pid": N}     the child waits: the executor puts it in the run's cgroup
    -> {"op": "go"} (or {"op": "abort"})
    <- {"event": "exit", "status": S, "maxrss_kb": K}
    -> {"op": "reset", "scratch": [...]}
    <- {"event": "clean"}                every other process of the namespace killed and reaped,
                                         the scratch directories emptied

The child becomes what a cold run is once `python -m pytest` has started: a
new session, the run's rlimits, environment, results descriptor and key on
stdin, then `pytest.main` with the same arguments, and the interpreter's
normal shutdown (non-daemon threads joined, atexit handlers). No candidate
code ever runs in this process: as the namespace's init it cannot be killed
from inside, and after each run it kills everything else, so nothing a
candidate starts outlives its run.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import json
import os
import re
import signal
import socket
import time
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .limits import apply_rlimits
from .protocol import RESULTS_FD_VAR
from .workspace import remove_tree

SOCKET_VAR = "ORPS_WARM_SOCKET"  # descriptor number of this process's end of the socket
PRELOAD_VAR = "ORPS_WARM_PRELOAD"  # JSON list of top-level module names the tests import
MESSAGE_BYTES = 1 << 20
_CHILD_FAILED = 70  # the child could not start pytest (EX_SOFTWARE)


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One message (EOFError when the other end closed)."""
    data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, max_fds) if max_fds else (sock.recv(MESSAGE_BYTES), [], 0, None)
    if not data:
        raise EOFError
    return json.loads(data), list(fds)


def main() -> None:
    sock = socket.socket(fileno=int(os.environ.pop(SOCKET_VAR)))
    # Not dumpable: a run (same uid) cannot open /proc/1/mem and write into the worker,
    # which would poison every later run. Each run turns it back on for itself (below).
    _set_dumpable(False)
    # Init only receives the signals it handles: Python's KeyboardInterrupt handler would let a run kill us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm_up(json.loads(os.environ.pop(PRELOAD_VAR, "[]")))
    os.chdir("/")  # not inside the run's directory: the executor's sweep looks there for the run's processes
    send(sock, {"event": "ready", "threads": len(os.listdir("/proc/self/task"))})  # forking needs one
    while True:
        try:
            message, fds = receive(sock, max_fds=2)
        except (EOFError, OSError):
            return  # the executor closed: as init, our exit ends the namespace
        if message.get("op") == "run":
            _serve_run(sock, message, fds)
        elif message.get("op") == "reset":
            _reset(message.get("scratch", []))
            send(sock, {"event": "clean"})


def _set_dumpable(dumpable: bool) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, int(dumpable), 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass  # no prctl (not Linux): nothing to protect through /proc either


def _warm_up(preload: list[str]) -> None:
    """Import what every run needs before it reaches the first test."""
    import pytest  # noqa: F401

    from . import plugin  # noqa: F401

    try:
        import coverage  # noqa: F401
    except ImportError:
        pass
    project = os.getcwd() + os.sep
    for name in preload:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if (
            spec is None
            or (spec.origin or "").startswith(project)
            or any(location.startswith(project) for location in spec.submodule_search_locations or ())
        ):
            continue  # the project's own modules (the candidate among them) are imported fresh in each run
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that fails here will fail, and be reported, in the run
            pass
    # Installed plugins are found and imported by a pytest session: run one on an
    # empty directory (no project code, no conftest).
    empty = tempfile.mkdtemp(prefix="warm-up-")
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        pytest.main(["-q", "--collect-only", "-p", "no:cacheprovider", "--rootdir", empty, empty])
    except BaseException:  # noqa: BLE001 - warming up is best effort
        pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (devnull, *saved):
            os.close(fd)
        os.rmdir(empty)
    tempfile.tempdir = None


def _serve_run(sock: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the run's process
        try:
            os.close(go_write)
            sock.close()
            _child(message, fds, go_read)
        finally:
            os._exit(_CHILD_FAILED)
    os.close(go_read)
    for fd in fds:
        os.close(fd)
    send(sock, {"event": "forked", "pid": pid})
    try:
        reply, _ = receive(sock)
    except (EOFError, OSError):
        reply = {}
    try:
        os.write(go_write, b"g" if reply.get("op") == "go" else b"x")
    except OSError:
        pass
    os.close(go_write)
    started = time.monotonic()
    _, status, usage = os.wait4(pid, 0)
    send(
        sock,
        {
            "event": "exit",
            "status": os.waitstatus_to_exitcode(status),
            "maxrss_kb": usage.ru_maxrss,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "wall_s": time.monotonic() - started,
        },
    )


def _child(message: dict[str, Any], fds: list[int], go_read: int) -> None:
    results_fd, output_fd = fds
    _set_dumpable(True)  # the run's own process, as a cold run's: the executor reads its /proc/<pid>/fd
    os.setsid()  # own session and process group, as a cold run's
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.read(go_read, 1) != b"g":
        os._exit(_CHILD_FAILED)
    os.close(go_read)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    key_read, key_write = os.pipe()  # the plugin reads the run's key from stdin
    os.write(key_write, message["key"].encode("ascii"))
    os.close(key_write)
    os.dup2(key_read, 0)
    os.close(key_read)
    apply_rlimits(message["rlimits"])
    os.environ.clear()
    os.environ.update(message["env"])
    os.environ[RESULTS_FD_VAR] = str(results_fd)
    tempfile.tempdir = None
    os.chdir(message["cwd"])
    importlib.invalidate_caches()  # the project's files changed since the warm-up
    code = _run_pytest(message["args"], message.get("coverage"))
    _shut_down(code)


def _run_pytest(args: list[str], coverage_options: dict[str, str] | None) -> int:
    import pytest

    from . import plugin

    # The plugin was imported at the warm-up: named with -p, pytest would warn that it
    # cannot rewrite its asserts any more, and a project with filterwarnings=error
    # would fail on our warning. Handed over as an object, it is registered as early.
    args, plugins = _plugin_as_object(args, plugin)
    if not coverage_options:
        return int(pytest.main(args, plugins=plugins))
    import coverage

    measured = coverage.Coverage(
        data_file=coverage_options["data_file"], config_file=coverage_options["rcfile"], include=[coverage_options["include"]]
    )
    measured.start()
    try:
        return int(pytest.main(args, plugins=plugins))
    finally:
        measured.stop()
        measured.save()


def _plugin_as_object(args: list[str], plugin: Any) -> tuple[list[str], list[Any]]:
    """`args` without `-p <the plugin>`, and the plugin module to register instead."""
    rest, plugins, index = [], [], 0
    while index < len(args):
        if args[index] == "-p" and index + 1 < len(args) and args[index + 1] == plugin.__name__:
            plugins.append(plugin)
            index += 2
            continue
        rest.append(args[index])
        index += 1
    return rest, plugins


def _shut_down(code: int) -> None:
    """The interpreter's own exit, minus returning into this module's loop:
    a thread the tests left running keeps the process alive (and the executor
    reports the hang), as it would in a cold run."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as Py_Finalize does
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _reset(scratch: list[str]) -> None:
    """Kill and reap every other process in the namespace, empty the scratch directories."""
    try:
        os.kill(-1, signal.SIGKILL)  # from init: everything in the namespace but init itself
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    mounts = _mount_points()
    for directory in scratch:
        _empty(directory, mounts)
    if scratch and _system_v_objects() and os.path.exists("/usr/bin/ipcrm"):  # they outlive processes
        subprocess.run(
            ["/usr/bin/ipcrm", "--all"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def _system_v_objects() -> bool:
    """Whether this namespace holds System V shared memory, semaphores or message queues."""
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii", errors="replace") as listing:
                if len(listing.read().splitlines()) > 1:  # a header line, then one line per object
                    return True
        except OSError:
            return True  # cannot tell: clean anyway
    return False


def _mount_points() -> set[str]:
    points = set()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
            for line in mountinfo:
                fields = line.split()
                if len(fields) > 4:
                    points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    except OSError:
        pass
    return points


def _empty(directory: str, mounts: set[str]) -> None:
    """Remove what is in `directory`, but never a mount point or what leads to one."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        path = entry.path
        if path in mounts:
            continue
        if any(point.startswith(path + os.sep) for point in mounts):
            if entry.is_dir(follow_symlinks=False):
                _empty(path, mounts)
            continue
        _remove(path)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        remove_tree(Path(path))  # also where a candidate took the permission away
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


if __name__ == "__main__":
    main()
