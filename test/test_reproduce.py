"""scripts/reproduce.sh, the documented retrain-everything command (issue 7), end to end on the
debug preset: one block task with both Fig. 6 ablations and one Distracting Control task, the
held-out suite and the report (each step's resume is tested with its own command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _reproduce(out: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(PRESET="debug", SEEDS="0", EPISODES="1", OUT=str(out), BLOCK_TASKS="block_push",
               DMC_TASKS="cartpole_balance", DMC_STEPS="200", BLOCK_ROLLOUTS="1", DMC_ROLLOUTS="1",
               DAGGER_ROUNDS="1", DAGGER_EPISODES="1")  # fmt: skip
    env.pop("SHIP", None)  # never replace the shipped bundles from a test
    return subprocess.run(["bash", "scripts/reproduce.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip


def test_reproduce_trains_every_method_and_writes_the_report(tmp_path):
    out = tmp_path / "repro"
    done = _reproduce(out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    suite = yaml.safe_load((out / "suite.yaml").read_text())
    assert suite["split"] == "heldout" and suite["episodes"] == 1
    listed = {(r["method"], r["task"]) for r in suite["runs"]}
    assert listed == {
        ("oracle", "block_push"), ("twist", "block_push"), ("twist_no_imagine", "block_push"),
        ("twist_no_noise", "block_push"), ("twist_dagger", "block_push"), ("dreamer_dr", "block_push"),
        ("oracle", "cartpole_balance"), ("twist", "cartpole_balance"), ("dreamer_dr", "cartpole_balance"),
    }  # fmt: skip
    for run in suite["runs"]:
        path = Path(run["path"])
        assert (path / ("bundle.yaml" if run["method"].startswith("twist") else "run.yaml")).is_file(), path
    # Dreamer w/ DR trains for its teacher's env steps (the DMC teacher runs past DMC_STEPS to the
    # end of its 500-step episode).
    for task in ("block_push", "cartpole_balance"):
        teacher = yaml.safe_load((out / f"teacher_{task}_s0" / "run.yaml").read_text())
        baseline = yaml.safe_load((out / f"dreamer_dr_{task}_s0" / "run.yaml").read_text())
        assert baseline["env_steps"] == teacher["env_steps"], task
    cartpole = yaml.safe_load((out / "teacher_cartpole_balance_s0" / "run.yaml").read_text())
    assert cartpole["env_steps"] == 500 and cartpole["preset"]["teacher"]["expert_episodes"] == 0
    report = (out / "results" / "report" / "report.md").read_text()
    for label in (
        "Oracle",
        "TWIST",
        "TWIST w/o imagined distillation",
        "TWIST w/o action noise",
        "TWIST + DAgger (not in the paper)",
        "Dreamer w/ DR",
        "Random",
    ):
        assert f"| {label} |" in report, label
    assert (out / "results" / "raw.csv").is_file()
