"""The suite's console: one line per finished stage, and on a terminal a ticking line naming the stages that
run now, the elapsed time and an estimate of the time left.

Estimates are each stage's last measured duration (or its protocol weight), scaled by how this run's finished
stages compared with their estimates, and divided by the number of stages that run at once.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO


def fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    def __init__(self, total: int, estimates: dict[str, float], out: TextIO, enabled: bool = True, jobs: int = 1):
        self.total, self.estimates, self.out, self.enabled, self.jobs = total, estimates, out, enabled, jobs
        self.started, self.count = time.perf_counter(), 0
        self.measured: list[tuple[float, float]] = []  # (estimate, actual) of stages run now: calibrates the rest
        self.running: dict[str, float] = {}  # stage -> when it started
        self.pending: list[str] = []  # stages not started yet
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _estimate(self, name: str) -> float:
        return self.estimates.get(name, 30.0)

    def left(self) -> float:
        est, act = sum(e for e, _ in self.measured), sum(a for _, a in self.measured)
        scale = act / est if est > 0 else 1.0
        now = time.perf_counter()
        work = sum(self._estimate(n) for n in self.pending) * scale
        work += sum(max(self._estimate(n) * scale - (now - t0), 0.0) for n, t0 in self.running.items())
        return work / max(self.jobs, 1)

    def _tail(self) -> str:
        return f"elapsed {fmt_time(time.perf_counter() - self.started)}, ~{fmt_time(self.left())} left"

    def line(self, text: str) -> None:
        if self.enabled:
            with self._lock:  # on a terminal, first wipe the ticking line
                self.out.write(("\r\033[K" if self._tty() else "") + text + "\n")
                self.out.flush()

    def _tty(self) -> bool:
        return self.enabled and bool(getattr(self.out, "isatty", lambda: False)())

    def start(self, name: str, pending: list[str]) -> None:
        with self._lock:
            self.running[name], self.pending = time.perf_counter(), list(pending)
        if self._tty() and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                now = time.perf_counter()
                names = ", ".join(f"{n} {fmt_time(now - t0)}" for n, t0 in self.running.items())
                self.out.write(f"\r\033[K  running {names} | {self._tail()}")
                self.out.flush()

    def end(self, name: str, status: str, seconds: float, note: str = "") -> None:
        with self._lock:
            self.running.pop(name, None)
            self.count += 1
            if status == "done" and name not in ("demo-data", "report"):  # training stages calibrate the estimate
                self.measured.append((self._estimate(name), seconds))
        if not self.running and self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        shown = status if status != "failed" else "FAILED"
        self.line(
            f"[{self.count:>2}/{self.total}] {name:<22} {shown:<13} {fmt_time(seconds):>6} | {self._tail()}"
            + (f"\n        {note}" if note else "")
        )
