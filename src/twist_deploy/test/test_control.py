"""The control loop on a fake clock with a real StudentPolicy: gating, stale hold, NaN latch."""

import numpy as np
import pytest
import torch
from twist_deploy.control import ControlConfig, Mode, PolicyController
from twist_models.policy import StudentPolicy

EE = np.array([0.45, 0.0, 0.2])
Q = np.array([1.0, 0.0, 0.0, 0.0])
RNG = np.random.default_rng(0)


def frame():
    return RNG.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


@pytest.fixture
def ctl(bundle):
    c = PolicyController(
        StudentPolicy.load(bundle), ControlConfig(control_hz=10.0, episode_steps=5, stale_timeout_s=0.5)
    )
    c.on_pose(EE, Q, 0.0)
    return c


def test_idle_by_default_and_start_needs_pose(bundle):
    c = PolicyController(StudentPolicy.load(bundle), ControlConfig())
    c.on_image(frame(), 0.0, 0.0)
    assert c.tick(0.01) is None and c.mode is Mode.IDLE
    ok, msg = c.start()
    assert not ok and "pose" in msg


def test_one_command_per_frame_and_period_then_complete(ctl):
    assert ctl.start()[0]
    t, commands = 0.0, []
    for _ in range(12):
        t += 0.1
        ctl.on_pose(EE, Q, t)
        ctl.on_image(frame(), t, t)
        commands.append(ctl.tick(t))
        assert ctl.tick(t + 0.01) is None  # same frame never steps twice
    sent = [c for c in commands if c is not None]
    assert len(sent) == 5 and ctl.mode is Mode.HOLDING and ctl.reason == "trial complete"
    for c in sent:
        assert np.all(np.abs(c.target - EE) <= 0.02 + 1e-9)
    # A frame stamped closer than 0.75 periods to the previous command's frame waits.
    ctl.reset()
    ctl.start()
    ctl.on_image(frame(), t, t)
    assert ctl.tick(t) is not None
    ctl.on_image(frame(), t + 0.05, t + 0.05)
    assert ctl.tick(t + 0.05) is None
    ctl.on_image(frame(), t + 0.1, t + 0.1)
    assert ctl.tick(t + 0.1) is not None
    assert ctl.counters.dropped == 1


def test_stale_exactly_after_timeout_and_resume(ctl):
    ctl.on_image(frame(), 0.0, 0.0)
    ctl.start()
    assert ctl.tick(0.0) is not None
    assert not ctl.watchdog(0.5)  # at the timeout: still fresh
    assert ctl.watchdog(0.5001) and ctl.diagnostics()[0] == 1
    ctl.on_pose(EE, Q, 0.6)
    ctl.on_image(frame(), 0.6, 0.6)
    assert ctl.tick(0.6) is not None and not ctl.stale


def test_nonfinite_output_latches_error(ctl):
    ctl.start()
    ctl.on_image(frame(), 0.0, 0.0)
    assert ctl.tick(0.0) is not None
    with torch.no_grad():
        for p in ctl.policy.actor.parameters():
            p.fill_(float("nan"))
    ctl.on_image(frame(), 0.1, 0.1)
    assert ctl.tick(0.1) is None and ctl.mode is Mode.ERROR and "non-finite" in ctl.reason
    assert not ctl.start()[0]
    ctl.reset()
    assert ctl.mode is Mode.IDLE


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"control_hz": 0.0}, "control_hz"),
        ({"episode_steps": 0}, "episode_steps"),
        ({"stale_timeout_s": -1.0}, "stale_timeout_s"),
    ],
)
def test_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ControlConfig(**kwargs)
