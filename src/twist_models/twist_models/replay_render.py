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

Deterministic is per machine, not across them: MuJoCo picks its SIMD code at run time, and a
contact-rich push can amplify the last bit of a different rounding into centimetres within an
episode (twenty-eighth session: the seed-1 push teacher's D replayed exactly on one development
machine, and on an AVX-512 one diverged at step 114 of episode 347). With `--diverged truncate`
such an episode is kept up to the last step that still matches the recording (is_last there, not
terminal: an episode cut short, as a time limit cuts it), so every image still belongs to its
state; the summary lists each truncated episode and its step. The default, `stop`, refuses.
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


DIVERGED = ("stop", "truncate")


def _truncate(ep: dict, steps: int) -> dict:
    """The first `steps` steps of a collected episode, ending there as a cut-short episode does."""
    cut = {k: np.asarray(v)[:steps].copy() for k, v in ep.items()}
    cut["is_last"][-1] = True
    if "is_terminal" in cut:
        cut["is_terminal"][-1] = False
    return cut


def render_replay(teacher_dir: Path, out: Path, tolerance: float = 1e-4, progress: bool = True,
                  diverged: str = "stop") -> dict:  # fmt: skip
    """Write every episode of the teacher run's replay (replay.npz, then D) with its images to
    `out`, continuing a partial `out`. Returns counts, the largest state difference among the steps
    written, and the episodes cut short at their divergence (`diverged="truncate"`)."""
    if diverged not in DIVERGED:
        raise ValueError(f"diverged must be one of {DIVERGED}, got {diverged!r}")
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
    worst, truncated = 0.0, []
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
            bad = (diff > tolerance) | ~np.isclose(ep["reward"], recorded["reward"], atol=tolerance)
            if bad.any() and diverged == "truncate" and np.argmax(bad) >= 2:
                step = int(np.argmax(bad))
                truncated.append({"episode": index, "seed": seed, "step": step, "of": len(diff)})
                ep, diff, bad = _truncate(ep, step), diff[:step], bad[:step]
            worst = max(worst, float(diff.max()))
            if bad.any():
                step = int(np.argmax(bad))
                raise ValueError(
                    f"episode {index} diverged from the recording (seed {seed}): state difference "
                    f"{diff.max():.3g} > {tolerance:g} first at step {step}, or other rewards; "
                    "the simulator or task changed since the teacher trained (or this CPU rounds "
                    "differently: --diverged truncate keeps each episode up to its divergence), so "
                    "these images would not match D's states"
                )
            ep["state"] = recorded["state"][: len(diff)].astype(np.float32)  # D's own targets, bit for bit
            write_episode(out, ep, metadata=source)
            bar.update(1)
    finally:
        bar.close()
        env.close()
    data = EpisodeDataset(out)
    return {"episodes": len(data), "steps": data.num_steps, "max_state_diff": worst,
            "truncated": truncated}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run or snapshot directory")
    parser.add_argument("--out", required=True, type=Path, help="dataset directory (continued if it exists)")
    parser.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest replayed-vs-recorded state difference"
    )
    parser.add_argument(
        "--diverged",
        choices=DIVERGED,
        default="stop",
        help="an episode whose replay leaves the recording: stop (default), or truncate it at the "
        "last matching step (another CPU's rounding; see the module docstring)",
    )
    args = parser.parse_args(argv)
    print(json.dumps(render_replay(args.teacher, args.out, args.tolerance, diverged=args.diverged)))


if __name__ == "__main__":
    main()
