"""Which isolation layer wraps a sandboxed run: detected once, strongest first.

  bwrap  bubblewrap: the whole filesystem read-only, /tmp and the user's home
         hidden, only the run's own directory writable (its tests read-only),
         no network, its own pid namespace (every process of the run dies with
         it), no capabilities.
  netns  `unshare -n` (root) or `unshare -rn` (user namespaces): no network;
         the filesystem is the user's own.
  none   nothing beyond what every layer has.

Every layer has rlimits, a new session, a private HOME and TMPDIR, a scrubbed
environment and the process-tree kill (limits.py); root also gets a pids cgroup
where the hierarchy is writable (pids.py). Nothing here needs root: without
bubblewrap or user namespaces the run falls back to a weaker layer, and
`describe()` says which one is in force.

ORPS_ISOLATION=auto|bwrap|netns|none (or SandboxLimits.isolation) picks a
layer; one that is not usable here falls back to the next available one.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orps_lsp

from . import pids

ISOLATION_VAR = "ORPS_ISOLATION"
LAYERS = ("bwrap", "netns", "none")  # strongest first
PLUGIN_ROOT = str(Path(orps_lsp.__file__).resolve().parent.parent)  # what `-p orps_lsp.sandbox.plugin` imports
_MB = 1024 * 1024
_PROBE_SECONDS = 20.0
_DESCRIPTIONS = {
    "bwrap": "bubblewrap: read-only filesystem except the run's copy (its tests read-only), "
    "home and /tmp hidden, no network, own pid namespace, no capabilities",
    "netns": "network namespace (unshare): no network; the filesystem is not protected",
    "none": "no namespace isolation: the filesystem and the network are not protected",
}


# What judges every run whatever the layer (docs/security.md says how each works).
GUARDS = (
    "guards: results on an HMAC-signed channel, the harness guard (pytest and the plugin unpatched), "
    "the judge files checked after each run, clocks and /proc read through bindings made before any "
    "project code runs, the tests' imports checked (the candidate is what they import), no candidate code "
    "at import, the test modules compiled from their files and frozen after collection, large speed-ups "
    "re-checked with the kernel's CPU count and the run's length"
)


@dataclass(frozen=True)
class Isolation:
    layer: str  # "bwrap" | "netns" | "none"
    note: str = ""  # why a requested layer is not the one in force

    @property
    def blocks_network(self) -> bool:
        return self.layer in ("bwrap", "netns")

    @property
    def protects_files(self) -> bool:
        return self.layer == "bwrap"

    def describe(self) -> str:
        """One line for debug info: the layer and what every run has besides."""
        bound = (
            pids.describe()
            if pids.available()
            else ("RLIMIT_NPROC" if os.geteuid() != 0 else "no process-count bound beyond the executor's watch")
        )
        parts = [
            _DESCRIPTIONS[self.layer],
            f"rlimits (CPU, memory, file size, open files), {bound}",
            "new session",
            "private HOME/TMPDIR",
            "scrubbed environment",
            "own pid namespace" if self.layer == "bwrap" else "a subreaper for what double-forks",
            "killed with the server",
            GUARDS,
        ]
        text = "; ".join(parts)
        return f"{text} ({self.note})" if self.note else text

    def exit_status(self, code: int | None) -> int | None:
        """The command's own exit status from its wrapper's (negative: killed by that signal).

        bubblewrap exits with 128 + N when the command died of signal N (a
        command that exits with such a code on its own reads the same).
        """
        if self.layer == "bwrap" and code is not None and 128 < code < 128 + 65:
            return -(code - 128)
        return code

    def wrap(
        self,
        command: list[str],
        *,
        run_dir: Path,
        cwd: Path,
        read_only: Iterable[Path] = (),
        protected: Iterable[Path] = (),
        scratch: dict[Path, int] | None = None,
        as_pid_1: bool = False,
        seccomp_fd: int | None = None,
    ) -> list[str]:
        """`command` inside this layer.

        run_dir: the run's private directory, the one place it may write.
        read_only: files outside run_dir it must read (coverage settings).
        protected: files inside run_dir it must not change (the tests).
        scratch: directories inside run_dir given a private tmpfs of that many bytes.
        as_pid_1: under bubblewrap, `command` is the pid namespace's init (the
        warm worker, which reaps and kills what its runs leave; see zygote.py).
        seccomp_fd: under bubblewrap, a descriptor holding seccomp.py's filter (no
        `socket(AF_UNIX)`), which the caller passes to the process it starts.
        """
        if self.layer == "bwrap":
            return _bwrap_command(
                command,
                run_dir=run_dir,
                cwd=cwd,
                read_only=list(read_only),
                protected=list(protected),
                scratch=scratch or {},
                as_pid_1=as_pid_1,
                seccomp_fd=seccomp_fd,
            )
        # Without a pid namespace of its own, the run starts under a subreaper (reaper.py):
        # what double-forks out of it is handed to that process, not to init.
        if self.layer == "netns":
            return _under_subreaper([*_netns_prefix(), *command])
        return _under_subreaper(command)


_REAPER = str(Path(__file__).with_name("reaper.py"))


def _under_subreaper(command: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", _REAPER, "--", *command]


def resolve(requested: str = "auto") -> Isolation:
    """The layer for `requested` (or ORPS_ISOLATION when `requested` is "auto")."""
    if requested == "auto":
        requested = os.environ.get(ISOLATION_VAR, "auto").strip().lower() or "auto"
    usable = available_layers()
    if requested == "auto":
        return Isolation(usable[0])
    if requested not in LAYERS:
        return Isolation(usable[0], f"unknown isolation {requested!r}; using {usable[0]}")
    if requested in usable:
        return Isolation(requested)
    fallback = next(layer for layer in usable if LAYERS.index(layer) > LAYERS.index(requested))
    return Isolation(fallback, f"{requested} requested but not usable here: {_unusable_reason(requested)}")


@functools.cache
def available_layers() -> tuple[str, ...]:
    """The usable layers, strongest first ("none" always)."""
    return tuple(layer for layer in LAYERS if not _unusable_reason(layer))


@functools.cache
def _unusable_reason(layer: str) -> str:
    """ "" when `layer` works here, else why not (probed once per process)."""
    if layer == "none":
        return ""
    if layer == "netns":
        if not shutil.which("unshare"):
            return "unshare is not installed"
        return _probe([*_netns_prefix(), "true"])
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="orps-probe-") as scratch:
        run_dir = Path(scratch).resolve()
        # The real thing, on a real interpreter: the venv may sit under a hidden directory.
        command = [sys.executable, "-c", "import pytest, orps_lsp.sandbox.plugin"]
        probe = _bwrap_command(command, run_dir=run_dir, cwd=run_dir, read_only=[], protected=[], scratch={})
        return _probe(probe, env={**os.environ, "PYTHONPATH": PLUGIN_ROOT})


def _probe(command: list[str], env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_PROBE_SECONDS, env=env, stdin=subprocess.DEVNULL, check=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if result.returncode == 0:
        return ""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def _netns_prefix() -> list[str]:
    # Root may enter a network namespace directly; anyone else needs a user
    # namespace first (-r: mapped to root inside it, the same user outside).
    return ["unshare", "-n", "--"] if os.geteuid() == 0 else ["unshare", "-rn", "--"]


# ----------------------------------------------------------------- bubblewrap


def _bwrap_command(
    command: list[str],
    *,
    run_dir: Path,
    cwd: Path,
    read_only: list[Path],
    protected: list[Path],
    scratch: dict[Path, int],
    as_pid_1: bool = False,
    seccomp_fd: int | None = None,
) -> list[str]:
    # Order matters: bubblewrap applies these in sequence, later mounts on top.
    args = [
        str(shutil.which("bwrap") or "bwrap"),
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--size",
        str(16 * _MB),
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--proc",
        "/proc",
    ]
    scratch_roots, private_roots = _hidden_roots()
    hidden = sorted(scratch_roots + private_roots, key=len)
    for root in hidden:
        args += ["--size", str(16 * _MB), "--tmpfs", root]
    for python_path in _python_paths(hidden):
        args += ["--ro-bind", python_path, python_path]
    for path in read_only:
        # Never a hidden root itself, or what it hides (a project that is the home directory).
        if not any(root == str(path) or _inside(root, str(path)) for root in hidden):
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(run_dir), str(run_dir)]
    for path, size in scratch.items():
        args += ["--size", str(size), "--tmpfs", str(path)]
    for path in protected:
        args += ["--ro-bind", str(path), str(path)]
    for root in private_roots:
        # Last, once the mounts inside it exist: a write to the home directory
        # fails loudly instead of vanishing with the tmpfs.
        args += ["--remount-ro", root]
    args += ["--chdir", str(cwd), "--unshare-all", "--die-with-parent", "--new-session"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]  # root inside must not remount what is read-only
    if as_pid_1:
        args.append("--as-pid-1")
    return [*args, "--", *command]


def hidden_scratch_roots() -> list[str]:
    """The temporary directories bubblewrap replaces with a writable tmpfs."""
    return _hidden_roots()[0]


def _hidden_roots() -> tuple[list[str], list[str]]:
    """Directories replaced by an empty tmpfs: the temporary directories (other
    runs, the user's scratch files), left writable because code writes to /tmp
    by name, and, made read-only, the user's home (keys, tokens, shell history)
    and the directories that hold sockets (`/run`, `/var/run`, `$XDG_RUNTIME_DIR`:
    the session bus, the docker socket, ssh and gpg agents). A read-only mount
    does not stop connect() on a socket file: only hiding it does."""
    homes = [os.environ.get("HOME", "")]
    try:
        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        pass
    sockets = ["/run", "/var/run", os.environ.get("XDG_RUNTIME_DIR", "")]
    scratch = list(dict.fromkeys(_existing([tempfile.gettempdir(), "/tmp"])))
    private = [p for p in dict.fromkeys(_existing(homes + sockets)) if p not in scratch]
    return scratch, private  # mounted in order of length: a parent before what lies inside it


def _existing(paths: list[str]) -> list[str]:
    resolved = [os.path.realpath(p) for p in paths if p]
    return [p for p in resolved if p != "/" and os.path.isdir(p)]


def _python_paths(hidden: list[str]) -> list[str]:
    """What the interpreter needs from under the hidden directories, read-only:
    its prefixes, its import path and orps-lsp itself (a venv in /tmp, a pyenv
    install in the home directory)."""
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable)),
        PLUGIN_ROOT,
        *(p for p in sys.path if p),
    ]
    paths: list[str] = []
    for candidate in candidates:
        for path in {os.path.abspath(candidate), os.path.realpath(candidate)}:
            # Only strict insides of a hidden root: re-exposing a root would undo the hiding.
            if os.path.exists(path) and any(_inside(path, root) for root in hidden) and path not in paths:
                paths.append(path)
    return sorted((p for p in paths if not any(_inside(p, q) for q in paths if q != p)), key=len)


def _inside(path: str, root: str) -> bool:
    return path != root and path.startswith(root.rstrip(os.sep) + os.sep)
