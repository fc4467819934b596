"""scripts/continue_teachers.sh, which carries the committed teacher snapshots from session to
session, on the debug preset: a snapshot of a seed-1 teacher (as checkpoints/teacher_block_push_seed1)
is continued by name, as seed 1 and with the run's --value-bound, to the same weights an
uninterrupted seed-1 run reaches, and snapshotted back."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_continue_teachers_carries_a_seed_snapshot_on_as_its_own_seed(tmp_path, monkeypatch):
    from twist_models.config import load_preset
    from twist_models.snapshot import snapshot
    from twist_models.train_teacher import train

    monkeypatch.setenv("MUJOCO_GL", "egl")
    torch.set_num_threads(1)
    # The debug preset trains 300 env steps; value_bound is in no preset: the script must carry it.
    seed1 = load_preset("debug", {"seed": 1, "teacher": {"value_bound": True}})
    train("block_push", seed1, tmp_path / "straight", progress=False)
    train("block_push", seed1, tmp_path / "elsewhere", progress=False, max_minutes=0)  # stops at 150
    snaps = tmp_path / "snaps"
    snapshot(tmp_path / "elsewhere", snaps / "teacher_block_push_seed1")

    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(
        TEACHERS="teacher_block_push_seed1", PRESET="debug", SNAPSHOTS=str(snaps), WORK=str(tmp_path / "work")
    )
    done = subprocess.run(["bash", "scripts/continue_teachers.sh", "0"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    log = tmp_path / "work" / "teacher_block_push_seed1.log"
    assert done.returncode == 0, (
        done.stdout[-3000:] + done.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    )
    assert "teacher_block_push_seed1 (block_push, seed 1): env_steps: 150" in done.stdout

    snap = snaps / "teacher_block_push_seed1"
    run = yaml.safe_load((snap / "run.yaml").read_text())
    assert run["preset"]["seed"] == 1 and run["env_steps"] == 300 and run["task"] == "block_push"
    assert run["preset"]["teacher"]["value_bound"] is True
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(snap / "checkpoint.pt", weights_only=False)
    assert a["updates"] == b["updates"] > 0 and b["env_steps"] == 300
    for key, value in a["agent"]["agent"].items():
        assert torch.equal(value, b["agent"]["agent"][key]), key
