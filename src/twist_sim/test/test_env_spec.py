"""Spec conformance: observations, actions, clipping, bad input, registration."""

import gymnasium as gym
import numpy as np
import pytest
from twist_sim.mujoco_env import EnvConfig
from twist_sim.randomization import DRConfig, DRParameter
from twist_sim.tasks import ACTION_SCALE_M, EPISODE_STEPS, TASK_NAMES, make_task

import twist_sim
from twist_sim import make_env


@pytest.fixture(scope="module", params=TASK_NAMES)
def env(request):
    e = make_env(request.param, image_size=64)
    yield e
    e.close()


def test_observation_and_action_spaces(env):
    task = env.unwrapped.task
    obs, info = env.reset(seed=0)
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (task.state_dim,)
    assert obs["image"].dtype == np.uint8 and obs["image"].shape == (64, 64, 3)
    assert env.observation_space.contains(obs)
    assert env.action_space.shape == (task.action_dim,)
    assert task.action_dim == (4 if task.name == "block_lift" else 3)
    assert isinstance(info["success"], bool) and isinstance(info["dr"], dict) and info["dr"]
    # The layout tiles the state vector exactly and names what the contract promises.
    spans = sorted(task.state_layout.values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[-1][1] == task.state_dim
    for name in ("ee_pos", "cube_pos", "cube_quat", "goal_pos", "cube_goal_dist"):
        assert name in task.state_layout
    lo, hi = task.state_layout["ee_pos"]
    np.testing.assert_allclose(obs["state"][lo:hi], env.unwrapped.ee_position(), atol=1e-6)
    lo, hi = task.state_layout["goal_pos"]
    np.testing.assert_allclose(obs["state"][lo:hi], env.unwrapped.goal_position(), atol=1e-6)
    assert np.array_equal(env.unwrapped.render_camera(), obs["image"])


def test_episode_truncates_after_150_steps(env):
    env.reset(seed=1)
    zero = np.zeros(env.action_space.shape, np.float32)
    for t in range(EPISODE_STEPS):
        _, reward, terminated, truncated, _ = env.step(zero)
        assert not terminated and np.isfinite(reward)
        assert truncated == (t == EPISODE_STEPS - 1)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_action_moves_ee_by_at_most_two_cm_and_is_clipped(env, axis):
    dim = env.action_space.shape[0]
    moves = []
    for scale in (1.0, 50.0):
        env.reset(seed=2)
        before = env.unwrapped.ee_position()
        action = np.zeros(dim)
        action[axis] = -scale
        env.step(action)
        moves.append(env.unwrapped.ee_position() - before)
    # A huge action is clipped to the same command as a unit action.
    np.testing.assert_allclose(moves[0], moves[1], atol=1e-9)
    # The controller realises the 2 cm command on that axis, with little motion on the others.
    assert -ACTION_SCALE_M - 3e-3 <= moves[0][axis] < -0.8 * ACTION_SCALE_M
    assert np.all(np.abs(np.delete(moves[0], axis)) < 5e-3)


def test_non_finite_and_misshaped_actions_raise(env):
    env.reset(seed=3)
    dim = env.action_space.shape[0]
    for bad in (np.full(dim, np.nan), np.r_[np.inf, np.zeros(dim - 1)]):
        with pytest.raises(ValueError, match="non-finite"):
            env.step(bad)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(dim + 1))


def test_set_goal_moves_goal(env):
    env.reset(seed=4)
    env.unwrapped.set_goal([0.5, 0.1, 0.02])
    np.testing.assert_allclose(env.unwrapped.goal_position(), [0.5, 0.1, 0.02])
    with pytest.raises(ValueError):
        env.unwrapped.set_goal([np.nan, 0, 0])


def test_unknown_task_and_backend_list_valid_ones():
    with pytest.raises(ValueError, match="block_push, block_lift"):
        make_env("block_stack")
    with pytest.raises(ValueError, match="mujoco, isaaclab"):
        make_env("block_push", backend="bullet")


def test_isaaclab_backend_fails_at_once_with_install_hint():
    with pytest.raises(ImportError, match="isaaclab"):
        make_env("block_push", backend="isaaclab")


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"image_size": 3}, "image_size", "3"),
        ({"split": "test"}, "split", "'test'"),
        ({"dr_mode": "sometimes"}, "dr_mode", "'sometimes'"),
        ({"physics_dt": 0.003}, "physics_dt", "0.003"),
        ({"control_hz": -1.0}, "control_hz", "-1.0"),
    ],
)
def test_invalid_config_names_field_and_value(kwargs, field, value):
    with pytest.raises(ValueError, match=f"{field}.*{value}"):
        EnvConfig(**kwargs)


def test_invalid_dr_config_names_field_and_value():
    with pytest.raises(ValueError, match="attribute.*'geom_mass'"):
        DRParameter(name="m", attribute="geom_mass", element="cube", dist="uniform", low=(1.0,), high=(2.0,))
    with pytest.raises(ValueError, match="low.*high"):
        DRParameter(
            name="f", attribute="geom_friction", element="cube", dist="uniform", low=(2.0,), high=(1.0,)
        )
    with pytest.raises(ValueError, match="bank_per_split.*0"):
        DRConfig(bank_per_split=0)


def test_gymnasium_ids_and_task_constants():
    for task, gym_id in twist_sim.GYM_IDS.items():
        e = gym.make(gym_id, render_image=False)
        assert e.unwrapped.task.name == task
        obs, _ = e.reset(seed=0)
        assert obs["state"].shape == (make_task(task).state_dim,)
        e.close()
    assert make_task("block_push").control_hz == 10.0 and make_task("block_push").episode_steps == 150
