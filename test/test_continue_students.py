"""scripts/continue_students.sh, which carries the committed students from session to session, on
the debug preset: a student snapshot taken on another checkout (its run.yaml names directories
that do not exist here) is resumed against regenerated rollouts, stopped by its time budget with
no update lost, evaluated held out and snapshotted back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _teacher_and_snapshot(elsewhere: Path, snaps: Path) -> None:
    """A 150-step debug teacher run at `elsewhere`/teacher and its snapshot in `snaps`."""
    from twist_models.config import load_preset
    from twist_models.snapshot import snapshot
    from twist_models.train_teacher import train

    torch.set_num_threads(1)
    train(
        "block_push",
        load_preset("debug", {"teacher": {"env_steps": 150}}),
        elsewhere / "teacher",
        progress=False,
    )
    snapshot(elsewhere / "teacher", snaps / "teacher_block_push")


def _run_continue_students(tmp_path: Path, snaps: Path, **settings: str) -> subprocess.CompletedProcess:
    """scripts/continue_students.sh for block_push on the debug preset with a budget of 0 minutes."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(
        TASKS="block_push", PRESET="debug", SNAPSHOTS=str(snaps), WORK=str(tmp_path / "work"), **settings
    )
    return subprocess.run(["bash", "scripts/continue_students.sh", "0"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip


def _continue_students(tmp_path: Path, snaps: Path, data: str, **settings: str) -> None:
    """The script on one evaluation episode and `data`; fails with its logs."""
    done = _run_continue_students(tmp_path, snaps, STEPS="10", EPISODES="1", EVAL_SEEDS="1000000", DATA=data,
                                  **settings)  # fmt: skip
    log = tmp_path / "work" / "block_push.log"
    assert done.returncode == 0, (
        done.stdout[-3000:] + done.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    )


def test_continue_students_resumes_a_snapshot_from_another_checkout(tmp_path):
    from twist_models.checkpoint import write_yaml
    from twist_models.config import load_preset
    from twist_models.distill import distil
    from twist_models.replay_render import render_replay
    from twist_models.rollouts import teacher_rollouts

    elsewhere, snaps = tmp_path / "elsewhere", tmp_path / "snaps"
    # On "another checkout": a teacher, its snapshot, its D rendered from the snapshot's replay, one
    # rollout episode and a 2-update student of both.
    _teacher_and_snapshot(elsewhere, snaps)
    render_replay(snaps / "teacher_block_push", elsewhere / "D", progress=False)
    teacher_rollouts(snaps / "teacher_block_push", 1, elsewhere / "rollouts", seed=0, progress=False)
    preset = load_preset("debug", {"distill": {"steps": 2}})
    distil(
        snaps / "teacher_block_push",
        preset,
        elsewhere / "student",
        progress=False,
        data=[elsewhere / "D", elsewhere / "rollouts"],
    )
    shutil.copytree(elsewhere / "student", snaps / "students" / "student_block_push")
    write_yaml(snaps / "students" / "student_block_push" / "heldout_eval_1.json", {"stale": True})
    shutil.rmtree(elsewhere)  # the directories its run.yaml names are gone

    _continue_students(tmp_path, snaps, "replay 0:1")

    snap = snaps / "students" / "student_block_push"
    run = yaml.safe_load((snap / "run.yaml").read_text())
    teacher = yaml.safe_load((snaps / "teacher_block_push" / "run.yaml").read_text())
    # A budget of 0 minutes: one more update, checkpointed, on top of the snapshot's two.
    assert run["updates"] == 3 and torch.load(snap / "checkpoint.pt", weights_only=False)["updates"] == 3
    assert run["teacher_run"] == str((tmp_path / "work" / "teacher_block_push").resolve())
    work = (tmp_path / "work").resolve()
    assert run["data"] == [str(work / "replay_block_push"), str(work / "rollouts_block_push_s0")]
    assert run["teacher_updates"] == teacher["updates"]
    # The evaluations are of the new checkpoint; the stale one is gone; no leftovers beside it.
    assert sorted(p.name for p in snap.iterdir()) == [
        "checkpoint.pt",
        "heldout_eval_1000000.json",
        "run.yaml",
        "tb",
    ]
    result = json.loads((snap / "heldout_eval_1000000.json").read_text())
    assert result["split"] == "heldout" and result["episodes"] == 1 and result["method"] == "twist"
    assert result["source"].endswith("bundle_block_push_u3")
    assert sorted(p.name for p in (snaps / "students").iterdir()) == ["student_block_push"]


def test_continue_students_resumes_a_student_of_the_live_teacher_run(tmp_path):
    """A student distilled from the teacher run itself (its own D, no --data; the cup_catch
    student) resumes against the snapshot with D rendered again as its one --data ("own")."""
    from twist_models.config import load_preset
    from twist_models.distill import distil

    elsewhere, snaps = tmp_path / "elsewhere", tmp_path / "snaps"
    _teacher_and_snapshot(elsewhere, snaps)
    distil(
        elsewhere / "teacher",
        load_preset("debug", {"distill": {"steps": 2}}),
        elsewhere / "student",
        progress=False,
    )
    assert yaml.safe_load((elsewhere / "student" / "run.yaml").read_text())["data"] == []
    shutil.copytree(elsewhere / "student", snaps / "students" / "student_block_push")
    shutil.rmtree(elsewhere)

    _continue_students(tmp_path, snaps, "own")
    run = yaml.safe_load((snaps / "students" / "student_block_push" / "run.yaml").read_text())
    assert run["updates"] == 3
    assert run["data"] == [str((tmp_path / "work" / "replay_block_push").resolve())]
    assert (
        run["dataset_steps"]
        == yaml.safe_load((snaps / "teacher_block_push" / "run.yaml").read_text())["env_steps"]
    )


def test_continue_students_starts_a_new_student_from_a_warm_start(tmp_path):
    """A teacher snapshot with no student yet: the script distils a new one warm-started
    (--init-from) from another committed student, evaluates it and snapshots it under the teacher's
    name, leaving the warm start as it was."""
    from twist_models.config import load_preset
    from twist_models.distill import distil

    elsewhere, snaps = tmp_path / "elsewhere", tmp_path / "snaps"
    _teacher_and_snapshot(elsewhere, snaps)
    distil(
        elsewhere / "teacher",
        load_preset("debug", {"distill": {"steps": 2}}),
        snaps / "students" / "student_other",
        progress=False,
    )
    before = (snaps / "students" / "student_other" / "checkpoint.pt").read_bytes()

    _continue_students(tmp_path, snaps, "replay 0:1", INIT_FROM="student_other")

    snap = snaps / "students" / "student_block_push"
    run = yaml.safe_load((snap / "run.yaml").read_text())
    # A budget of 0 minutes: one update of its own, checkpointed, on the warm start's weights.
    assert run["updates"] == 1 and torch.load(snap / "checkpoint.pt", weights_only=False)["updates"] == 1
    assert run["init_from"] == str((snaps / "students" / "student_other").resolve())
    assert run["teacher_run"] == str((tmp_path / "work" / "teacher_block_push").resolve())
    assert sorted(p.name for p in snap.iterdir()) == [
        "checkpoint.pt",
        "heldout_eval_1000000.json",
        "run.yaml",
        "tb",
    ]
    assert (snaps / "students" / "student_other" / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in (snaps / "students").iterdir()) == ["student_block_push", "student_other"]


def test_continue_students_refuses_a_new_student_without_a_warm_start(tmp_path):
    snaps = tmp_path / "snaps"
    _teacher_and_snapshot(tmp_path / "elsewhere", snaps)
    done = _run_continue_students(tmp_path, snaps)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no student of block_push and no warm start for it" in done.stderr
    assert not (snaps / "students").exists()


def test_continue_students_mends_a_call_stopped_in_its_swap(tmp_path):
    """A call stopped between moving the committed snapshot aside (student_<task>.old) and the new
    one in: the next call puts the snapshot back before anything looks for it, so the student is
    continued, not replaced by a new warm-started one (here it then stops: no teacher snapshot)."""
    snaps = tmp_path / "snaps"
    old = snaps / "students" / "student_block_push.old"
    old.mkdir(parents=True)
    (old / "run.yaml").write_text("updates: 7\n")
    done = _run_continue_students(tmp_path, snaps)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "holds the one before: restoring it" in done.stdout
    assert "no teacher snapshot" in done.stderr and "warm start" not in done.stderr
    assert (snaps / "students" / "student_block_push" / "run.yaml").read_text() == "updates: 7\n"
    assert not old.exists()
