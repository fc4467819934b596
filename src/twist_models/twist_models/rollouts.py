"""`twist-teacher-rollouts`: more matching data from a trained teacher, for the student.

    twist-teacher-rollouts --teacher RUN --episodes 700 --out RUN_rollouts
    twist-distill --teacher RUN --data RUN_rollouts --preset cpu --out DIST

The matching dataset D of a teacher run holds what the teacher met while it learned. On this
CPU that is tens of thousands of steps, and a student distilled on it for thousands of updates
memorises its images: on episodes of D it follows the teacher (action gap 0.23, h error 0.011),
on new episodes of the same split it does not (0.73, 0.27; docs/models.md). This command rolls
out the frozen teacher as it acted in training (exploring: sampled latent and action) in the
training split with training DR, and stores each step exactly as D does (state, image as the
model sees it, action, reward), in a dataset of its own that `twist-distill --data` adds to D.
Still a teacher's own interaction data, rendered with DR; only more of it.

Episode i uses an environment and sampling seed derived from (--seed, i) alone, so a killed run
continues with the episodes it had not written, and the same command gives the same data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_teacher
from .config import resolve_device
from .progress import progress_bar
from .train_teacher import collect_episode


def rollout_seed(seed: int, index: int) -> int:
    """Seed of rollout episode `index` (distinct from training and evaluation seeds)."""
    return int(np.random.SeedSequence([seed, 0x7E57, index]).generate_state(1)[0])


def episodes_to_continue(out: Path, source: dict) -> int:
    """Episodes already in the dataset `out` (0 if none), refusing one whose episodes carry other
    `source` metadata (another teacher run, checkpoint or seed)."""
    from twist_sim.dataset import EpisodeDataset

    if not (Path(out) / "manifest.json").is_file():
        return 0
    existing = EpisodeDataset(out)
    first = existing.entries[0] if existing.entries else {}
    mismatch = {k: (first.get(k), v) for k, v in source.items() if first.get(k) != v}
    if mismatch:
        raise ValueError(
            f"{out} holds episodes of another teacher or seed (run, checkpoint or seed differ: {mismatch}); "
            "use a new --out"
        )
    return len(existing)


def teacher_rollouts(
    teacher_dir: Path, episodes: int, out: Path, seed: int = 0, progress: bool = True
) -> dict:
    """Append teacher episodes to the dataset `out` until it holds `episodes`. Returns counts."""
    from twist_sim.dataset import EpisodeDataset, write_episode
    from twist_sim.preprocess import PreprocessSpec

    from twist_sim import make_env

    if episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {episodes}")
    teacher_dir = Path(teacher_dir).resolve()
    device = resolve_device("cpu")
    teacher, meta, preset = load_teacher(teacher_dir, device)
    # meta is the teacher's run.yaml, as load_teacher read it.
    source = {"source": "teacher_rollouts", "teacher_run": str(teacher_dir), "seed": seed,
              "teacher_updates": int(meta.get("updates", -1))}  # fmt: skip
    done = episodes_to_continue(out, source)
    torch.set_num_threads(preset.threads)
    env = make_env(meta["task"], backend=meta.get("backend", "mujoco"), split="train", dr_mode="train",
                   image_size=preset.model.image_size, render_image=True)  # fmt: skip
    bar = progress_bar(total=episodes, initial=min(done, episodes), desc="teacher rollouts", unit="ep",
                       disable=not progress, dynamic_ncols=True)  # fmt: skip
    successes = 0
    try:
        for index in range(done, episodes):
            episode_seed = rollout_seed(seed, index)
            teacher.generator.manual_seed(episode_seed)
            ep = collect_episode(env, teacher, episode_seed, None, lambda: None,
                                 PreprocessSpec(size=preset.model.image_size))  # fmt: skip
            write_episode(out, ep, metadata=source)
            successes += bool(ep["success"][-1])
            bar.update(1)
            bar.set_postfix(success=f"{successes}/{index - done + 1}")
    finally:
        bar.close()
        env.close()
    data = EpisodeDataset(out)
    return {"episodes": len(data), "steps": data.num_steps, "new_successes": successes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run directory")
    parser.add_argument("--episodes", required=True, type=int, help="episodes the dataset should hold")
    parser.add_argument(
        "--out", required=True, type=Path, help="rollout dataset directory (continued if it exists)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(teacher_rollouts(args.teacher, args.episodes, args.out, args.seed)))


if __name__ == "__main__":
    main()
