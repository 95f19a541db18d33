"""Who is writing a run: the process id and host a run record names, and whether it still lives.

Callers use `owners.pid_alive` through the module, so tests can stand in for a dead process.
"""
from __future__ import annotations

import os
import socket


def this_process() -> tuple[int, str]:
    return os.getpid(), socket.gethostname()


def pid_alive(pid: int | None, host: str | None) -> bool | None:
    """Whether the writing process still runs: None when it ran on another host (cannot tell)."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
