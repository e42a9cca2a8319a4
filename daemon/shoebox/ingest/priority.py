"""Low priority for a process that works through a backlog: it should use the CPU and the disk
only when nothing else wants them (an upload's fast phase, the viewer, the rest of the machine).

`lower()` asks for three things, each where the kernel permits it and silently not otherwise:
nice 10, the SCHED_IDLE scheduling class, and the idle I/O class (through the `ioprio_set`
system call, which Python does not wrap, so through ctypes).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform

# ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)
_SYS_IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "i686": 289, "armv7l": 314}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_IDLE = 3
_IOPRIO_CLASS_SHIFT = 13


def lower() -> None:
    """The calling process (its calling thread, for the scheduler and I/O class) yields the CPU
    and the disk to everything else."""
    with contextlib.suppress(OSError):
        os.nice(10)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    idle_io()


def idle_io() -> bool:
    """Put the calling thread in the idle I/O class; False where that is not possible."""
    number = _SYS_IOPRIO_SET.get(platform.machine())
    name = ctypes.util.find_library("c")
    if number is None or name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        value = _IOPRIO_CLASS_IDLE << _IOPRIO_CLASS_SHIFT
        return int(libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value)) == 0
    except (OSError, AttributeError):
        return False
