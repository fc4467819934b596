"""Aggregation against hand-computed values, and the suite end to end on a debug baseline."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from twist_models.eval_suite import (
    RunSpec,
    evaluate_random,
    export_students,
    interval_estimates,
    load_suite,
    normalised_per_task,
    normalised_score_matrices,
    read_raw,
    recorded_result,
    run_suite,
    success_table,
    task_table,
    wilson_interval,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[3]


def _rows(table: dict[tuple[str, str, int], list[float]], successes: dict | None = None) -> list[dict]:
    rows = []
    for (method, task, seed), returns in table.items():
        for i, ret in enumerate(returns):
            ok = (successes or {}).get((method, task, seed), [False] * len(returns))[i]
            rows.append(
                {"method": method, "task": task, "seed": seed, "episode": i, "return": ret, "success": ok}
            )
    return rows


# Oracle: push 10 (seeds 8, 12), cup 100 (seeds 90, 110); random: push 0, cup 20 (one seed);
# X: push seeds 5, 7; cup seeds 50, 70.
FIXED = _rows({
    ("random", "block_push", 0): [-1.0, 1.0], ("random", "cup_catch", 0): [10.0, 30.0],
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
    # (score - random) / (oracle - random): push (s - 0) / (10 - 0), cup (s - 20) / (100 - 20).
    # X's runs: push (5, 7) / 10 = (0.5, 0.7); cup (30, 50) / 80 = (0.375, 0.625).
    np.testing.assert_allclose(matrices["x"], [[0.5, 0.375], [0.7, 0.625]])
    np.testing.assert_allclose(matrices["oracle"], [[0.8, 0.875], [1.2, 1.125]])
    np.testing.assert_allclose(matrices["random"], [[0.0, 0.0]])
    est = interval_estimates(matrices, reps=300, seed=0)
    # IQM of (0.8, 0.875, 1.125, 1.2): the middle 50% are 0.875 and 1.125 -> 1.0;
    # of (0.375, 0.5, 0.625, 0.7) -> (0.5 + 0.625) / 2 = 0.5625; mean of X: 2.2 / 4 = 0.55.
    assert est["oracle"]["IQM"]["value"] == pytest.approx(1.0)
    assert est["x"]["IQM"]["value"] == pytest.approx(0.5625)
    assert est["x"]["Mean"]["value"] == pytest.approx(0.55)
    assert est["random"]["IQM"]["value"] == pytest.approx(0.0)
    for method in ("oracle", "x"):
        iqm = est[method]["IQM"]
        assert iqm["low"] <= iqm["value"] <= iqm["high"]
    # Stratified bootstrap resamples runs within a task, so every resample's IQM lies within
    # X's smallest and largest normalised run scores [0.375, 0.7].
    assert 0.375 - 1e-9 <= est["x"]["IQM"]["low"] and est["x"]["IQM"]["high"] <= 0.7 + 1e-9
    assert interval_estimates(matrices, reps=300, seed=0) == est
    # Reproducible whatever numpy's global generator holds (rliable resamples from it), and that
    # generator is left as it was.
    rng = np.random.default_rng(1)
    wide = {"a": rng.normal(size=(10, 3)), "b": rng.normal(size=(10, 3))}
    np.random.seed(7)
    first = interval_estimates(wide, reps=200, seed=0)
    after = np.random.random()
    np.random.seed(123)
    assert interval_estimates(wide, reps=200, seed=0) == first
    np.random.seed(7)
    interval_estimates(wide, reps=200, seed=0)
    assert np.random.random() == after
    assert interval_estimates(wide, reps=200, seed=1) != first


def test_negative_returns_keep_the_ranking():
    # Block push's distance-shaped return is negative: Oracle -20, A -40 (better), B -80 (worse),
    # random -100. The old score / oracle gives A 2.0 and B 4.0 (the worse method ranked higher);
    # (score - random) / (oracle - random) gives A 60 / 80 = 0.75 and B 20 / 80 = 0.25.
    rows = _rows({("oracle", "block_push", 0): [-18.0, -22.0], ("random", "block_push", 0): [-90.0, -110.0],
                  ("a", "block_push", 0): [-40.0, -40.0], ("b", "block_push", 0): [-80.0, -80.0]})  # fmt: skip
    assert (-80.0 / -20.0) > (-40.0 / -20.0)  # the inversion the old formula made
    matrices, _ = normalised_score_matrices(rows)
    np.testing.assert_allclose(matrices["a"], [[0.75]])
    np.testing.assert_allclose(matrices["b"], [[0.25]])
    np.testing.assert_allclose(matrices["oracle"], [[1.0]])
    est = interval_estimates(matrices, reps=100, seed=0)
    ranking = sorted(matrices, key=lambda m: est[m]["IQM"]["value"], reverse=True)
    assert ranking == ["oracle", "a", "b", "random"]


def test_normalising_needs_the_oracle_and_the_random_reference():
    with pytest.raises(ValueError, match="oracle"):
        normalised_score_matrices([r for r in FIXED if r["method"] != "oracle"])
    with pytest.raises(ValueError, match="random"):
        normalised_score_matrices([r for r in FIXED if r["method"] != "random"])


def test_aggregates_use_the_tasks_every_method_ran_and_its_seeds_on_all_of_them():
    # Oracle: push 10 (seed 0), cup 100 / 60 / 80 (seeds 0, 1, 2: mean 80); random: push 0, cup 20.
    # U, V and Y ran cup only; Z ran both, its seeds differ per task. Six methods on cup alone
    # (6 results) against three on both tasks (6): the tie keeps every method, over cup alone.
    rows = _rows({
        ("random", "block_push", 0): [0.0], ("random", "cup_catch", 0): [20.0],
        ("oracle", "block_push", 0): [10.0], ("oracle", "cup_catch", 0): [100.0],
        ("oracle", "cup_catch", 1): [60.0], ("oracle", "cup_catch", 2): [80.0],
        ("y", "cup_catch", 0): [50.0], ("y", "cup_catch", 1): [20.0],
        ("z", "block_push", 0): [5.0], ("z", "cup_catch", 1): [50.0],
        ("u", "cup_catch", 0): [20.0], ("v", "cup_catch", 0): [80.0],
    })  # fmt: skip
    matrices, tasks = normalised_score_matrices(rows)
    assert tasks == ["cup_catch"] and {"u", "v", "y"} <= set(matrices)
    # (s - 20) / (80 - 20): the reference is the Oracle's mean over its three seeds.
    np.testing.assert_allclose(matrices["oracle"], [[4 / 3], [2 / 3], [1.0]])
    np.testing.assert_allclose(matrices["y"], [[0.5], [0.0]])
    np.testing.assert_allclose(matrices["z"], [[0.5]])  # on cup its seed 1 is its only run
    per_task = normalised_per_task(rows)
    assert per_task["z"] == {"block_push": {"mean": 0.5, "seeds": 1}, "cup_catch": {"mean": 0.5, "seeds": 1}}
    assert per_task["oracle"]["cup_catch"] == pytest.approx({"mean": 1.0, "seeds": 3})
    assert "block_push" not in per_task["y"]
    # Without U and V: four methods on cup (4 results) or, leaving Y out, three on both (6). Y is
    # left out and named; Z's seeds (0 on push, 1 on cup) share none: not in the aggregate either.
    rows = [r for r in rows if r["method"] not in ("u", "v")]
    matrices, tasks = normalised_score_matrices(rows)
    assert tasks == ["block_push", "cup_catch"] and "z" not in matrices and "y" not in matrices
    np.testing.assert_allclose(matrices["oracle"], [[1.0, 4 / 3]])  # seed 0, the one on both tasks
    from twist_models.eval_suite import summarise

    summary = summarise(rows, reps=50)
    assert summary["normalised"]["left_out"] == ["y"]
    assert summary["normalised"]["per_task"]["y"] == {
        "cup_catch": {"mean": 0.5 * 0.5 + 0.0 * 0.5, "seeds": 2}
    }
    # W ran push only and Y cup only: no task is common to all; leaving W out (fewest tasks, then
    # by name) gives cup alone (4 results), leaving Y out too both tasks (6). Both are named.
    with_w = rows + _rows({("w", "block_push", 0): [5.0]})
    matrices, tasks = normalised_score_matrices(with_w)
    assert tasks == ["block_push", "cup_catch"] and "w" not in matrices and "y" not in matrices
    summary = summarise(with_w, reps=50)
    assert summary["normalised"]["left_out"] == ["w", "y"]
    assert summary["normalised"]["per_task"]["w"] == {"block_push": {"mean": 0.5, "seeds": 1}}
    # The reference methods are never left out, even where they would be the fewest.
    from twist_models.eval_suite import aggregate_tasks

    ref = {"block_push": 1.0, "cup_catch": 1.0}
    scores = {"oracle": {"block_push": {}, "cup_catch": {}}, "random": {"cup_catch": {}},
              "a": {"block_push": {}, "cup_catch": {}}}  # fmt: skip
    assert aggregate_tasks(scores, ref, keep=("oracle", "random")) == (["cup_catch"], [])


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
    assert [(r.method, r.seed) for r in runs] == [("dreamer_dr", 0), ("random", 0)]  # reference added
    rows = read_raw(out / "raw.csv")
    assert [(r["method"], r["episode"]) for r in rows if r["method"] == "dreamer_dr"] == [
        ("dreamer_dr", 0), ("dreamer_dr", 1)]  # fmt: skip
    random_rows = [r for r in rows if r["method"] == "random"]
    assert [r["episode"] for r in random_rows] == [0, 1]
    # Block push's distance-shaped return is negative for a policy that does not push.
    assert all(r["return"] < 0 for r in random_rows)
    assert summary["table"]["block_push"]["dreamer_dr"]["n"] == 2
    assert summary["table"]["block_push"]["random"]["n"] == 2
    assert "normalised" not in summary  # no Oracle in this suite
    # The random reference is reproducible: its Generator is seeded by the run's seed.
    again = evaluate_random("block_push", 0, 2, split)
    assert again["returns"] == pytest.approx([r["return"] for r in random_rows])
    before = (out / "raw.csv").read_bytes()
    run_suite(runs, episodes, split, out, reps=100, progress=False)
    assert (out / "raw.csv").read_bytes() == before  # nothing re-evaluated


def test_suite_rejects_unknown_methods(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"runs": [{"method": "ppo", "task": "block_push", "path": "x"}]}))
    with pytest.raises(ValueError, match="method"):
        load_suite(suite)
    suite.write_text(yaml.safe_dump({"runs": [{"method": "random", "task": "block_push", "path": "x"}]}))
    with pytest.raises(ValueError, match="random_seeds"):
        load_suite(suite)


def test_an_oracle_no_better_than_random_is_not_normalised():
    # Cup: Oracle 100, random raised from 20 to 160 -> the scale (oracle - random) is negative.
    rows = [{**r, "return": r["return"] + 140.0} if (r["method"], r["task"]) == ("random", "cup_catch") else r
            for r in FIXED]  # fmt: skip
    with pytest.raises(ValueError, match=r"'cup_catch'.*100.*160"):
        normalised_score_matrices(rows)
    from twist_models.eval_suite import summarise

    summary = summarise(rows, reps=50)
    assert "normalised" not in summary and "cup_catch" in summary["normalised_skipped"]
    # Negative returns alone are fine now: negating every return would invert the scale, but
    # shifting all of them below zero keeps the normalised scores exactly.
    shifted = [{**r, "return": r["return"] - 500.0} for r in FIXED]
    np.testing.assert_allclose(
        normalised_score_matrices(shifted)[0]["x"], normalised_score_matrices(FIXED)[0]["x"]
    )


def _record(path: Path, **fields) -> Path:
    data = {"method": "oracle", "task": "cup_catch", "split": "heldout", "seed": 1_000_000, "episodes": 3,
            "returns": [990.0, 0.0, 985.5], "successes": [False, False, False], **fields}  # fmt: skip
    path.write_text(json.dumps(data))
    return path


def test_a_recorded_run_is_read_not_evaluated(tmp_path):
    """A run whose weights are gone enters the suite through its twist-eval record: its episodes
    land in raw.csv as recorded, runs.json names the record, and the report marks it."""
    from twist_models.report import build_report

    record = _record(tmp_path / "heldout_eval_1000000.json")
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"episodes": 2, "runs": [
        {"method": "oracle", "task": "cup_catch", "seed": 1, "path": str(tmp_path), "record": str(record)}]}))  # fmt: skip
    runs, episodes, split = load_suite(suite)
    assert runs[0].record == str(record)
    out = tmp_path / "results"
    summary = run_suite(runs, episodes, split, out, reps=50, progress=False)
    rows = [r for r in read_raw(out / "raw.csv") if r["method"] == "oracle"]
    assert [(r["seed"], r["episode"], r["return"]) for r in rows] == [(1, 0, 990.0), (1, 1, 0.0)]
    assert summary["table"]["cup_catch"]["oracle"] == pytest.approx({"mean": 495.0, "std": 495.0, "n": 2})
    meta = {r["method"]: r for r in json.loads((out / "runs.json").read_text())}
    assert meta["oracle"]["record"] == str(record.resolve()) and meta["random"]["record"] is None
    md = build_report(out, tmp_path / "report", reps=50)["markdown"].read_text()
    assert "| Oracle | cup_catch | 1: 495.0 | - | record |" in md
    assert "1 run(s) were not evaluated again" in md
    # A changed run is evaluated again on resume; an unchanged one is not.
    before = (out / "raw.csv").read_bytes()
    run_suite(runs, episodes, split, out, reps=50, progress=False)
    assert (out / "raw.csv").read_bytes() == before
    _record(record, returns=[10.0, 20.0, 30.0])
    run_suite(runs, episodes, split, out, reps=50, progress=False)
    rows = [r for r in read_raw(out / "raw.csv") if r["method"] == "oracle"]
    assert [r["return"] for r in rows] == [10.0, 20.0]
    assert len(read_raw(out / "raw.csv")) == 4  # the old rows are gone, random's kept


@pytest.mark.parametrize("fields, message", [
    ({"seed": 2_000_000}, "seed is 2000000"),
    ({"task": "cartpole_balance"}, "task is 'cartpole_balance'"),
    ({"split": "train"}, "split is 'train'"),
    ({"method": "dreamer_dr"}, "method is 'dreamer_dr'"),
    ({"returns": [1.0], "successes": [False]}, "holds 1 episodes"),
    ({"successes": [False]}, "equal length"),
])  # fmt: skip
def test_a_record_of_other_episodes_or_another_run_is_refused(tmp_path, fields, message):
    record = _record(tmp_path / "r.json", **fields)
    with pytest.raises(ValueError, match=message) as err:
        recorded_result(RunSpec("oracle", "cup_catch", 1, str(tmp_path), record=str(record)), 2, "heldout")
    assert str(record) in str(err.value)


def test_a_record_must_be_readable_and_is_not_exported(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*cannot read"):
        recorded_result(
            RunSpec("oracle", "cup_catch", 0, "x", record=str(tmp_path / "bad.json")), 1, "heldout"
        )
    # A student's bundle record says "twist" for each student method.
    ok = _record(tmp_path / "s.json", method="twist")
    assert recorded_result(RunSpec("twist_no_noise", "cup_catch", 0, "x", record=str(ok)), 3, "heldout")[
        "returns"] == [990.0, 0.0, 985.5]  # fmt: skip
    with pytest.raises(ValueError, match="record.*teacher"):
        RunSpec("twist", "cup_catch", 0, "x", teacher="t", record=str(ok))


def test_a_value_bound_oracle_is_reported_beside_the_oracle_not_as_it(tmp_path):
    """oracle_value_bound (twist-train-teacher --value-bound, not in the paper) is a teacher: its
    twist-eval record says "oracle" and a live run is a teacher checkpoint evaluated like the
    Oracle's. It gets its own rows and label, and the normalised scores stay relative to the
    Oracle alone."""
    from twist_models.eval_suite import evaluate_run
    from twist_models.report import build_report

    bounded = _record(tmp_path / "vb.json", returns=[500.0, 500.0, 0.0])
    oracle = _record(tmp_path / "oracle.json")
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"episodes": 2, "runs": [
        {"method": "oracle", "task": "cup_catch", "seed": 0, "path": str(tmp_path), "record": str(oracle)},
        {"method": "oracle_value_bound", "task": "cup_catch", "seed": 1, "path": str(tmp_path),
         "record": str(bounded)}]}))  # fmt: skip
    runs, episodes, split = load_suite(suite)
    out = tmp_path / "results"
    summary = run_suite(runs, episodes, split, out, reps=50, progress=False)
    assert summary["table"]["cup_catch"]["oracle"]["mean"] == pytest.approx(495.0)
    assert summary["table"]["cup_catch"]["oracle_value_bound"]["mean"] == pytest.approx(500.0)
    random_mean = summary["table"]["cup_catch"]["random"]["mean"]
    per_task = summary["normalised"]["per_task"]
    assert per_task["oracle"]["cup_catch"]["mean"] == pytest.approx(1.0)
    assert per_task["oracle_value_bound"]["cup_catch"]["mean"] == pytest.approx(
        (500.0 - random_mean) / (495.0 - random_mean)
    )
    md = build_report(out, tmp_path / "report", reps=50)["markdown"].read_text()
    assert "| Oracle + value bound (not in the paper) | cup_catch | 1: 500.0 | - | record |" in md
    # A student's record does not stand in for a teacher.
    with pytest.raises(ValueError, match="method is 'twist'.*needs 'oracle'"):
        recorded_result(RunSpec("oracle_value_bound", "cup_catch", 1, "x",
                                record=str(_record(tmp_path / "s.json", method="twist"))), 2, "heldout")  # fmt: skip
    # Live, a value-bound teacher's checkpoint is evaluated as a teacher: the same episodes, the
    # same returns as the same checkpoint listed as the Oracle.
    teacher = str(ROOT / "checkpoints" / "teacher_cartpole_balance")
    live = [evaluate_run(RunSpec(m, "cartpole_balance", 0, teacher), 1, "heldout")
            for m in ("oracle", "oracle_value_bound")]  # fmt: skip
    assert live[0]["returns"] == live[1]["returns"] and live[0]["returns"][0] > 0


def test_fig6_ablation_students_are_evaluated_as_bundles(tmp_path):
    """twist_no_imagine / twist_no_noise runs are policy bundles, evaluated on the same episodes
    as TWIST itself: identical bundles give identical returns."""
    from twist_models.testing import make_debug_bundle

    bundle = make_debug_bundle(tmp_path / "bundle", task="block_push", seed=0)
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"episodes": 1, "runs": [
        {"method": m, "task": "block_push", "seed": 0, "path": str(bundle)}
        for m in ("twist", "twist_no_imagine", "twist_no_noise")]}))  # fmt: skip
    runs, episodes, split = load_suite(suite)
    run_suite(runs, episodes, split, tmp_path / "results", reps=50, progress=False)
    rows = {r["method"]: r["return"] for r in read_raw(tmp_path / "results" / "raw.csv")}
    assert rows["twist_no_imagine"] == pytest.approx(rows["twist"])
    assert rows["twist_no_noise"] == pytest.approx(rows["twist"])


def test_a_student_run_with_its_teacher_is_exported_once_and_evaluated_as_a_bundle(tmp_path):
    """The committed cartpole_balance student and teacher, listed as runs: the suite exports them
    to OUT/bundles/, evaluates and records that bundle, keeps it on resume, and exports again
    when the suite names another student."""
    from twist_models.bundle import read_bundle
    from twist_models.report import compute_used

    teacher = ROOT / "checkpoints" / "teacher_cartpole_balance"
    student = ROOT / "checkpoints" / "students" / "student_cartpole_balance"
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"episodes": 1, "runs": [
        {"method": "twist", "task": "cartpole_balance", "seed": 0, "path": str(student), "teacher": str(teacher)}]}))  # fmt: skip
    runs, episodes, split = load_suite(suite)
    out = tmp_path / "results"
    run_suite(runs, episodes, split, out, reps=50, progress=False)
    bundle = out / "bundles" / "twist_cartpole_balance_0"
    spec, _ = read_bundle(bundle)
    assert spec.task == "cartpole_balance"
    assert spec.provenance["student_run"] == str(student) and spec.provenance["teacher_run"] == str(teacher)
    recorded = json.loads((out / "runs.json").read_text())
    assert [r["path"] for r in recorded if r["method"] == "twist"] == [str(bundle.resolve())]
    rows = [r for r in read_raw(out / "raw.csv") if r["method"] == "twist"]
    assert len(rows) == 1 and rows[0]["return"] > 0
    # The report finds both runs through the exported bundle's provenance.
    teacher_meta = yaml.safe_load((teacher / "run.yaml").read_text())
    student_meta = yaml.safe_load((student / "run.yaml").read_text())
    used = compute_used({"method": "twist", "task": "cartpole_balance", "seed": 0, "path": str(bundle)})
    assert used["env_steps"] == teacher_meta["env_steps"]
    # This student started from another run's weights (--init-from) that was not kept: its
    # updates are not known, and the row says so.
    assert student_meta["init_from"] and not Path(student_meta["init_from"]).exists()
    assert used["updates"] == f"{teacher_meta['updates']} + {student_meta['updates']} + ? inherited"
    assert used["wall_s"] is None
    # Resume: the bundle is kept as it is.
    stamp = (bundle / "bundle.yaml").stat().st_mtime_ns
    assert export_students(runs, out)[0].path == str(bundle)
    assert (bundle / "bundle.yaml").stat().st_mtime_ns == stamp
    # The same name for another student run (a copy) is exported again from it.
    other = tmp_path / "student_copy"
    shutil.copytree(student, other)
    export_students([RunSpec("twist", "cartpole_balance", 0, str(other), str(teacher))], out)
    assert read_bundle(bundle)[0].provenance["student_run"] == str(other.resolve())
    # Listed for the wrong task, or a teacher on a method that is not a student: clear errors.
    with pytest.raises(ValueError, match="'cartpole_balance' student.*'cup_catch'"):
        export_students([RunSpec("twist", "cup_catch", 1, str(student), str(teacher))], out)
    with pytest.raises(ValueError, match="RunSpec.teacher"):
        RunSpec("oracle", "cartpole_balance", 0, str(teacher), str(teacher))


def test_the_committed_suite_names_only_what_is_committed():
    """docs/results/suite.yaml (the committed report's source) loads, and every run and teacher it
    names is in the repository, so the report regenerates on a fresh clone."""
    runs, episodes, split = load_suite(ROOT / "docs" / "results" / "suite.yaml")
    assert split == "heldout" and episodes >= 20
    named = [r for r in runs if r.method != "random"]
    for run in named:
        for path in filter(None, (run.path, run.teacher)):
            assert (ROOT / path).is_dir(), f"suite.yaml names {path}, which is not committed"
        if run.record:  # a stored evaluation of the suite's episodes stands in for the weights
            assert recorded_result(RunSpec(run.method, run.task, run.seed, str(ROOT / run.path),
                                           record=str(ROOT / run.record)), episodes, split)  # fmt: skip
    assert {r.task for r in named if r.method == "oracle"} >= {"block_push", "cartpole_balance", "cup_catch"}
