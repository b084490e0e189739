"""Helper for the kill -9 tests: stop a subprocess at the point where it pauses."""

import os
import signal
import time


def kill_9_when_marked(proc, marker, what: str, timeout: float) -> None:
    """Wait until the subprocess ``proc`` creates ``marker`` (it pauses there), then kill -9 it.

    Fails if ``proc`` ends first or has not reached ``what`` within ``timeout`` seconds; never
    leaves it running.
    """
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before reaching {what}"
            assert time.monotonic() < deadline, f"the process did not reach {what} in {timeout} s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
