"""A long-running child process (a JVM) that tests can stop, kill, pause and resume.

Shared by :class:`~local_kafka.broker.KafkaBroker` and
:class:`~local_kafka.registry.SchemaRegistry`: both spawn a server, wait until it
really answers, and quote the end of its log when it does not.
Longer than most modules: the whole life of a child process (start, readiness,
stop, kill, pause, parent-death signal) is one thing to read.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

logger = logging.getLogger(__name__)

_TAIL_LINES = 40
_PR_SET_PDEATHSIG = 1
# Looked up now, not in the child between fork and exec, where only the call is safe.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def ends_with_parent() -> Callable[[], None] | None:
    """What ``Popen(preexec_fn=...)`` runs so the child gets SIGTERM when we die.

    A launcher killed hard (a closed terminal, SIGKILL of its process group)
    must not leave its JVMs and workers holding the ports and the data for
    the next start; SIGTERM lets each shut down cleanly.  Linux only, and
    only from the main thread: the kernel signals the child when the thread
    that started it ends, and a worker thread may end long before we do.
    """
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    return _die_with_parent


def _die_with_parent() -> None:
    assert _prctl is not None
    parent = os.getppid()
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the call: nobody would signal us
        os.kill(os.getpid(), signal.SIGTERM)


class ServiceError(RuntimeError):
    """A local service could not start, or was used in a state that does not allow it."""


def ask_to_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, without waiting."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        # A paused (SIGSTOPped) process only acts on SIGTERM once it is continued.
        process.send_signal(signal.SIGCONT)


def terminate(process: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    """SIGTERM and wait; SIGKILL if ``process`` is still there after ``timeout`` s."""
    if process.poll() is not None:
        return
    ask_to_stop(process)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s did not stop within %g s; killing it", name, timeout)
        process.kill()
        process.wait()


class ManagedProcess:
    """One child at a time, named ``name`` and reached at ``address`` in messages.

    Failures raise ``error_type`` so that each service keeps its own exception class.
    """

    def __init__(self, name: str, address: str, error_type: type[ServiceError]) -> None:
        self.name = name
        self.address = address
        self._error_type = error_type
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        # Size of each log file when the child was spawned: errors quote only this run.
        self._log_offsets: dict[Path, int] = {}

    @property
    def is_running(self) -> bool:
        """True while the process exists (also when paused)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise self._error_type(f"{self.name} on {self.address} is not running")
        return self._process.pid

    def refuse_if_running(self) -> None:
        """Raise if the child is running: called before a start touches any state."""
        if self.is_running:
            raise self._error_type(f"{self.name} on {self.address} is already running")

    def spawn(
        self,
        command: Sequence[str],
        *,
        output: Path | None,
        logs: Sequence[Path],
        cwd: Path | None = None,
    ) -> None:
        """Start ``command``; stdout and stderr go to ``output`` (None: our terminal).

        ``logs`` are the files whose new lines :meth:`tails` quotes in errors.
        """
        self.refuse_if_running()
        self._log_offsets = {path: path.stat().st_size if path.exists() else 0 for path in logs}
        if output is not None:
            self._output = output.open("ab")
        # A session of its own keeps Ctrl-C in a terminal away from the child, so that
        # our code, not the signal, decides how the service shuts down.
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=self._output,
            start_new_session=True,
            preexec_fn=ends_with_parent(),
        )
        # Safety net for code paths that never reach stop() (an exception in a test
        # session, a script that forgets): stop the child when the interpreter exits.
        atexit.register(self.stop)

    def wait_until(self, ready: Callable[[], bool], deadline: float) -> None:
        """Poll ``ready`` until it is true; kill the child and raise if it exits or
        ``deadline`` (a :func:`time.monotonic` value) passes first."""
        while True:
            process = self._process
            if process is None:
                raise self._error_type(f"{self.name} on {self.address} is not running")
            code = process.poll()
            if code is not None:
                tails = self.tails()
                self._forget_process()
                raise self._error_type(
                    f"{self.name} exited with code {code} while starting.{tails}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                tails = self.tails()
                self.kill()
                raise self._error_type(
                    f"{self.name} on {self.address} was not ready in time.{tails}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        """Stop cleanly (SIGTERM), SIGKILL after ``timeout`` seconds; idempotent."""
        process = self._process
        if process is None:
            return
        terminate(process, self.name, timeout)
        logger.info("%s on %s stopped", self.name, self.address)
        self._forget_process()

    def ask_to_stop(self) -> None:
        if self._process is not None:
            ask_to_stop(self._process)

    def kill(self) -> None:
        """SIGKILL the child, as in a crash."""
        process = self._process
        if process is None:
            return
        process.kill()
        process.wait()
        self._forget_process()

    def send_signal(self, signum: signal.Signals) -> None:
        """Signal the running child (SIGSTOP/SIGCONT for pause and resume)."""
        if self._process is None or self._process.poll() is not None:
            raise self._error_type(f"{self.name} on {self.address} is not running")
        self._process.send_signal(signum)

    def tails(self) -> str:
        """The last lines this run wrote to the log files, for error messages."""
        report = ""
        for path, offset in self._log_offsets.items():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode(errors="replace")
            lines = text.splitlines()[-_TAIL_LINES:]
            if lines:
                report += f"\n--- last {len(lines)} lines of {path} ---\n" + "\n".join(lines)
        return report

    def _forget_process(self) -> None:
        self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None
        atexit.unregister(self.stop)


class Lifecycle:
    """``start`` and ``stop``; as a context manager, it also stops what a failed start left."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class LocalService(Lifecycle):
    """The lifecycle both local JVM services share; subclasses define :meth:`start`.

    They keep their :class:`ManagedProcess` in ``_process``.
    """

    _process: ManagedProcess
    #: What :meth:`restart` waits for the service to be ready again.
    START_TIMEOUT: float = 90

    def start(self, timeout: float = START_TIMEOUT) -> None:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs."""
        return self._process.pid if self._process.is_running else None

    def stop(self, timeout: float = 30) -> None:
        """Stop cleanly (SIGTERM), SIGKILL after ``timeout`` seconds; idempotent."""
        self._process.stop(timeout)

    def ask_to_stop(self) -> None:
        """SIGTERM, without waiting (:meth:`stop` waits)."""
        self._process.ask_to_stop()

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        self._process.kill()

    def pause(self) -> None:
        """SIGSTOP: connections are accepted, nothing is answered (a hang)."""
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused service."""
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop (if running) and start again on the same ports with the same data."""
        self.stop()
        self.start(self.START_TIMEOUT)
