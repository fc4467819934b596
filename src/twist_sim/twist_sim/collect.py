"""`twist-collect`: roll out a policy in worker processes and write the matching dataset.

    twist-collect --task block_push --policy scripted --episodes 20 --out runs/data/push --workers 2

Episode i uses the environment seed and policy Generator derived from (--seed, i) alone, so
the same command writes the same dataset whatever --workers is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from twist_sim.dataset import write_episode
from twist_sim.experts import RandomPolicy, ScriptedExpert
from twist_sim.randomization import config_dir
from twist_sim.tasks import TASK_NAMES, make_task
from twist_sim.vector import make_vector_env

POLICIES = ("random", "scripted")


def episode_seed(seed: int, index: int) -> int:
    """Environment seed of episode `index` of a run seeded `seed`."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def make_policy(name: str, task, seed: int, index: int, noise_std: float = 0.0):
    """The policy of one episode, with its own Generator."""
    rng = np.random.default_rng([seed, index, 1])
    if name == "random":
        return RandomPolicy(task, rng)
    if name == "scripted":
        return ScriptedExpert(task, rng, noise_std)
    raise ValueError(f"unknown policy {name!r}; valid policies: {', '.join(POLICIES)}")


def task_env_kwargs(task: str) -> dict:
    """control_hz and physics_dt from config/tasks/<task>.yaml (empty if there is none)."""
    path = config_dir() / "tasks" / f"{task}.yaml"
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text())
    return {k: raw[k] for k in ("control_hz", "physics_dt") if k in raw}


def collect(
    task: str,
    policy: str,
    episodes: int,
    out: Path,
    workers: int = 1,
    seed: int = 0,
    split: str = "train",
    dr_mode: str = "train",
    image_size: int = 64,
    noise_std: float = 0.0,
    render_image: bool = True,
    progress: bool = True,
) -> list[bool]:
    """Write `episodes` episodes to `out`; returns each episode's final success."""
    if task not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_NAMES)}")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; valid policies: {', '.join(POLICIES)}")
    if episodes < 1 or workers < 1:
        raise ValueError(f"episodes and workers must be >= 1, got episodes={episodes!r} workers={workers!r}")
    kwargs = task_env_kwargs(task)
    spec = make_task(task, kwargs.get("control_hz", 10.0))
    n = min(workers, episodes)
    envs = make_vector_env(
        task,
        n,
        processes=n > 1,
        split=split,
        dr_mode=dr_mode,
        image_size=image_size,
        render_image=render_image,
        **kwargs,
    )
    successes: list[bool] = []
    bar = tqdm(total=episodes, desc=f"collect {task}/{policy}", unit="ep", disable=not progress)
    try:
        for first in range(0, episodes, n):
            # The last round may run fewer episodes than workers; extra workers' episodes are dropped.
            index = [min(first + j, episodes - 1) for j in range(n)]
            obs, info = envs.reset(seed=[episode_seed(seed, i) for i in index])
            policies = [make_policy(policy, spec, seed, i, noise_std) for i in index]
            steps = {"state": [obs["state"]], "image": [obs["image"]], "success": [info["success"]]}
            steps["action"], steps["reward"] = (
                [np.zeros((n, spec.action_dim), np.float32)],
                [np.zeros(n, np.float32)],
            )
            for _ in range(spec.episode_steps):
                action = np.stack([p.act(s) for p, s in zip(policies, obs["state"], strict=True)])
                obs, reward, _, _, info = envs.step(action)
                for key, value in (
                    ("state", obs["state"]),
                    ("image", obs["image"]),
                    ("success", info["success"]),
                ):
                    steps[key].append(value)
                steps["action"].append(action.astype(np.float32))
                steps["reward"].append(np.asarray(reward, np.float32))
            arrays = {k: np.stack(v, axis=1) for k, v in steps.items()}  # (n, T+1, ...)
            for j in range(min(n, episodes - first)):
                length = arrays["state"].shape[1]
                episode = {k: arrays[k][j] for k in arrays}
                episode["is_first"] = np.arange(length) == 0
                episode["is_last"] = np.arange(length) == length - 1
                episode["is_terminal"] = np.zeros(length, bool)
                meta = {
                    "task": task,
                    "policy": policy,
                    "split": split,
                    "dr_mode": dr_mode,
                    "seed": episode_seed(seed, index[j]),
                }
                write_episode(out, episode, metadata={**meta, "success": bool(episode["success"][-1])})
                successes.append(bool(episode["success"][-1]))
                bar.update(1)
            bar.set_postfix(success=f"{np.mean(successes):.2f}")
    finally:
        bar.close()
        envs.close()
    return successes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Collect TWIST matching-dataset episodes.")
    parser.add_argument("--task", choices=TASK_NAMES, default="block_push")
    parser.add_argument("--policy", choices=POLICIES, default="scripted")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (appended to)")
    parser.add_argument("--workers", type=int, default=1, help="simulator worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("train", "heldout"), default="train")
    parser.add_argument("--dr-mode", choices=("train", "eval", "off"), default="train")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--noise-std", type=float, default=0.0, help="Gaussian noise on scripted actions")
    args = parser.parse_args(argv)
    successes = collect(
        args.task,
        args.policy,
        args.episodes,
        args.out,
        workers=args.workers,
        seed=args.seed,
        split=args.split,
        dr_mode=args.dr_mode,
        image_size=args.image_size,
        noise_std=args.noise_std,
    )
    print(f"wrote {len(successes)} episodes to {args.out}; success rate {np.mean(successes):.2f}")


if __name__ == "__main__":
    main()
