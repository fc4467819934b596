"""scripts/ship_bundle.sh, which puts a student in place as the task's shipped bundle, on the debug
preset: the bundle loads, its training/ provenance agrees with what test_shipped_bundles checks of
the committed ones, and a refused call leaves the bundle already shipped as it was."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _ship(tmp_path: Path, teacher: Path, student: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(BUNDLES=str(tmp_path / "bundles"), EPISODES="1", EVAL_SEEDS="1000000 2000000")
    return subprocess.run(["bash", "scripts/ship_bundle.sh", str(teacher), str(student)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_ship_bundle_exports_evaluates_and_keeps_the_provenance(tmp_path):
    from twist_models.config import load_preset
    from twist_models.distill import distil
    from twist_models.policy import StudentPolicy
    from twist_models.train_teacher import train

    torch.set_num_threads(1)
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    train("block_push", load_preset("debug", {"teacher": {"env_steps": 150}}), teacher, progress=False)
    distil(teacher, load_preset("debug", {"distill": {"steps": 2}}), student, progress=False)

    done = _ship(tmp_path, teacher, student)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    bundle = tmp_path / "bundles" / "block_push"
    assert not (tmp_path / "bundles" / "block_push.tmp").exists()
    StudentPolicy.load(bundle, task="block_push")  # hashes, sizes and shapes
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())["provenance"]
    training = bundle / "training"
    teacher_run = yaml.safe_load((training / "teacher_run.yaml").read_text())
    student_run = yaml.safe_load((training / "student_run.yaml").read_text())
    assert teacher_run["env_steps"] == meta["teacher_env_steps"] == 150
    assert student_run["updates"] == meta["student_updates"] == 2
    assert (training / "teacher_eval.jsonl").read_text() == (teacher / "eval.jsonl").read_text()
    for name, seed in (("", 1000000), ("_seed2", 2000000)):
        record = json.loads((training / f"heldout_eval{name}.json").read_text())
        assert record["split"] == "heldout" and record["seed"] == seed and len(record["returns"]) == 1
        assert "action_gap_to_teacher" in record and "belief_error_m" in record  # --compare-teacher
        oracle = json.loads((training / f"teacher_heldout_eval{name}.json").read_text())
        assert oracle["seed"] == seed and oracle["initial_states"] == record["initial_states"]

    # A call that cannot ship (the student is gone) is refused before anything moves.
    shipped = {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    done = _ship(tmp_path, teacher, tmp_path / "no_student")
    assert done.returncode == 2 and "no_student/run.yaml" in done.stderr
    assert {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()} == shipped


def test_a_call_stopped_between_the_two_moves_is_mended(tmp_path):
    """ship_bundle.sh moves the shipped bundle aside, then the new one in. Stopped between the two,
    bundles/<task> is gone and bundles/<task>.old holds the shipped one: the next call puts it back
    (even one refused for a missing student), and the main job refuses to stand an untrained
    pipeline in for it, naming the fix."""
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "run.yaml").write_text("task: block_push\n")
    bundles = tmp_path / "bundles"
    old = bundles / "block_push.old"
    old.mkdir(parents=True)
    (old / "bundle.yaml").write_text("shipped: before\n")

    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    demo = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**env, "BUNDLE": str(bundles / "block_push"), "OUT": str(tmp_path / "demo")})  # fmt: skip
    assert demo.returncode == 2, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert f"mv {old} {bundles / 'block_push'}" in demo.stderr
    assert not (tmp_path / "demo" / "teacher").exists()  # no debug pipeline in its place

    done = _ship(tmp_path, teacher, tmp_path / "no_student")  # refused: no checkpoints at all
    assert done.returncode == 2 and "[ship] missing" in done.stderr
    assert "restoring it" in done.stdout
    assert (bundles / "block_push" / "bundle.yaml").read_text() == "shipped: before\n"
    assert not old.exists()

    # Stopped after the second move: the new bundle is in place, the old one is only dropped.
    old.mkdir()
    (old / "bundle.yaml").write_text("shipped: before that\n")
    done = _ship(tmp_path, teacher, tmp_path / "no_student")
    assert done.returncode == 2 and "restoring" not in done.stdout
    assert (bundles / "block_push" / "bundle.yaml").read_text() == "shipped: before\n"
    assert not old.exists()
