"""A seccomp filter for bubblewrap (`--seccomp FD`): no new unix-domain sockets.

Under bubblewrap the run has no network, and the directories where sockets live
(`/run`, `/var/run`, `$XDG_RUNTIME_DIR`, `/tmp`, home) are hidden; but a pathname
socket elsewhere on a readable path (a docker socket under `/srv`, an agent's
under `/opt`) could still be reached with `socket(AF_UNIX)` + `connect`. This
filter makes `socket(AF_UNIX, ...)` fail with EACCES; `socketpair`, which asyncio
and multiprocessing use for their own pipes, stays allowed, as does every other
call. A test that needs a unix socket of its own (a multiprocessing manager, a
syslog handler) fails with it, as it would for the original: the search then says so.

The program is classic BPF, written out here rather than through libseccomp (not
a Python dependency): the architecture is checked first, and on one this filter
does not know, everything is allowed.
"""

from __future__ import annotations

import contextlib
import os
import platform
import struct
from collections.abc import Iterator

_LOAD_WORD, _JUMP_EQUAL, _RETURN = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_ERRNO = 0x00050000  # SECCOMP_RET_ERRNO | errno
_EACCES = 13
_AF_UNIX = 1
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian: arg 0's low word)

# machine -> (AUDIT_ARCH_*, the socket syscall's numbers under that architecture)
_ARCHITECTURES = {
    "x86_64": (0xC000003E, (41, 0x40000000 + 41)),  # and its x32 ABI
    "aarch64": (0xC00000B7, (198,)),
}


def _op(code: int, jump_true: int, jump_false: int, value: int) -> bytes:
    return struct.pack("<HBBI", code, jump_true, jump_false, value)


def unix_socket_filter() -> bytes | None:
    """The compiled program for this machine, or None where the architecture is not known."""
    known = _ARCHITECTURES.get(platform.machine())
    if known is None:
        return None
    arch, numbers = known
    # 0: arch; 1: not ours -> allow; 2: nr; 3..: each socket number -> check the family; else allow
    program = [_op(_LOAD_WORD, 0, 0, _ARCH)]
    body = [_op(_LOAD_WORD, 0, 0, _NR)]
    for index, number in enumerate(numbers):
        left = len(numbers) - index - 1  # syscall-number tests after this one
        body.append(_op(_JUMP_EQUAL, left + 1, 0, number))  # a match: over the other tests and the allow
    # not a socket call: allow
    body.append(_op(_RETURN, 0, 0, _ALLOW))
    body.append(_op(_LOAD_WORD, 0, 0, _ARG0))
    body.append(_op(_JUMP_EQUAL, 0, 1, _AF_UNIX))
    body.append(_op(_RETURN, 0, 0, _ERRNO | _EACCES))
    body.append(_op(_RETURN, 0, 0, _ALLOW))
    # jump from the arch test over the whole body to the final allow when the arch differs
    program.append(_op(_JUMP_EQUAL, 0, len(body) - 1, arch))
    return b"".join(program + body)


@contextlib.contextmanager
def descriptor() -> Iterator[int | None]:
    """A fresh descriptor holding the program, for one bubblewrap start (which reads it to
    its end); None where there is no program for this machine or no memfd."""
    program = unix_socket_filter()
    if program is None or not hasattr(os, "memfd_create"):
        yield None
        return
    fd = os.memfd_create("orps-seccomp", 0)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)
