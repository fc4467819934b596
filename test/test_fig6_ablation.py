"""scripts/fig6_ablation.sh, the paper's Fig. 6 distillation ablation at a fixed update budget, on
the debug preset: three students of one teacher (TWIST, --no-imagine, --no-action-noise), each
evaluated held out against the teacher; a larger budget continues them and adds rows; a budget
already evaluated is skipped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _ablation(teacher: Path, work: Path, updates: int, variants: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(TEACHER=str(teacher), WORK=str(work), UPDATES=str(updates), PRESET="debug", EPISODES="1",
               EVAL_SEEDS="1000000", VARIANTS=variants)  # fmt: skip
    env.pop("DATA", None)  # the teacher run's own D
    done = subprocess.run(["bash", "scripts/fig6_ablation.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    logs = "".join(p.read_text()[-2000:] for p in sorted(work.glob("*.log")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + logs
    return done


def test_fig6_ablation_trains_three_variants_and_tables_them_over_updates(tmp_path):
    from twist_models.config import load_preset
    from twist_models.train_teacher import train

    torch.set_num_threads(1)
    teacher = tmp_path / "teacher"
    train("block_push", load_preset("debug", {"teacher": {"env_steps": 150}}), teacher, progress=False)
    work = tmp_path / "fig6"

    _ablation(teacher, work, 2, "twist twist_no_imagine twist_no_noise")
    distill = {}
    for variant in ("twist", "twist_no_imagine", "twist_no_noise"):
        run = yaml.safe_load((work / f"student_{variant}" / "run.yaml").read_text())
        assert run["updates"] == 2 and run["preset"]["seed"] == 0, variant
        distill[variant] = run["preset"]["distill"]
        record = json.loads((work / f"{variant}_u2_heldout_eval_1000000.json").read_text())
        assert record["split"] == "heldout" and record["episodes"] == 1 and record["method"] == "twist"
        assert {"action_gap_to_teacher", "belief_error_m"} <= set(record)
        assert (work / f"{variant}_u2_run.yaml").is_file()
    flags = {variant: (d["imagine"], d["action_noise"]) for variant, d in distill.items()}
    assert flags == {"twist": (True, 0.3), "twist_no_imagine": (False, 0.3), "twist_no_noise": (True, 0.0)}

    # A larger budget continues a student (no retraining from scratch) and adds its rows.
    _ablation(teacher, work, 3, "twist")
    assert yaml.safe_load((work / "student_twist" / "run.yaml").read_text())["updates"] == 3
    table = (work / "fig6.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| twist")]
    assert [row.split(" | ")[:2] for row in rows] == [["| twist", "2"], ["| twist", "3"]]

    # A budget already evaluated is skipped, though the student has moved on past it.
    done = _ablation(teacher, work, 2, "twist twist_no_imagine twist_no_noise")
    assert done.stdout.count("evaluated before") == 3
    rows = [line for line in (work / "fig6.md").read_text().splitlines() if line.startswith("| twist")]
    assert len(rows) == 4 and all("/1 |" in row for row in rows)
