"""The first process of a run without a pid namespace of its own: a child subreaper.

Under bubblewrap each run has its own pid namespace, and everything in it dies with
it. Under the weaker layers (`netns`, `none`) a process that forks twice and drops
its environment (the run's marker with it) is handed to init when its parent exits,
and without a pids cgroup the executor has nothing left to find it by. Started as
`python -I -S reaper.py -- command...`, this process declares itself a child
subreaper (PR_SET_CHILD_SUBREAPER), so such orphans are handed to it instead: they
stay descendants of the run, which the executor's sweep kills. When the command
exits, it kills and reaps what is left itself, then ends as the command did
(its exit code, or the same signal).

Standalone on purpose (`-I -S`: no site, no project, no orps_lsp import): it costs a
bare interpreter start per cold run, and nothing the run can change reaches it.
"""

import ctypes
import os
import signal
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_SWEEP_SECONDS = 2.0


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1].decode() == me and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _sweep() -> None:
    """Kill every process handed to us, until none is left (they may fork meanwhile)."""
    deadline = time.monotonic() + _SWEEP_SECONDS
    while time.monotonic() < deadline:
        _reap_all()
        left = _children()
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def main(argv: list[str]) -> None:
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    if not command:
        sys.stderr.write("usage: reaper.py -- command [args...]\n")
        os._exit(2)
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None  # no prctl: the run goes on as it would without this process
    if prctl is not None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            if prctl is not None:  # dies with this process, as this one dies with the executor
                prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() == me:
                os.execvp(command[0], command)
        finally:
            os._exit(127)
    while True:
        try:
            done, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        if done == pid:
            break
    _sweep()
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL, SIGSTOP: default already
        os.kill(os.getpid(), number)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main(sys.argv)
