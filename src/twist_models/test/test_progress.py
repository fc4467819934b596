"""The interval means that training loops write to TensorBoard instead of one batch's metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from twist_models.progress import IntervalMeans


def test_interval_means_are_the_means_since_the_last_pop():
    rng = np.random.default_rng(0)
    means = IntervalMeans()
    assert means.pop() == {} and len(means) == 0
    for size in (1, 7, 50):
        values = rng.normal(size=(size, 2))
        for a, b in values:
            # Update metrics come as floats or 0-d tensors.
            means.add({"loss": a, "kl": torch.tensor(b)})
        assert len(means) == size
        got = means.pop()
        assert set(got) == {"loss", "kl"} and all(type(v) is float for v in got.values())
        assert got["loss"] == pytest.approx(values[:, 0].mean())
        assert got["kl"] == pytest.approx(values[:, 1].mean())
        # Each pop starts a fresh interval: nothing of this one leaks into the next.
        assert len(means) == 0 and means.pop() == {}


def test_write_sends_the_interval_means_to_the_writer_and_starts_a_new_interval():
    class Writer:
        def __init__(self):
            self.scalars = []

        def add_scalar(self, key, value, step):
            self.scalars.append((key, value, step))

    means, writer = IntervalMeans(), Writer()
    for loss in (1.0, 2.0, 6.0):
        means.add({"loss": loss})
    assert means.write(writer, 150) == {"loss": 3.0} and writer.scalars == [("loss", 3.0, 150)]
    assert len(means) == 0 and means.write(writer, 200) == {} and len(writer.scalars) == 1


def test_a_metric_reported_by_some_updates_is_averaged_over_those_only():
    """E.g. `ac/value_bound_hi` from the first update that has a bound: its interval mean is the
    mean of the values reported, while the other metrics average over every update."""
    means = IntervalMeans()
    means.add({"loss": 1.0})
    means.add({"loss": 3.0})
    means.add({"loss": 5.0, "ac/value_bound_hi": 300.0})
    means.add({"loss": 7.0, "ac/value_bound_hi": 290.0})
    assert len(means) == 4
    assert means.pop() == {"loss": 4.0, "ac/value_bound_hi": 295.0}
    means.add({"ac/value_bound_hi": 280.0})
    assert means.pop() == {"ac/value_bound_hi": 280.0} and len(means) == 0
