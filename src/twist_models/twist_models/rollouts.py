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

    twist-teacher-rollouts --teacher RUN --driver BUNDLE --episodes 300 --out RUN_dagger1

With `--driver`, a student bundle of this teacher acts instead, on the images (DAgger, Ross et
al. 2011; an addition to the paper's method): the student is trained on D and the teacher's
rollouts, the states its teacher visits, and once it drives it meets states of its own, where
small errors compound. On block lift its belief of the cube then follows the gripper away from
the cube (docs/results.md). Nothing else changes: twist-distill computes the teacher's
posteriors on these states and the executed actions as on any matching dataset, so the student
learns what the teacher believes where the student goes. `--beta B` lets the exploring teacher
act instead at each step with probability B (the teacher and the student both filter the
executed action).
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


def driver_seed(seed: int, index: int) -> int:
    """Seed of --driver episode `index` (distinct from the teacher's rollouts with the same --seed)."""
    return int(np.random.SeedSequence([seed, 0xDA66E2, index]).generate_state(1)[0])


class MixedDriver:
    """Acts in a --driver episode: the student on the image, or with probability `beta` the
    exploring teacher on the state; both filter the action executed."""

    def __init__(self, student, teacher, beta: float) -> None:
        self.student, self.teacher, self.beta = student, teacher, beta
        self.reset(0)

    def reset(self, seed: int) -> None:  # the caller seeds the teacher's generator per episode
        self.student.reset()
        self.rng = np.random.default_rng(seed)
        self.carry = None

    def __call__(self, obs: dict) -> np.ndarray:
        action = self.student.step(obs["image"])
        if self.beta > 0:
            state = torch.as_tensor(obs["state"], device=self.teacher.device)[None]
            teacher_action, (post, _) = self.teacher.act(state, self.carry, explore=True)
            if self.rng.random() < self.beta:
                action = teacher_action[0].cpu().numpy().astype(np.float32)
                self.student.executed(action)
            self.carry = (post, torch.as_tensor(action, device=self.teacher.device)[None])
        return action


def teacher_rollouts(
    teacher_dir: Path,
    episodes: int,
    out: Path,
    seed: int = 0,
    progress: bool = True,
    driver: Path | None = None,
    beta: float = 0.0,
) -> dict:
    """Append teacher episodes to the dataset `out` until it holds `episodes`. Returns counts.

    driver: a policy bundle of a student of this teacher that acts instead (DAgger, above);
    beta: then the probability that the teacher acts at a step."""
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
    mixed = None
    if driver is not None:
        from .policy import StudentPolicy

        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"--beta must be in [0, 1], got {beta}")
        student = StudentPolicy.load(driver, device="cpu", task=meta["task"],
                                     image_size=preset.model.image_size)  # fmt: skip
        mixed = MixedDriver(student, teacher, beta)
        source.update(source="student_rollouts", driver=str(Path(driver).resolve()), beta=float(beta))
    elif beta != 0.0:
        raise ValueError("--beta mixes the teacher into a --driver's episodes: give --driver")
    done = episodes_to_continue(out, source)
    torch.set_num_threads(preset.threads)
    env = make_env(meta["task"], backend=meta.get("backend", "mujoco"), split="train", dr_mode="train",
                   image_size=preset.model.image_size, render_image=True)  # fmt: skip
    desc = "teacher rollouts" if mixed is None else f"student rollouts (beta {beta:g})"
    bar = progress_bar(total=episodes, initial=min(done, episodes), desc=desc, unit="ep",
                       disable=not progress, dynamic_ncols=True)  # fmt: skip
    successes = 0
    try:
        for index in range(done, episodes):
            episode_seed = rollout_seed(seed, index) if mixed is None else driver_seed(seed, index)
            teacher.generator.manual_seed(episode_seed)
            if mixed is not None:
                mixed.reset(episode_seed)
            ep = collect_episode(env, teacher, episode_seed, None, lambda: None,
                                 PreprocessSpec(size=preset.model.image_size), driver=mixed)  # fmt: skip
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
    parser.add_argument("--driver", type=Path, default=None,
                        help="a student bundle of this teacher that acts instead, on the images (DAgger)")  # fmt: skip
    parser.add_argument("--beta", type=float, default=0.0,
                        help="with --driver: probability that the teacher acts at a step")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        result = teacher_rollouts(
            args.teacher, args.episodes, args.out, args.seed, driver=args.driver, beta=args.beta
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
