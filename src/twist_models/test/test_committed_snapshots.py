"""The teacher snapshots committed under checkpoints/ (checkpoints/README.md) are whole and load.

Later sessions continue training from them and distil students of them, so a torn, truncated or
mismatched file must fail here rather than hours into a run.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from twist_models.checkpoint import load_teacher
from twist_models.snapshot import REPLAY_FILE, read_replay

ROOT = Path(__file__).resolve().parents[3]
# Teachers under checkpoints/in_progress/ are continuations of a committed one, kept so that the
# next session goes on with them (checkpoints/README.md); the same names, the same checks.
SNAPSHOTS = sorted(p.parent for pattern in ("*/run.yaml", "in_progress/*/run.yaml")
                   for p in (ROOT / "checkpoints").glob(pattern))  # fmt: skip


def test_the_block_teachers_are_committed():
    assert {p.name for p in SNAPSHOTS} >= {"teacher_block_push", "teacher_block_lift"}


@pytest.mark.parametrize("snap", SNAPSHOTS, ids=[str(p.relative_to(ROOT / "checkpoints")) for p in SNAPSHOTS])
def test_snapshot_loads_and_its_replay_matches_the_checkpoint(snap):
    agent, meta, preset = load_teacher(snap)
    # teacher_<task> is the training seed 0; other training seeds are teacher_<task>_seed<N>; a run
    # trained with the value bound (in no preset) ends in _vb.
    want = f"teacher_{meta['task']}" + (f"_seed{preset.seed}" if preset.seed else "")
    assert snap.name == want + ("_vb" if preset.teacher.value_bound else "")
    assert not (snap / "dataset").exists()
    episodes = read_replay(snap / REPLAY_FILE)
    steps = sum(len(ep["reward"]) - 1 for ep in episodes)
    ckpt = torch.load(snap / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert steps >= ckpt["env_steps"] == meta["env_steps"] and ckpt["updates"] == meta["updates"] > 0
    for ep in episodes:
        assert ep["state"].shape == (len(ep["reward"]), meta["state_dim"]) and ep["is_first"][0]
        assert ep["action"].shape[1] == meta["action_dim"] and np.isfinite(ep["state"]).all()
    # The teacher acts on a recorded state: finite actions inside the action box.
    state = torch.as_tensor(episodes[-1]["state"][:1])
    action, _ = agent.act(state, None, explore=False)
    assert action.shape == (1, meta["action_dim"]) and torch.isfinite(action).all()
    assert float(action.abs().max()) <= 1.0


STUDENTS = sorted(p.parent for p in (ROOT / "checkpoints" / "students").glob("*/run.yaml"))


@pytest.mark.parametrize("snap", STUDENTS, ids=[p.name for p in STUDENTS])
def test_student_snapshot_loads_onto_its_committed_teacher(snap):
    """A distillation in progress (checkpoints/README.md): its weights fit the committed teacher of
    its task, its counters agree with run.yaml, and it names runs/teacher_<name> as its teacher, where
    the README's resume commands copy that snapshot. <name> is the task, or the task and the training
    seed of its teacher (student_block_push_seed1 belongs to teacher_block_push_seed1), with _vb for
    a teacher trained with the value bound (student_block_lift_seed1_vb)."""
    from twist_models.student import Student

    meta = yaml.safe_load((snap / "run.yaml").read_text())
    name = snap.name.removeprefix("student_")
    assert re.fullmatch(rf"{meta['task']}(_seed\d+)?(_vb)?", name), snap.name
    teacher_dir = ROOT / "checkpoints" / f"teacher_{name}"
    _, teacher_meta, teacher_preset = load_teacher(teacher_dir)
    assert Path(meta["teacher_run"]).name == f"teacher_{name}"
    # Its data: --data datasets, or none besides the live teacher run's own D (the "own" recipe of
    # scripts/continue_students.sh renders that D again from the snapshot's replay).
    assert meta["data"] or meta["dataset_steps"] == teacher_meta["env_steps"]
    # It belongs to the committed teacher checkpoint (twist-distill refuses to resume otherwise).
    teacher_updates = yaml.safe_load((teacher_dir / "run.yaml").read_text())["updates"]
    assert meta.get("teacher_updates", teacher_updates) == teacher_updates
    ckpt = torch.load(snap / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert ckpt["updates"] == meta["updates"] > 0
    student = Student(teacher_meta["action_dim"], teacher_preset.model)
    student.load_state_dict(ckpt["distiller"]["student"], strict=True)
    assert all(torch.isfinite(p).all() for p in student.parameters())
    for evaluation in snap.glob("heldout_eval_*.json"):
        assert yaml.safe_load(evaluation.read_text())["episodes"] > 0
