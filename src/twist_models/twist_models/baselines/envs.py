"""One env factory for every task the baselines and evaluation know: the block tasks through
twist_sim.make_env and the Distracting Control tasks through twist_sim.distracting."""

from __future__ import annotations

from twist_sim.distracting import DISTRACTING_TASKS

BLOCK_TASKS = ("block_push", "block_lift")
ALL_TASKS = BLOCK_TASKS + tuple(DISTRACTING_TASKS)


def make_task_env(task: str, split: str, dr_mode: str, image_size: int = 64, render_image: bool = True,
                  backend: str = "mujoco"):  # fmt: skip
    """make_env's contract for any task in ALL_TASKS (make_env dispatches the DMC tasks)."""
    if task not in ALL_TASKS:
        raise ValueError(f"task must be one of {ALL_TASKS}, got {task!r}")
    from twist_sim import make_env

    return make_env(task, backend=backend, split=split, dr_mode=dr_mode, image_size=image_size,
                    render_image=render_image)  # fmt: skip


def has_success(task: str) -> bool:
    """Whether the task has a success criterion (the manipulation tasks do, DMC tasks do not)."""
    return task in BLOCK_TASKS
