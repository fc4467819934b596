"""Teacher snapshots' replay file: round trip, and bad files refused with a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from twist_models.checkpoint import atomic_write_bytes
from twist_models.snapshot import REPLAY_KEYS, read_replay, snapshot, write_replay


def _episode(rng, steps):
    n = steps + 1
    return {
        "state": rng.normal(size=(n, 14)).astype(np.float32),
        "action": rng.uniform(-1, 1, size=(n, 3)).astype(np.float32),
        "reward": rng.normal(size=n).astype(np.float32),
        "is_first": np.arange(n) == 0,
        "is_terminal": np.zeros(n, bool),
    }


def test_replay_round_trip_keeps_episodes_in_order(tmp_path):
    rng = np.random.default_rng(0)
    episodes = [_episode(rng, t) for t in (150, 3, 40)]
    write_replay(tmp_path / "replay.npz", episodes)
    back = read_replay(tmp_path / "replay.npz")
    assert len(back) == 3
    for a, b in zip(episodes, back, strict=True):
        for k in REPLAY_KEYS:
            np.testing.assert_array_equal(a[k], b[k])
            assert a[k].dtype == b[k].dtype
    with pytest.raises(ValueError, match="at least one episode"):
        write_replay(tmp_path / "empty.npz", [])


def test_bad_replay_files_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    ep = _episode(rng, 10)
    buf = io.BytesIO()
    np.savez(buf, lengths=np.array([11, 5]), **ep)  # lengths add up to 16, arrays hold 11
    atomic_write_bytes(tmp_path / "short.npz", buf.getvalue())
    with pytest.raises(ValueError, match="lengths add up to 16"):
        read_replay(tmp_path / "short.npz")
    buf = io.BytesIO()
    np.savez(buf, lengths=np.array([11]), state=ep["state"])
    atomic_write_bytes(tmp_path / "partial.npz", buf.getvalue())
    with pytest.raises(ValueError, match="not a teacher replay"):
        read_replay(tmp_path / "partial.npz")


def test_snapshot_refuses_a_run_without_checkpoint(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.yaml").write_text("task: block_push\n")
    with pytest.raises(FileNotFoundError, match="no checkpoint.pt"):
        snapshot(tmp_path / "run", tmp_path / "snap")
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        snapshot(tmp_path / "nothing", tmp_path / "snap")
