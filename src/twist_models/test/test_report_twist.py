"""TWIST in the report: the student's distillation curve from its TensorBoard events, and the
teacher's eval.jsonl as the Oracle curve, with the fixture results and a tiny event file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from twist_models.eval_suite import read_raw, run_scores
from twist_models.report import (
    TEACHER_LABEL,
    build_report,
    compute_used,
    curve_lines,
    distillation_curve,
    twist_sources,
)
from twist_models.testing import make_debug_bundle

torch.set_num_threads(1)
FIXTURE = Path(__file__).parent / "test_report_fixture"


def _write_student_run(run: Path) -> None:
    """Two twist-distill sessions: updates 10..50 (checkpoint at 30), then a resume 40..60.

    Wall times are set explicitly: 2 s per update, and a long pause between the sessions."""
    first = SummaryWriter(str(run / "tb"))
    for u in (10, 20, 30, 40, 50):
        first.add_scalar("distil/loss", 10.0 / u, u, walltime=1000.0 + 2 * u)
    first.close()
    second = SummaryWriter(str(run / "tb"))
    for u in (40, 50, 60):
        second.add_scalar("distil/loss", 5.0 / u, u, walltime=9000.0 + 2 * u)
    second.close()
    (run / "run.yaml").write_text(yaml.safe_dump({"task": "block_push", "updates": 60}))


def _twist_results(tmp_path: Path, with_oracle: bool = True) -> Path:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    student = results / "runs" / "twist_student"
    _write_student_run(student)
    bundle = make_debug_bundle(results / "runs" / "twist_bundle", task="block_push", seed=0)
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    # The provenance twist-export records: absolute teacher and student run directories.
    meta["provenance"].update(teacher_run=str((results / "runs" / "oracle").resolve()),
                              student_run=str(student.resolve()), student_updates=60)  # fmt: skip
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    runs = json.loads((results / "runs.json").read_text())
    if not with_oracle:
        runs = [r for r in runs if r["method"] != "oracle"]
    runs.append({"method": "twist", "task": "block_push", "seed": 0, "path": "runs/twist_bundle"})
    (results / "runs.json").write_text(json.dumps(runs))
    return results


def test_distillation_curve_spans_resumed_sessions(tmp_path):
    results = _twist_results(tmp_path)
    curve = distillation_curve(results / "runs" / "twist_student")
    # Session 1 keeps updates < 40 (the resume re-logs 40 and 50); its wall-clock runs 0..80 s
    # (updates 10..50); session 2 continues at 80 s and the 7,900 s pause is not counted.
    np.testing.assert_allclose(curve["updates"], [10, 20, 30, 40, 50, 60])
    np.testing.assert_allclose(curve["wall_s"], [0, 20, 40, 80, 100, 120])
    np.testing.assert_allclose(curve["loss"], [1.0, 0.5, 10 / 30, 0.125, 0.1, 5 / 60], rtol=1e-6)
    assert distillation_curve(results / "runs" / "oracle") is None  # no event files there


def test_twist_curves_use_the_teacher_as_oracle_curve(tmp_path):
    results = _twist_results(tmp_path, with_oracle=False)
    teacher, student = twist_sources(results / "runs" / "twist_bundle")
    assert teacher == (results / "runs" / "oracle").resolve() and student.name == "twist_student"
    runs = [{**r, "path": str(results / r["path"])} for r in json.loads((results / "runs.json").read_text())]
    lines = curve_lines(runs, run_scores(read_raw(results / "raw.csv")))
    teacher_lines = [line for line in lines if line.get("label") == TEACHER_LABEL]
    assert len(teacher_lines) == 1 and teacher_lines[0]["curve"]["return"][-1] == pytest.approx(111.7)
    (point,) = [line["point"] for line in lines if "point" in line]
    # TWIST's star: its held-out mean (107.0 + 90.4 + 106.6) / 3 at the teacher's last eval
    # (8,000 env steps, 160 s) plus the 120 s of distillation.
    assert point == pytest.approx({"env_steps": 8000.0, "wall_s": 280.0, "return": 304.0 / 3})


def test_report_with_twist_has_the_distillation_figure_and_compute(tmp_path):
    results = _twist_results(tmp_path)
    written = build_report(results, tmp_path / "report", reps=100)
    assert {"distill", "curves_steps", "curves_wall", "intervals"} <= set(written)
    with Image.open(written["distill"]) as img:
        img.load()
        assert img.format == "PNG" and img.width >= 300 and img.height >= 200
        pixels = np.asarray(img.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
    md = written["markdown"].read_text()
    # Teacher (8,000 env steps, 1,600 updates, 160 s) plus distillation (60 updates, 120 s).
    assert "| TWIST | block_push | 0 | 8000 | 1600 + 60 | 280 | x86_64 |" in md
    assert "Which curve is which" in md and "![distill](figures/distill.png)" in md
    # The Oracle's own run is TWIST's teacher: its curve is drawn once, not twice.
    runs = [{**r, "path": str(results / r["path"])} for r in json.loads((results / "runs.json").read_text())]
    lines = curve_lines(runs, run_scores(read_raw(results / "raw.csv")))
    assert [line["label"] for line in lines if "curve" in line].count("Oracle") == 1
    assert not any(line.get("label") == TEACHER_LABEL for line in lines)
    assert written["html"].read_text().count("data:image/png;base64,") == 5


def test_shipped_bundle_compute_from_its_training_copies(tmp_path):
    """A shipped bundle whose provenance runs are gone (another machine): its compute comes from
    the run.yaml copies in training/ (teacher's compute.wall_s + the student's wall_s)."""
    bundle = make_debug_bundle(tmp_path / "bundle", task="block_push", seed=0)
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    meta["provenance"].update(
        teacher_run=str(tmp_path / "gone_teacher"), student_run=str(tmp_path / "gone_student")
    )
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    run = {"method": "twist", "task": "block_push", "seed": 0, "path": str(bundle)}
    assert twist_sources(bundle) == (None, None)
    unknown = {"method": "twist", "task": "block_push", "seed": 0, "env_steps": None, "updates": None,
               "wall_s": None, "device": None}  # fmt: skip
    assert compute_used(run) == unknown
    (bundle / "training").mkdir()
    teacher = {"env_steps": 46800, "updates": 10501, "wall_s": 8300.0,
               "compute": {"device": "cpu", "device_name": "AMD EPYC", "wall_s": 8300.0}}  # fmt: skip
    (bundle / "training" / "teacher_run.yaml").write_text(yaml.safe_dump(teacher))
    (bundle / "training" / "student_run.yaml").write_text(yaml.safe_dump({"updates": 4500}))
    used = compute_used(run)
    # No wall-clock recorded for the student: the sum is unknown, the rest is there.
    assert (used["env_steps"], used["updates"], used["wall_s"], used["device"]) == (
        46800,
        "10501 + 4500",
        None,
        "AMD EPYC",
    )
    (bundle / "training" / "student_run.yaml").write_text(yaml.safe_dump({"updates": 4500, "wall_s": 9000.0}))
    assert compute_used(run)["wall_s"] == pytest.approx(17300.0)
    # A student started from others (--init-from, e.g. DAgger rounds): their updates and wall-clock
    # count too, from the lineage the bundle's provenance records.
    meta["provenance"]["student_init_lineage"] = [
        {"run": "/gone/round1", "updates": 5000, "wall_s": 2400.0},
        {"run": "/gone/plain", "updates": 25500, "wall_s": 12000.0},
    ]
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    used = compute_used(run)
    assert used["updates"] == "10501 + 35000 (4500 + 30500 inherited)"
    assert used["wall_s"] == pytest.approx(8300.0 + 9000.0 + 2400.0 + 12000.0)
    meta["provenance"]["student_init_lineage"][1] = {"run": "/gone/plain", "updates": None, "wall_s": None}
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    used = compute_used(run)
    assert (used["updates"], used["wall_s"]) == ("10501 + 4500 + ? inherited", None)
    # A bundle from before lineages were recorded: an init_from alone means an unknown ancestor.
    del meta["provenance"]["student_init_lineage"]
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    (bundle / "training" / "student_run.yaml").write_text(
        yaml.safe_dump({"updates": 4500, "wall_s": 9000.0, "init_from": "/gone/round1"}))  # fmt: skip
    assert compute_used(run)["updates"] == "10501 + 4500 + ? inherited"


def test_runs_trained_on_after_the_export_are_not_the_bundles(tmp_path):
    """A student run that went on training after twist-export (a continued student) no longer
    describes the shipped policy: the report takes the bundle's training/ copies instead, and no
    distillation curve of the moved-on run."""
    results = _twist_results(tmp_path)
    bundle, student = results / "runs" / "twist_bundle", results / "runs" / "twist_student"
    run = {"method": "twist", "task": "block_push", "seed": 0, "path": str(bundle)}
    assert compute_used(run)["updates"] == "1600 + 60"
    (student / "run.yaml").write_text(yaml.safe_dump({"task": "block_push", "updates": 90}))
    teacher, moved_on = twist_sources(bundle)
    assert teacher is not None and moved_on is None
    # Without training/ copies the teacher's run is still the bundle's: the student's part is unknown.
    assert compute_used(run)["updates"] == "1600 + -"
    (bundle / "training").mkdir()
    (bundle / "training" / "teacher_run.yaml").write_text(yaml.safe_dump(
        {"env_steps": 8000, "updates": 1600, "wall_s": 160.0}))  # fmt: skip
    (bundle / "training" / "student_run.yaml").write_text(yaml.safe_dump({"updates": 60, "wall_s": 120.0}))
    used = compute_used(run)
    assert (used["env_steps"], used["updates"], used["wall_s"]) == (8000, "1600 + 60", pytest.approx(280.0))
    # A teacher trained on since (other env steps than the provenance records) is not the bundle's either.
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    meta["provenance"]["teacher_env_steps"] = 4000
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    assert twist_sources(bundle)[0] is None


def _point_teacher_at(bundle: Path, teacher: Path) -> None:
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    meta["provenance"]["teacher_run"] = str(teacher)
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def test_a_copy_of_the_oracle_run_is_drawn_once_and_a_shipped_bundle_keeps_its_star(tmp_path):
    """The student's teacher is a copy of the suite's Oracle snapshot (continue_students.sh works on
    one): one Oracle curve, not two on top of each other. A bundle whose teacher is gone gets its
    star from its training/ copies: at the teacher's env steps, no wall-clock where none is recorded."""
    results = _twist_results(tmp_path)
    bundle = results / "runs" / "twist_bundle"
    shutil.copytree(results / "runs" / "oracle", tmp_path / "teacher_copy")
    _point_teacher_at(bundle, tmp_path / "teacher_copy")
    runs = [{**r, "path": str(results / r["path"])} for r in json.loads((results / "runs.json").read_text())]
    scores = run_scores(read_raw(results / "raw.csv"))
    lines = curve_lines(runs, scores)
    curves = [line for line in lines if "curve" in line and line["task"] == "block_push"]
    assert [line["method"] for line in curves].count("oracle") == 1
    assert len([line for line in lines if "point" in line]) == 1

    _point_teacher_at(bundle, tmp_path / "gone")
    assert not [line for line in curve_lines(runs, scores) if "point" in line]  # nothing recorded where
    (bundle / "training").mkdir()
    (bundle / "training" / "teacher_run.yaml").write_text(
        yaml.safe_dump({"env_steps": 6000, "updates": 1200})
    )
    (bundle / "training" / "student_run.yaml").write_text(yaml.safe_dump({"updates": 60}))
    (point,) = [line["point"] for line in curve_lines(runs, scores) if "point" in line]
    assert (
        point["env_steps"] == 6000
        and np.isnan(point["wall_s"])
        and point["return"] == pytest.approx(304.0 / 3)
    )
