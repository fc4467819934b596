"""Distracting Control tasks (TWIST Table I): DMC domains with procedural appearance distractions.

``make_distracting_env`` has make_env's signature, so twist_sim.make_env can dispatch any task
in ``DISTRACTING_TASKS`` to it; ``register_envs`` adds gymnasium ids such as
``TwistDistractingCupCatch-v0``.
"""

from __future__ import annotations

import gymnasium as gym

from twist_sim.distracting.env import (
    DISTRACTING_TASKS,
    DistractingControlEnv,
    DistractingTaskSpec,
    DistractionConfig,
)


def make_distracting_env(
    task: str,
    backend: str = "mujoco",
    split: str = "train",
    dr_mode: str = "train",
    image_size: int = 64,
    render_image: bool = True,
    **kwargs,
) -> DistractingControlEnv:
    """Create a Distracting Control env with make_env's arguments (backend must be "mujoco")."""
    if backend != "mujoco":
        raise ValueError(f"Distracting Control tasks run on backend 'mujoco' only, got {backend!r}")
    return DistractingControlEnv(
        task, split=split, dr_mode=dr_mode, image_size=image_size, render_image=render_image, **kwargs
    )


def gym_id(task: str) -> str:
    """'cup_catch' -> 'TwistDistractingCupCatch-v0'."""
    return "TwistDistracting" + "".join(part.capitalize() for part in task.split("_")) + "-v0"


def register_envs() -> None:
    """Register every task with gymnasium (idempotent)."""
    for task in DISTRACTING_TASKS:
        if gym_id(task) not in gym.registry:
            gym.register(gym_id(task), entry_point=DistractingControlEnv, kwargs={"task": task})


__all__ = [
    "DISTRACTING_TASKS",
    "DistractingControlEnv",
    "DistractingTaskSpec",
    "DistractionConfig",
    "gym_id",
    "make_distracting_env",
    "register_envs",
]
