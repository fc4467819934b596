"""benchmarks/push_failure_modes.py: rollout() keeps per-episode states, the analysis reads them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from twist_sim.tasks import MIN_GOAL_DIST_M, PUSH_SUCCESS_RADIUS_M, make_task

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "push_failure_modes.py"
_spec = importlib.util.spec_from_file_location("push_failure_modes", BENCH)
fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fm)
TASK = make_task("block_push")
LAYOUT = TASK.state_layout


def _state(cube_xy, goal_xy) -> list[float]:
    s = np.zeros(TASK.state_dim)
    for name, value in (("cube_pos", [*cube_xy, 0.02]), ("goal_pos", [*goal_xy, 0.02]),
                        ("cube_goal_dist", [np.hypot(*np.subtract(goal_xy, cube_xy))])):  # fmt: skip
        s[slice(*LAYOUT[name])] = value
    return s.tolist()


def test_scripted_rollout_keeps_the_states_of_every_episode():
    result = fm.scripted(episodes=3, seed=1_000_000, split="heldout")
    assert result["successes"] == [True] * 3 and result["reached"] == [True] * 3
    dist = slice(*LAYOUT["cube_goal_dist"])
    for first, last in zip(result["initial_states"], result["final_states"], strict=True):
        assert first[dist][0] >= MIN_GOAL_DIST_M  # the reset puts the goal a real push away
        assert last[dist][0] < PUSH_SUCCESS_RADIUS_M  # the final state is the one success was scored on
    analysis = fm.failure_modes(result["successes"], result["reached"], result["initial_states"],
                                result["final_states"])  # fmt: skip
    assert analysis["successes"] == 3 and analysis["failures"] == {"episodes": 0, "reached_then_lost": 0}
    assert sum(s["episodes"] for s in analysis["by_direction"]) == 3


def test_failure_modes_bins_by_push_direction_and_counts_lost_successes():
    initial = [_state((0.5, 0.0), (0.5, 0.12)),  # straight to the robot's left: 90 degrees
               _state((0.5, 0.0), (0.55, -0.12)),  # right and a little forward: -67 degrees
               _state((0.5, 0.0), (0.45, -0.12))]  # right and a little back: -113 degrees  # fmt: skip
    final = [_state((0.5, 0.11), (0.5, 0.12)), _state((0.55, -0.04), (0.55, -0.12)),
             _state((0.45, -0.02), (0.45, -0.12))]  # fmt: skip
    out = fm.failure_modes([True, False, False], [True, True, False], initial, final)
    bins = {s["from_deg"]: (s["episodes"], s["successes"]) for s in out["by_direction"]}
    assert bins[90] == (1, 1) and bins[-90] == (1, 0) and bins[-135] == (1, 0)
    assert sum(n for n, _ in bins.values()) == 3
    assert out["failures"]["episodes"] == 2 and out["failures"]["reached_then_lost"] == 1
    assert out["failures"]["final_distance_m"]["p50"] == pytest.approx(0.09, abs=1e-3)  # of 0.08 and 0.10


def test_a_record_without_states_is_refused_by_name(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"task": "block_push", "source": "runs/old_teacher", "returns": [1.0],
                               "successes": [True]}))  # fmt: skip
    done = subprocess.run([sys.executable, str(BENCH), "--record", str(old)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "runs/old_teacher" in done.stderr and "initial_states" in done.stderr
    with pytest.raises(ValueError, match="block_lift"):
        fm._pool([{"task": "block_lift", "source": "x"}])
