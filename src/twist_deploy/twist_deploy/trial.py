"""Operator trials: the trial state machine and the session results CSV (ROS-free).

States: idle -> (start) running -> holding (trial complete, abort, operator mark) -> idle (reset).
Any state -> error when the policy reports non-finite output; only reset leaves error.
A trial gets exactly one outcome; the session CSV gets one row per trial, rewritten atomically
with the running success rate and its Wilson score interval.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from twist_models.stats import wilson_interval

OUTCOMES = ("success", "failure", "aborted", "error")


class TrialState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    HOLDING = "holding"
    ERROR = "error"


class TrialError(RuntimeError):
    """An operator request that the current state does not allow; the message says why."""


@dataclass
class Trial:
    index: int
    start: float
    end: float | None = None
    steps: int = 0
    outcome: str | None = None
    notes: str = ""


def running_interval(successes: int, n: int) -> tuple[float, float]:
    """The session's running Wilson 95% interval; (0, 1) before any trial was evaluated."""
    return (0.0, 1.0) if n == 0 else wilson_interval(successes, n)


@dataclass
class TrialMachine:
    """The operator-facing trial lifecycle. Times are seconds (any monotonic or wall clock)."""

    episode_steps: int = 150
    state: TrialState = TrialState.IDLE
    trials: list[Trial] = field(default_factory=list)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.episode_steps <= 0:
            raise ValueError(f"TrialMachine.episode_steps must be positive, got {self.episode_steps}")

    @property
    def current(self) -> Trial | None:
        return self.trials[-1] if self.trials else None

    def start(self, now: float) -> Trial:
        if self.state is not TrialState.IDLE:
            raise TrialError(f"cannot start a trial while {self.state.value}; reset first")
        trial = Trial(index=len(self.trials) + 1, start=now)
        self.trials.append(trial)
        self.state, self.reason = TrialState.RUNNING, ""
        return trial

    def step(self, steps: int, now: float) -> bool:
        """Record the policy's step count; returns True when this completes the trial."""
        if self.state is not TrialState.RUNNING:
            return False
        self.current.steps = steps
        if steps >= self.episode_steps:
            self._stop(now, "trial complete")
            return True
        return False

    def abort(self, now: float) -> Trial:
        if self.state is not TrialState.RUNNING:
            raise TrialError(f"no trial running (state {self.state.value})")
        self._stop(now, "aborted by operator")
        return self._close("aborted", "aborted by operator")

    def mark(self, outcome: str, now: float, notes: str = "") -> Trial:
        """Operator or privileged-state verdict: success/failure, for the running or last trial."""
        if outcome not in ("success", "failure"):
            raise ValueError(f"outcome must be 'success' or 'failure', got {outcome!r}")
        trial = self.current
        if trial is None or trial.outcome is not None or self.state in (TrialState.IDLE, TrialState.ERROR):
            raise TrialError("no trial awaiting an outcome")
        if self.state is TrialState.RUNNING:
            self._stop(now, f"marked {outcome} by operator")
        return self._close(outcome, notes)

    def fail(self, now: float, reason: str) -> Trial | None:
        """Policy error (non-finite output): error state; the running trial closes as 'error'."""
        trial = self.current
        running = self.state is TrialState.RUNNING
        self.state, self.reason = TrialState.ERROR, reason
        if running:
            trial.end = now
            return self._close("error", reason)
        return None

    def reset(self) -> None:
        self.state, self.reason = TrialState.IDLE, ""

    def _stop(self, now: float, reason: str) -> None:
        self.current.end = now
        self.state, self.reason = TrialState.HOLDING, reason

    def _close(self, outcome: str, notes: str) -> Trial:
        trial = self.current
        trial.outcome, trial.notes = outcome, notes
        return trial

    def summary(self) -> dict:
        """Success rate over evaluated trials (success, failure, error; aborted ones excluded)."""
        evaluated = [t for t in self.trials if t.outcome in ("success", "failure", "error")]
        k = sum(t.outcome == "success" for t in evaluated)
        lo, hi = running_interval(k, len(evaluated))
        rate = k / len(evaluated) if evaluated else float("nan")
        return {
            "successes": k,
            "evaluated": len(evaluated),
            "success_rate": rate,
            "wilson_low": lo,
            "wilson_high": hi,
        }


CSV_FIELDS = (
    "trial",
    "start",
    "end",
    "outcome",
    "steps",
    "notes",
    "successes",
    "evaluated",
    "success_rate",
    "wilson_low",
    "wilson_high",
)


def write_session_csv(path: Path, trials: list[Trial]) -> None:
    """Rewrite the session CSV with every closed trial and the running rate after each row.

    Atomic: written to a temp file in the same folder, then os.replace'd.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    running = TrialMachine()
    for trial in trials:
        if trial.outcome is None:
            continue
        running.trials.append(trial)
        s = running.summary()
        writer.writerow(
            {
                "trial": trial.index,
                "start": f"{trial.start:.3f}",
                "end": f"{trial.end:.3f}" if trial.end is not None else "",
                "outcome": trial.outcome,
                "steps": trial.steps,
                "notes": trial.notes,
                "successes": s["successes"],
                "evaluated": s["evaluated"],
                "success_rate": f"{s['success_rate']:.4f}",
                "wilson_low": f"{s['wilson_low']:.4f}",
                "wilson_high": f"{s['wilson_high']:.4f}",
            }
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        f.write(out.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
