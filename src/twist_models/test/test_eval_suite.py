"""Aggregation against hand-computed values, and the suite end to end on a debug baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml
from twist_models.eval_suite import (
    interval_estimates,
    load_suite,
    normalised_score_matrices,
    read_raw,
    run_suite,
    success_table,
    task_table,
    wilson_interval,
)

torch.set_num_threads(1)


def _rows(table: dict[tuple[str, str, int], list[float]], successes: dict | None = None) -> list[dict]:
    rows = []
    for (method, task, seed), returns in table.items():
        for i, ret in enumerate(returns):
            ok = (successes or {}).get((method, task, seed), [False] * len(returns))[i]
            rows.append(
                {"method": method, "task": task, "seed": seed, "episode": i, "return": ret, "success": ok}
            )
    return rows


# Oracle: push 10 (seeds 8, 12), cup 100 (seeds 90, 110); X: push seeds 5, 7; cup seeds 50, 70.
FIXED = _rows({
    ("oracle", "block_push", 0): [6.0, 10.0], ("oracle", "block_push", 1): [12.0, 12.0],
    ("oracle", "cup_catch", 0): [90.0, 90.0], ("oracle", "cup_catch", 1): [100.0, 120.0],
    ("x", "block_push", 0): [5.0, 5.0], ("x", "block_push", 1): [7.0, 7.0],
    ("x", "cup_catch", 0): [50.0, 50.0], ("x", "cup_catch", 1): [70.0, 70.0],
})  # fmt: skip


def test_table_i_mean_and_std_by_hand():
    table = task_table(FIXED)
    assert table["block_push"]["oracle"]["mean"] == pytest.approx(10.0)
    # Population std of (6, 10, 12, 12): mean 10, squared deviations 16, 0, 4, 4 -> sqrt(6).
    assert table["block_push"]["oracle"]["std"] == pytest.approx(math.sqrt(6.0))
    assert table["cup_catch"]["x"] == pytest.approx({"mean": 60.0, "std": 10.0, "n": 4})


def test_oracle_normalised_matrix_and_iqm_by_hand():
    matrices, tasks = normalised_score_matrices(FIXED)
    assert tasks == ["block_push", "cup_catch"]
    # Oracle per-task means: push 10, cup 100. X's runs: push (5, 7) / 10, cup (50, 70) / 100.
    np.testing.assert_allclose(matrices["x"], [[0.5, 0.5], [0.7, 0.7]])
    np.testing.assert_allclose(matrices["oracle"], [[0.8, 0.9], [1.2, 1.1]])
    est = interval_estimates(matrices, reps=300, seed=0)
    # IQM of (0.8, 0.9, 1.1, 1.2): the middle 50% are 0.9 and 1.1 -> 1.0; of (0.5, 0.5, 0.7, 0.7) -> 0.6.
    assert est["oracle"]["IQM"]["value"] == pytest.approx(1.0)
    assert est["x"]["IQM"]["value"] == pytest.approx(0.6)
    assert est["x"]["Mean"]["value"] == pytest.approx(0.6)
    for method in ("oracle", "x"):
        iqm = est[method]["IQM"]
        assert iqm["low"] <= iqm["value"] <= iqm["high"]
    # Stratified bootstrap resamples runs within a task: X's columns are constant per seed pair,
    # so every resample's IQM lies within [0.5, 0.7].
    assert 0.5 - 1e-9 <= est["x"]["IQM"]["low"] and est["x"]["IQM"]["high"] <= 0.7 + 1e-9
    assert interval_estimates(matrices, reps=300, seed=0) == est


def test_normalising_needs_the_oracle():
    with pytest.raises(ValueError, match="oracle"):
        normalised_score_matrices([r for r in FIXED if r["method"] != "oracle"])


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.96: centre (0.8 + 0.19208) / 1.38416 = 0.71681, half 0.22659.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    rows = _rows(
        {("oracle", "block_push", 0): [1.0] * 10}, {("oracle", "block_push", 0): [True] * 8 + [False] * 2}
    )
    assert success_table(rows, ["block_push"])["block_push"]["oracle"]["rate"] == pytest.approx(0.8)


def test_suite_evaluates_a_baseline_stores_raw_results_and_resumes(tmp_path):
    from twist_models.baselines.asym_sac import AsymSACConfig
    from twist_models.baselines.train import train
    from twist_models.config import load_preset

    preset = load_preset("debug", {"device": "cpu", "teacher": {"env_steps": 150}})
    run = tmp_path / "run"
    train("dreamer_dr", "block_push", preset, AsymSACConfig(), run, progress=False)
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"episodes": 2, "runs": [
        {"method": "dreamer_dr", "task": "block_push", "seed": 0, "path": str(run)}]}))  # fmt: skip
    runs, episodes, split = load_suite(suite)
    out = tmp_path / "results"
    summary = run_suite(runs, episodes, split, out, reps=100, progress=False)
    rows = read_raw(out / "raw.csv")
    assert [(r["method"], r["episode"]) for r in rows] == [("dreamer_dr", 0), ("dreamer_dr", 1)]
    assert summary["table"]["block_push"]["dreamer_dr"]["n"] == 2
    assert "normalised" not in summary  # no Oracle in this suite
    before = (out / "raw.csv").read_bytes()
    run_suite(runs, episodes, split, out, reps=100, progress=False)
    assert (out / "raw.csv").read_bytes() == before  # nothing re-evaluated


def test_suite_rejects_unknown_methods(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"runs": [{"method": "ppo", "task": "block_push", "path": "x"}]}))
    with pytest.raises(ValueError, match="method"):
        load_suite(suite)


def test_negative_oracle_returns_are_not_normalised():
    rows = [{**r, "return": -r["return"]} for r in FIXED]
    with pytest.raises(ValueError, match="positive reference"):
        normalised_score_matrices(rows)
    from twist_models.eval_suite import summarise

    summary = summarise(rows, reps=50)
    assert "normalised" not in summary and "positive reference" in summary["normalised_skipped"]
