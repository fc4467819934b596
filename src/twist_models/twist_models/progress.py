"""Progress bars for long runs that also read well in a log file."""

from __future__ import annotations

import sys

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


def progress_bar(**kwargs) -> tqdm:
    """tqdm(**kwargs); when stderr is not a terminal (nohup ... > log) it redraws at most every
    LOG_INTERVAL_S seconds, so a day-long run writes a readable log instead of one line per step."""
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return tqdm(**kwargs)


class IntervalMeans:
    """Means of per-update metrics over one logging interval.

    Training loops log every N updates; writing that one update's batch metrics makes a noisy
    curve (one batch). `add` every update and `pop` (or `write`) at the log: the mean over the
    updates since the last one, then a fresh interval. A metric that only some updates report
    (one that appears partway through an interval) is averaged over the updates that reported it,
    not diluted by the others."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._count = 0

    def add(self, metrics: dict) -> None:
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
            self._counts[key] = self._counts.get(key, 0) + 1
        self._count += 1

    def __len__(self) -> int:
        """Updates added since the last pop."""
        return self._count

    def pop(self) -> dict[str, float]:
        """{name: mean since the last pop over the updates that reported it}; {} when nothing was added."""
        means = {key: total / self._counts[key] for key, total in self._sums.items()}
        self._sums, self._counts, self._count = {}, {}, 0
        return means

    def write(self, writer, step: int) -> dict[str, float]:
        """`pop`, each mean written to the TensorBoard `writer` at `step`; returns the means."""
        means = self.pop()
        for key, value in means.items():
            writer.add_scalar(key, value, step)
        return means
