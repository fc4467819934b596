"""scripts/fig6_ablation.sh, the paper's Fig. 6 distillation ablation at a fixed update budget, on
the debug preset: three students of one teacher (TWIST, --no-imagine, --no-action-noise), each
evaluated held out against the teacher; a larger budget continues them and adds rows; a budget
already evaluated is skipped."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fig6_table", ROOT / "benchmarks" / "fig6_table.py")
fig6 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fig6)


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
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| TWIST |")]
    assert [row[1] for row in rows] == ["2", "3"]
    assert (work / "fig6.png").stat().st_size > 0
    # The ablations at 2 updates are compared with TWIST at 2 updates on the same episode.
    (no_imagine,) = [
        line for line in table.splitlines() if line.startswith("| w/o imagined distillation | 2 |")
    ]
    assert "[" in no_imagine.split(" | ")[4]

    # A budget already evaluated is skipped, though the student has moved on past it.
    done = _ablation(teacher, work, 2, "twist twist_no_imagine twist_no_noise")
    assert done.stdout.count("evaluated before") == 3
    rows = [
        line
        for line in (work / "fig6.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| Variant")
    ]
    assert len(rows) == 4 and all(" | 0/1 | " in row or " | 1/1 | " in row for row in rows)


def _record(returns, seed, task="block_lift", gap=1.0, starts=None) -> dict:
    return {"task": task, "seed": seed, "returns": list(returns), "successes": [r > 0 for r in returns],
            "action_gap_to_teacher": gap, "action_gap_of_zero_action": 0.9, "belief_error_m": 0.1,
            "initial_states": starts if starts is not None else [[float(i)] for i in range(len(returns))]}  # fmt: skip


def _write(work: Path, variant: str, updates: int, seed: int, record: dict) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{variant}_u{updates}_heldout_eval_{seed}.json").write_text(json.dumps(record))


def test_fig6_table_pairs_each_ablation_with_twist_at_its_budget(tmp_path):
    """Return - TWIST is the mean per-episode difference on the same episodes; a constant
    difference has a zero-width interval; a budget TWIST lacks gets no comparison."""
    work = tmp_path / "work"
    twist = [1.0, -2.0, 3.0, 0.5]
    _write(work, "twist", 10, 1, _record(twist, 1))
    _write(work, "twist_no_noise", 10, 1, _record([r - 1.5 for r in twist], 1, gap=1.2))
    _write(work, "twist_no_imagine", 20, 1, _record(twist, 1))
    (work / "twist_u10_run.yaml").write_text(yaml.safe_dump({"updates": 10, "wall_s": 42.0}))
    table = fig6.rows(fig6.load(work))
    by = {(r["variant"], r["updates"]): r for r in table}
    assert by[("twist_no_noise", 10)]["vs_twist"] == pytest.approx((-1.5, -1.5, -1.5))
    assert by[("twist_no_imagine", 20)]["vs_twist"] is None
    assert by[("twist", 10)]["wall_s"] == 42.0 and by[("twist_no_noise", 10)]["wall_s"] is None
    assert (
        by[("twist", 10)]["return"] == pytest.approx(np.mean(twist)) and by[("twist", 10)]["successes"] == 3
    )
    text = fig6.markdown(table, "block_lift")
    assert "| w/o action noise | 10 | 1/4 | -0.9 | -1.5 [-1.5, -1.5] | 1.200 (0.900) | 0.100 | - |" in text
    assert "| TWIST | 10 | 3/4 | +0.6 | - | 1.000 (0.900) | 0.100 | 42 |" in text


def test_fig6_table_refuses_episodes_that_are_not_the_same(tmp_path):
    a = {1: _record([1.0, 2.0], 1)}
    with pytest.raises(ValueError, match="seeds differ"):
        fig6.paired_difference(a, {2: _record([1.0, 2.0], 2)})
    with pytest.raises(ValueError, match="2 episodes against 3"):
        fig6.paired_difference(a, {1: _record([1.0, 2.0, 3.0], 1)})
    with pytest.raises(ValueError, match="initial states differ"):
        fig6.paired_difference(a, {1: _record([1.0, 2.0], 1, starts=[[5.0], [6.0]])})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "twist_u5_heldout_eval_1.json").write_text(json.dumps({"returns": [0.0]}))
    with pytest.raises(ValueError, match="not a twist-eval --compare-teacher record"):
        fig6.load(bad)
