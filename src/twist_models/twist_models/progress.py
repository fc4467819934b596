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
