"""twist_sim: the TWIST block tasks, domain randomisation, simulator backends and the matching dataset.

from twist_sim import make_env
env = make_env("block_push", backend="mujoco", split="train", dr_mode="train", image_size=64)
"""

from __future__ import annotations

import os

# Headless rendering must be chosen before mujoco is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
# Mesa's software rasteriser: a 64x64 frame is too small to gain from its worker threads (they
# cost more than they save); parallelism comes from one simulator worker per core instead.
os.environ.setdefault("LP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

from twist_sim.tasks import ACTION_SCALE_M, EPISODE_STEPS, TASK_NAMES, make_task  # noqa: E402

BACKENDS = ("mujoco", "isaaclab")
GYM_IDS = {"block_push": "TwistBlockPush-v0", "block_lift": "TwistBlockLift-v0"}


def make_env(
    task: str,
    backend: str = "mujoco",
    split: str = "train",
    dr_mode: str = "train",
    image_size: int = 64,
    render_image: bool = True,
    **kwargs,
) -> gym.Env:
    """One environment of `task` on `backend`: a block task, or a Distracting Control task
    (twist_sim.distracting, MuJoCo only). Extra kwargs go to the backend's config
    (MuJoCo: control_hz, physics_dt, dr_config, ik_damping; see mujoco_env.EnvConfig)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    opts = dict(split=split, dr_mode=dr_mode, image_size=image_size, render_image=render_image, **kwargs)
    if task not in TASK_NAMES:
        # Imported only here: the DMC tasks pull in dm_control, which the block tasks never need.
        from twist_sim.distracting import DISTRACTING_TASKS, make_distracting_env

        if task not in DISTRACTING_TASKS:
            valid = ", ".join((*TASK_NAMES, *DISTRACTING_TASKS))
            raise ValueError(f"unknown task {task!r}; valid tasks: {valid}")
        return make_distracting_env(task, backend=backend, **opts)
    if backend == "isaaclab":
        from twist_sim.isaaclab_backend import make_isaaclab_env

        return make_isaaclab_env(task, **opts)
    from twist_sim.mujoco_env import TwistMujocoEnv

    return TwistMujocoEnv(task=task, **opts)


for _task, _id in GYM_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point="twist_sim.mujoco_env:TwistMujocoEnv", kwargs={"task": _task})

__all__ = ["ACTION_SCALE_M", "BACKENDS", "EPISODE_STEPS", "GYM_IDS", "TASK_NAMES", "make_env", "make_task"]
