"""Dataset: round trip, sequence sampler, bad input, and crash safety of the writer."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from twist_sim.collect import collect
from twist_sim.dataset import EpisodeDataset, SequenceSampler, validate_episode, write_episode


def fake_episode(length: int = 11, seed: int = 0, size: int = 8) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return {
        "state": rng.normal(size=(length, 14)).astype(np.float32),
        "image": rng.integers(0, 256, size=(length, size, size, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, size=(length, 3)).astype(np.float32),
        "reward": rng.normal(size=length).astype(np.float32),
        "is_first": t == 0,
        "is_last": t == length - 1,
        "is_terminal": np.zeros(length, bool),
        "success": np.zeros(length, bool),
    }


def test_round_trip_of_collected_episodes(tmp_path):
    successes = collect("block_push", "scripted", 2, tmp_path, seed=1, progress=False)
    data = EpisodeDataset(tmp_path)
    assert len(data) == 2 and data.num_steps == 300
    for i in range(2):
        ep = data.episode(i)
        validate_episode(ep)
        assert ep["state"].shape == (151, 14) and ep["image"].shape == (151, 64, 64, 3)
        assert ep["action"].dtype == np.float32 and np.all(ep["action"][0] == 0) and ep["reward"][0] == 0
        assert ep["is_first"][0] and ep["is_last"][-1] and not ep["is_terminal"].any()
        assert ep["success"][-1] == successes[i] == data.entries[i]["success"]
        assert np.all(np.abs(ep["action"]) <= 1.0)


def test_write_then_read_is_exact(tmp_path):
    episodes = [fake_episode(seed=s) for s in range(3)]
    for ep in episodes:
        write_episode(tmp_path, ep)
    data = EpisodeDataset(tmp_path)
    for ep, got in zip(episodes, (data.episode(i) for i in range(3)), strict=True):
        assert set(got) == set(ep) and all(np.array_equal(got[k], ep[k]) for k in ep)
    part = data.episode(1, keys=("state", "reward"))
    assert set(part) == {"state", "reward"} and np.array_equal(part["state"], episodes[1]["state"])
    with pytest.raises(KeyError, match="no \\['depth'\\]"):
        data.episode(0, keys=("state", "depth"))


def test_sequence_sampler_shapes_and_determinism(tmp_path):
    for s, n in enumerate((11, 30, 5)):
        write_episode(tmp_path, fake_episode(n, seed=s))
    data = EpisodeDataset(tmp_path)
    a = SequenceSampler(data, 10, 4, np.random.default_rng(0)).sample()
    b = SequenceSampler(data, 10, 4, np.random.default_rng(0)).sample()
    assert (
        a["image"].shape == (4, 10, 8, 8, 3)
        and a["state"].shape == (4, 10, 14)
        and a["action"].shape == (4, 10, 3)
    )
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # Every window is a contiguous slice of one episode (the 5-step episode is never used).
    eps = [data.episode(i) for i in range(2)]
    for w in a["state"]:
        assert any(
            np.array_equal(w, ep["state"][o : o + 10]) for ep in eps for o in range(len(ep["state"]) - 9)
        )
    with pytest.raises(ValueError, match="length"):
        SequenceSampler(data, 0, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no episode holds 31"):
        SequenceSampler(data, 31, 4, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("reward"), "missing \\['reward'\\]"),
        (lambda e: e.update(extra=np.zeros(11)), "unknown \\['extra'\\]"),
        (lambda e: e.update(action=np.zeros((10, 3))), "'action'.*shape \\(10, 3\\)"),
        (lambda e: e["state"].__setitem__((4, 2), np.nan), "'state'.*non-finite.*\\[4, 2\\]"),
        (lambda e: e.update(image=e["image"].astype(np.float32)), "'image'.*uint8"),
        (lambda e: e["is_first"].__setitem__(3, True), "is_first"),
    ],
)
def test_bad_episodes_raise_naming_the_field(tmp_path, change, message):
    ep = fake_episode()
    change(ep)
    with pytest.raises(ValueError, match=message):
        write_episode(tmp_path, ep)
    assert not (tmp_path / "manifest.json").exists()


WRITER = """
import sys, numpy as np
from twist_sim.dataset import write_episode
rng = np.random.default_rng(0)
n = 151
i = 0
while True:
    t = np.arange(n)
    write_episode(sys.argv[1], {
        "state": np.full((n, 14), i, np.float32), "image": rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8),
        "action": np.zeros((n, 3), np.float32), "reward": np.zeros(n, np.float32),
        "is_first": t == 0, "is_last": t == n - 1, "is_terminal": np.zeros(n, bool)})
    i += 1
    print(i, flush=True)
"""


def test_writer_killed_mid_episode_leaves_only_whole_episodes(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):  # let it finish a few episodes, then kill it while it writes the next
            proc.stdout.readline()
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    data = EpisodeDataset(tmp_path)
    assert len(data) >= 3
    listed = {e["file"] for e in data.entries}
    on_disk = {f"episodes/{p}" for p in os.listdir(tmp_path / "episodes")}
    assert listed <= on_disk
    for i in range(len(data)):
        ep = data.episode(i)
        assert validate_episode(ep) == 151 and np.all(ep["state"] == i)
    json.loads((tmp_path / "manifest.json").read_text())  # never half written
    # A reader also ignores an episode file that made it to disk without its manifest entry.
    (tmp_path / "episodes" / "999999.npz").write_bytes(b"partial")
    assert len(EpisodeDataset(tmp_path)) == len(data)
