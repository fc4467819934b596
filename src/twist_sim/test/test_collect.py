"""Collection in worker processes writes the same episodes as one process."""

import numpy as np
from twist_sim.collect import collect
from twist_sim.dataset import EpisodeDataset


def test_workers_do_not_change_the_data(tmp_path):
    one = collect("block_lift", "random", 3, tmp_path / "one", workers=1, seed=4, progress=False)
    two = collect("block_lift", "random", 3, tmp_path / "two", workers=2, seed=4, progress=False)
    assert one == two
    a, b = EpisodeDataset(tmp_path / "one"), EpisodeDataset(tmp_path / "two")
    assert len(a) == len(b) == 3
    for i in range(3):
        ea, eb = a.episode(i), b.episode(i)
        assert all(np.array_equal(ea[k], eb[k]) for k in ea)
    # Different episodes of one run differ (per-episode seeds).
    assert not np.array_equal(a.episode(0)["state"], a.episode(1)["state"])
