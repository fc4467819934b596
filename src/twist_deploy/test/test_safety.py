"""The safety invariants hold for arbitrary model outputs and poses (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twist_deploy.safety import Hold, SafeCommand, SafetyConfig, WorkspaceBox, check_command, safe_command

CFG = SafetyConfig()
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
inside = st.tuples(*(st.floats(lo, hi) for lo, hi in zip(CFG.box.low, CFG.box.high, strict=True)))
anywhere = st.tuples(*(st.floats(-2.0, 2.0) for _ in range(3)))


@settings(max_examples=600, deadline=None)
@given(
    ee=st.one_of(inside, anywhere, st.tuples(any_float, any_float, any_float)),
    action=st.lists(any_float, min_size=3, max_size=4),
)
def test_every_command_satisfies_invariants(ee, action):
    result = safe_command(np.array(ee), np.array(action), CFG)
    if isinstance(result, SafeCommand):
        assert np.all(np.isfinite(result.target))
        assert np.all(np.abs(result.target - np.array(ee)) <= CFG.max_step_m + 1e-9)
        assert CFG.box.contains(result.target)
        assert check_command(np.array(ee), result.target, CFG) is None
        if result.gripper is not None:
            assert -1.0 <= result.gripper <= 1.0
    else:
        assert isinstance(result, Hold) and result.reason
        assert result.nonfinite_action == (not np.all(np.isfinite(action)))


@settings(max_examples=300, deadline=None)
@given(ee=inside, action=st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3))
def test_inside_box_always_commands(ee, action):
    """From inside the box a finite action always yields a command (never a spurious hold)."""
    assert isinstance(safe_command(np.array(ee), np.array(action), CFG), SafeCommand)


def test_delta_is_action_times_scale_and_clipped():
    ee = np.array([0.5, 0.0, 0.2])
    cmd = safe_command(ee, np.array([0.5, -1.0, 7.0]), CFG)
    np.testing.assert_allclose(cmd.delta, [0.01, -0.02, 0.02], atol=1e-12)
    np.testing.assert_allclose(cmd.target, ee + cmd.delta)


def test_target_clipped_into_box_at_the_wall():
    ee = np.array([0.5, 0.0, CFG.box.low[2] + 0.005])
    cmd = safe_command(ee, np.array([0.0, 0.0, -1.0]), CFG)
    assert cmd.target[2] == pytest.approx(CFG.box.low[2])


def test_far_outside_box_holds():
    result = safe_command(np.array([1.5, 0.0, 0.2]), np.zeros(3), CFG)
    assert isinstance(result, Hold) and "step" in result.reason


def test_nan_action_is_flagged():
    result = safe_command(np.array([0.5, 0.0, 0.2]), np.array([np.nan, 0.0, 0.0]), CFG)
    assert isinstance(result, Hold) and result.nonfinite_action


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_step_m": 0.05}, "max_step_m"),
        ({"max_step_m": float("nan")}, "max_step_m"),
        ({"action_scale_m": 0.0}, "action_scale_m"),
    ],
)
def test_config_validation_names_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SafetyConfig(**kwargs)


def test_box_validation():
    with pytest.raises(ValueError, match="low must be below high"):
        WorkspaceBox((0.5, 0.0, 0.0), (0.4, 1.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        WorkspaceBox((0.0, 0.0, float("nan")), (1.0, 1.0, 1.0))
