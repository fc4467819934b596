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
    ctl.on_pose(EE, Q, t + 0.05)
    ctl.on_image(frame(), t + 0.05, t + 0.05)
    assert ctl.tick(t + 0.05) is None
    ctl.on_pose(EE, Q, t + 0.1)
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
    ctl.on_pose(EE, Q, 0.1)
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
        ({"pose_sync_s": -0.01}, "pose_sync_s"),
        ({"pose_sync_s": 0.1}, "pose_sync_s"),  # a whole period at 10 Hz
    ],
)
def test_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ControlConfig(**kwargs)


def test_inputs_age_by_their_stamps_as_well_as_by_receipt(ctl):
    """A pose or frame that waited in a busy executor arrives 'now' but is as old as its stamp."""
    ctl.on_image(frame(), 0.0, 0.0)
    ctl.start()
    assert ctl.tick(0.0) is not None
    # Received at 0.7 s, but measured 0.6 s before: stale, and the reason says which input.
    ctl.on_pose(EE, Q, 0.7, stamp=0.1)
    ctl.on_image(frame(), 0.7, 0.7)
    assert ctl.tick(0.7) is None and ctl.stale
    assert "pose age 0.600" in ctl.counters.last_stale
    ctl.on_pose(EE, Q, 0.8, stamp=0.8)
    ctl.on_image(frame(), 0.8, 0.2)  # an old frame delivered late
    assert ctl.tick(0.8) is None and "image age 0.600" in ctl.counters.last_stale
    # A stamp from the future (clock offset) does not make an old message fresh: receipt ages it.
    ctl.on_image(frame(), 0.9, 5.0)
    assert not ctl.watchdog(0.9)
    assert ctl.watchdog(1.5) and "image age 0.600" in ctl.counters.last_stale
    ctl.on_pose(EE, Q, 1.6, stamp=1.6)
    ctl.on_image(frame(), 1.6, 1.6)
    command = ctl.tick(1.6)
    assert command is not None and ctl.decided_at >= 1.6
    # An unstamped pose (header stamp 0) is never fresh, and the reason says why.
    ctl.on_pose(EE, Q, 1.7, stamp=0.0)
    assert ctl.watchdog(1.7) and "the pose has no header stamp" in ctl.counters.last_stale


def test_inputs_that_go_stale_during_the_model_step_hold(bundle, monkeypatch):
    """The pose is checked again when the command is made, after the model step."""
    import twist_deploy.control as control

    clock = {"now": 0.0}

    class SlowPolicy:
        inner = StudentPolicy.load(bundle)

        def reset(self):
            self.inner.reset()

        def step(self, image):
            clock["now"] += 0.4  # the model step takes 0.4 s (fake time)
            return self.inner.step(image)

    # The controller times the model step with perf_counter: give it the fake clock.
    monkeypatch.setattr(control.time, "perf_counter", lambda: clock["now"])
    c = PolicyController(SlowPolicy(), ControlConfig(control_hz=10.0, stale_timeout_s=0.5))
    c.on_pose(EE, Q, 0.0, stamp=0.0)
    c.start()
    c.on_image(frame(), 0.0, 0.0)
    assert c.tick(0.0) is not None  # the pose is 0.4 s old when the command is made: fine
    c.on_image(frame(), 0.2, 0.2)
    assert c.tick(0.2) is None and not c.stale  # waits for a pose measured with the frame
    assert c.tick(0.26) is None and c.stale  # none came: 0.26 + 0.4, the pose is 0.66 s old by then
    assert c.counters.commands == 1


def test_a_command_is_relative_to_the_pose_measured_with_its_frame(ctl):
    """The sim twin publishes a step's frame, then its pose: the frame's tick waits for that pose
    (its delta would otherwise be added to where the arm was a step earlier), for at most
    pose_sync_s after the frame arrived, then goes ahead on the pose there is and counts it."""
    before, after = EE, EE + np.array([0.015, 0.0, 0.0])  # the arm moved 1.5 cm in the last step
    ctl.on_pose(before, Q, 0.0)
    ctl.start()
    ctl.on_image(frame(), 0.1, 0.1)
    assert ctl.waiting_for_pose(0.1) and ctl.tick(0.1) is None and ctl.awaiting_pose
    ctl.on_pose(after, Q, 0.101, stamp=0.1)  # the step's pose: the node ticks again on it
    assert not ctl.waiting_for_pose(0.101)
    command = ctl.tick(0.101)
    assert command is not None and np.all(np.abs(command.target - after) <= 0.02 + 1e-9)
    assert ctl.counters.unsynced_pose == 0 and not ctl.awaiting_pose and not ctl.waiting_for_pose(0.101)
    # No newer pose: the tick waits until pose_sync_s after the frame's arrival, then uses the
    # newest pose and counts the command as unsynced.
    ctl.on_image(frame(), 0.2, 0.2)
    assert ctl.tick(0.2) is None and ctl.tick(0.249) is None
    command = ctl.tick(0.251)
    assert command is not None and np.all(np.abs(command.target - after) <= 0.02 + 1e-9)
    assert ctl.counters.unsynced_pose == 1 and ctl.diagnostics()[2]["unsynced_pose_commands"] == "1"
    # A pose a little older than its frame (a robot streaming poses faster than 1 / pose_sync_s)
    # never waits.
    ctl.on_pose(after, Q, 0.29, stamp=0.29)
    ctl.on_image(frame(), 0.3, 0.3)
    assert not ctl.waiting_for_pose(0.3) and ctl.tick(0.3) is not None
    assert ctl.counters.unsynced_pose == 1


def test_pose_sync_zero_never_waits(bundle):
    c = PolicyController(StudentPolicy.load(bundle), ControlConfig(pose_sync_s=0.0))
    c.on_pose(EE, Q, 0.0)
    c.start()
    c.on_image(frame(), 0.1, 0.1)
    assert not c.waiting_for_pose(0.1) and c.tick(0.1) is not None
    assert c.counters.unsynced_pose == 1
