"""The tasks are solvable through the controller; a random policy almost never solves them.

State only (render_image=False) keeps 50 episodes per task cheap; DR stays in train mode so the
cube friction is randomised per episode as in collection.
"""

import numpy as np
import pytest
from twist_sim.collect import episode_seed
from twist_sim.experts import RandomPolicy, ScriptedExpert
from twist_sim.tasks import TASK_NAMES

from twist_sim import make_env


def success_rate(task: str, policy_name: str, episodes: int) -> float:
    env = make_env(task, dr_mode="train", render_image=False)
    spec = env.unwrapped.task
    wins = []
    for i in range(episodes):
        rng = np.random.default_rng([i, 1])
        policy = ScriptedExpert(spec) if policy_name == "scripted" else RandomPolicy(spec, rng)
        obs, info = env.reset(seed=episode_seed(0, i))
        for _ in range(spec.episode_steps):
            obs, _, _, _, info = env.step(policy.act(obs["state"]))
        wins.append(info["success"])
    env.close()
    return float(np.mean(wins))


@pytest.mark.parametrize("task", TASK_NAMES)
def test_scripted_expert_succeeds_in_90_percent_of_50_episodes(task):
    assert success_rate(task, "scripted", 50) >= 0.9


@pytest.mark.parametrize("task", TASK_NAMES)
def test_random_policy_almost_never_succeeds(task):
    assert success_rate(task, "random", 20) <= 0.1


def test_success_is_the_papers_criterion():
    env = make_env("block_push", render_image=False).unwrapped
    env.reset(seed=0)
    spec = env.task
    s = env.task_state()
    s.cube_pos = env.goal_position() + np.array([0.049, 0.0, 0.0])
    assert spec.success(s)
    s.cube_pos = env.goal_position() + np.array([0.051, 0.0, 0.0])
    assert not spec.success(s)
    lift = make_env("block_lift", render_image=False).unwrapped
    lift.reset(seed=0)
    s = lift.task_state()
    s.cube_pos = s.cube_pos + np.array([0.0, 0.0, 0.101])
    assert lift.task.success(s)
    s.cube_pos = s.cube_pos - np.array([0.0, 0.0, 0.002])
    assert not lift.task.success(s)
