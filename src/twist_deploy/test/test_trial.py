"""Trial state machine, Wilson interval and the session CSV."""

import csv

import pytest
from twist_deploy.trial import (
    TrialError,
    TrialMachine,
    TrialState,
    running_interval,
    wilson_interval,
    write_session_csv,
)


def test_wilson_known_values():
    # 8/10 at 95%: the standard Wilson interval is (0.4902, 0.9433).
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert running_interval(0, 0) == (0.0, 1.0)
    assert running_interval(8, 10) == wilson_interval(8, 10)
    lo, hi = wilson_interval(0, 5)
    assert lo == 0.0 and 0.0 < hi < 0.5
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


def test_lifecycle_complete_then_mark():
    m = TrialMachine(episode_steps=150)
    m.start(0.0)
    assert not m.step(149, 1.0) and m.state is TrialState.RUNNING
    assert m.step(150, 2.0) and m.state is TrialState.HOLDING and m.reason == "trial complete"
    trial = m.mark("success", 3.0)
    assert trial.outcome == "success" and trial.steps == 150 and trial.end == 2.0
    with pytest.raises(TrialError):
        m.mark("failure", 4.0)  # one outcome per trial
    with pytest.raises(TrialError, match="reset first"):
        m.start(5.0)
    m.reset()
    assert m.start(6.0).index == 2


def test_abort_and_error():
    m = TrialMachine()
    with pytest.raises(TrialError):
        m.abort(0.0)
    m.start(0.0)
    assert m.abort(1.0).outcome == "aborted" and m.state is TrialState.HOLDING
    m.reset()
    m.start(2.0)
    assert m.fail(3.0, "nan").outcome == "error" and m.state is TrialState.ERROR
    with pytest.raises(TrialError):
        m.start(4.0)
    assert not m.step(150, 4.0)
    m.reset()
    assert m.state is TrialState.IDLE


def test_csv_running_rate(tmp_path):
    m = TrialMachine(episode_steps=2)
    for outcome in ("success", "failure", "aborted", "success"):
        m.start(0.0)
        if outcome == "aborted":
            m.abort(1.0)
        else:
            m.step(2, 1.0)
            m.mark(outcome, 1.0)
        m.reset()
    path = tmp_path / "s" / "session.csv"
    write_session_csv(path, m.trials)
    rows = list(csv.DictReader(path.open()))
    assert [r["outcome"] for r in rows] == ["success", "failure", "aborted", "success"]
    assert [r["evaluated"] for r in rows] == ["1", "2", "2", "3"]
    assert float(rows[-1]["success_rate"]) == pytest.approx(2 / 3, abs=1e-4)
    lo, hi = wilson_interval(2, 3)
    assert float(rows[-1]["wilson_low"]) == pytest.approx(lo, abs=1e-4)
    assert float(rows[-1]["wilson_high"]) == pytest.approx(hi, abs=1e-4)
    assert not list(path.parent.glob("*.tmp"))
