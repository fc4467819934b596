"""Several environments in worker processes: gymnasium's AsyncVectorEnv over make_env.

Autoreset is disabled: the callers (collection, benchmarks) reset all workers together with
one seed per episode, so an episode's content depends only on its seed, not on which worker
ran it or how many workers there were.
"""

from __future__ import annotations

import functools

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from twist_sim import make_env


def make_vector_env(task: str, num_envs: int, processes: bool = True, **env_kwargs) -> gym.vector.VectorEnv:
    """num_envs copies of make_env(task, **env_kwargs); in one worker process each when
    `processes`, else stepped in this process. Observations are batched dicts:
    state float32 (num_envs, S), image uint8 (num_envs, H, W, 3)."""
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    fns = [functools.partial(make_env, task, **env_kwargs) for _ in range(num_envs)]
    if processes:
        # spawn: a forked child would inherit the parent's GL/EGL state, which is not fork-safe.
        return AsyncVectorEnv(fns, context="spawn", autoreset_mode=AutoresetMode.DISABLED)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.DISABLED)
