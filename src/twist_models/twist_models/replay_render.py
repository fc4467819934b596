"""`twist-render-replay`: a teacher snapshot's matching dataset D, rendered again.

    twist-render-replay --teacher checkpoints/teacher_cartpole_balance --out runs/cartpole_D
    twist-distill --teacher RUN --data runs/cartpole_D --data RUN_rollouts --preset cpu --out DIST

The paper distils the student on D: every step the teacher took while it learned, with a
domain-randomised image. A teacher snapshot (twist-teacher-snapshot) keeps D's states, actions
and rewards (replay.npz) but not its images, so a snapshot carried to another machine has lost
the part of D that covers the teacher's early, exploring episodes: rollouts of the trained
teacher (twist-teacher-rollouts) only visit what the final teacher does.

The simulator is deterministic, so D's images come back exactly: episode i of a teacher run was
reset with seed `episode_seed(preset.seed, i)` (train_teacher) in the training split with training
DR; this command resets the same environment with that seed and replays the recorded actions,
rendering each step as training did. Every replayed state is checked against the recorded one
(and every reward): a difference above `--tolerance` stops with the episode and step where the
replay diverged, since the images would then belong to other states. Episodes are written as D
stores them, atomically one at a time (a killed run continues), into a dataset `twist-distill
--data` accepts as this teacher's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .checkpoint import read_run
from .progress import progress_bar
from .rollouts import episodes_to_continue
from .train_teacher import collect_episode, episode_seed

REPLAY_SOURCE = "teacher_replay"


class _ReplayActions:
    """The recorded actions of one episode, in order, as a prefill policy (act(state) -> action)."""

    def __init__(self, actions: np.ndarray):
        self.actions, self.t = actions, 0

    def act(self, state: np.ndarray) -> np.ndarray:
        if self.t >= len(self.actions):
            raise ValueError(f"the replayed episode runs past its {len(self.actions)} recorded actions")
        action = self.actions[self.t]
        self.t += 1
        return action


def render_replay(teacher_dir: Path, out: Path, tolerance: float = 1e-4, progress: bool = True) -> dict:
    """Write every episode of the teacher run's replay (replay.npz, then D) with its images to
    `out`, continuing a partial `out`. Returns counts and the largest state difference seen."""
    from twist_sim.dataset import EpisodeDataset, write_episode
    from twist_sim.preprocess import PreprocessSpec

    from twist_sim import make_env

    from .snapshot import run_episodes

    teacher_dir = Path(teacher_dir).resolve()
    run = read_run(teacher_dir)
    preset = run["preset"]
    episodes = run_episodes(teacher_dir)
    if not episodes:
        raise ValueError(f"{teacher_dir}: no replay.npz and no dataset D: nothing to render")
    source = {"source": REPLAY_SOURCE, "teacher_run": str(teacher_dir),
              "teacher_updates": int(run.get("updates", -1))}  # fmt: skip
    done = episodes_to_continue(out, source)
    image_size = int(preset["model"]["image_size"])
    env = make_env(run["task"], backend=run.get("backend", "mujoco"), split="train", dr_mode="train",
                   image_size=image_size, render_image=True)  # fmt: skip
    bar = progress_bar(total=len(episodes), initial=done, desc="render replay", unit="ep",
                       disable=not progress, dynamic_ncols=True)  # fmt: skip
    worst = 0.0
    try:
        for index in range(done, len(episodes)):
            recorded = episodes[index]
            seed = episode_seed(int(preset["seed"]), index)
            ep = collect_episode(env, None, seed, _ReplayActions(recorded["action"][1:]), lambda: None,
                                 PreprocessSpec(size=image_size))  # fmt: skip
            if len(ep["state"]) != len(recorded["state"]):
                raise ValueError(
                    f"episode {index}: the replay lasted {len(ep['state'])} steps, the recording "
                    f"{len(recorded['state'])}: the simulator is not the one the teacher trained in"
                )
            diff = np.abs(ep["state"] - recorded["state"]).max(axis=-1)
            worst = max(worst, float(diff.max()))
            if diff.max() > tolerance or not np.allclose(ep["reward"], recorded["reward"], atol=tolerance):
                step = int(np.argmax(diff > tolerance)) if diff.max() > tolerance else -1
                raise ValueError(
                    f"episode {index} diverged from the recording (seed {seed}): state difference "
                    f"{diff.max():.3g} > {tolerance:g} first at step {step}, or other rewards; "
                    "the simulator or task changed since the teacher trained, so these images "
                    "would not match D's states"
                )
            ep["state"] = recorded["state"].astype(np.float32)  # D's own targets, bit for bit
            write_episode(out, ep, metadata=source)
            bar.update(1)
    finally:
        bar.close()
        env.close()
    data = EpisodeDataset(out)
    return {"episodes": len(data), "steps": data.num_steps, "max_state_diff": worst}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run or snapshot directory")
    parser.add_argument("--out", required=True, type=Path, help="dataset directory (continued if it exists)")
    parser.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest replayed-vs-recorded state difference"
    )
    args = parser.parse_args(argv)
    print(json.dumps(render_replay(args.teacher, args.out, args.tolerance)))


if __name__ == "__main__":
    main()
