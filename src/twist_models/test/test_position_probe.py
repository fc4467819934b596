"""benchmarks/position_probe.py: paired scenes at every image size, the errors it reports, and a run
that learns and writes its record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("twist_sim.dataset")
BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "position_probe.py"
_spec = importlib.util.spec_from_file_location("position_probe", BENCH)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)
torch.set_num_threads(1)


def test_errors_are_euclidean_in_cm_and_a_common_shift_leaves_the_relative_ones():
    rng = np.random.default_rng(0)
    true = rng.uniform(-0.3, 0.3, size=(5, 9))
    shifted = true + np.tile([0.03, 0.0, 0.04], 3)  # every position 5 cm off, all alike
    e = probe.errors_cm(shifted, true)
    for key in ("ee_cm", "cube_cm", "goal_cm", "cube_cm_median"):
        assert e[key] == pytest.approx(5.0)
    assert e["cube_rel_ee_cm"] == pytest.approx(0.0, abs=1e-9)
    assert e["goal_rel_cube_cm"] == pytest.approx(0.0, abs=1e-9)
    only_cube = true.copy()
    only_cube[:, 3:6] += [0.0, 0.02, 0.0]
    e = probe.errors_cm(only_cube, true)
    assert e["ee_cm"] == e["goal_cm"] == 0.0
    assert e["cube_cm"] == e["cube_rel_ee_cm"] == e["goal_rel_cube_cm"] == pytest.approx(2.0)


def test_every_size_sees_the_same_scenes():
    small = probe.collect("block_push", 32, "heldout", "eval", 1, 1_000_000, 10, 0.3)
    large = probe.collect("block_push", 48, "heldout", "eval", 1, 1_000_000, 10, 0.3)
    assert small[0].shape == (15, 32, 32, 3) and large[0].shape == (15, 48, 48, 3)
    assert small[0].dtype == np.uint8
    np.testing.assert_array_equal(small[1], large[1])  # the same states: only the resolution differs
    assert small[1].shape == (15, 9) and np.ptp(small[1][:, 0]) > 0.01  # the arm moves


def test_a_short_probe_learns_and_writes_its_record(tmp_path, capsys):
    record = tmp_path / "probe.json"
    probe.main(["--sizes", "48", "--train-episodes", "2", "--test-episodes", "1", "--frame-every", "5",
                "--updates", "60", "--eval-every", "20", "--batch", "16", "--lr", "1e-3",
                "--record", str(record)])  # fmt: skip
    result = json.loads(record.read_text())
    assert json.loads(capsys.readouterr().out) == result
    (size,) = result["sizes"]
    assert size["size"] == 48 and size["train_frames"] == 60 and size["test_frames"] == 30
    assert [p["update"] for p in size["curve"]] == [20, 40, 60] and size["final"] == size["curve"][-1]
    assert size["curve"][-1]["train_loss"] < size["curve"][0]["train_loss"]
    for split in ("train_split", "heldout_split"):
        assert set(size["final"][split]) == set(size["predict_mean"][split])
        assert all(np.isfinite(v) and v >= 0 for v in size["final"][split].values())
    with pytest.raises(SystemExit):
        probe.main(["--updates", "0"])
