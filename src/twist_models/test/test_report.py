"""The report is built from the stored raw-results fixture, and its figures are real images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from twist_models.report import build_report

FIXTURE = Path(__file__).parent / "test_report_fixture"


def test_report_from_stored_fixture(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    written = build_report(results, tmp_path / "report", reps=200)
    assert {"per_task", "intervals", "curves_steps", "curves_wall", "markdown", "html"} <= set(written)
    for key in ("per_task", "intervals", "curves_steps", "curves_wall"):
        with Image.open(written[key]) as img:
            img.load()
            assert img.format == "PNG"
            assert img.width >= 300 and img.height >= 200
            pixels = np.asarray(img.convert("RGB"))
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # a plot, not a blank canvas
    md = written["markdown"].read_text()
    # Table I row of the Oracle on block_push, from the fixture: mean of its six episodes.
    assert "| Oracle | 118.5 ± 13.8 | 829.1 ± 77.0 |" in md
    assert (
        "Success rate" in md and "Compute used per run" in md and "![intervals](figures/intervals.png)" in md
    )
    assert "Held-out return per training seed" in md and "per task, mean over seeds" in md
    page = written["html"].read_text()
    assert page.count("data:image/png;base64,") == 4 and "<table>" in page
