"""How much does a teacher's action move when its state is off by a few centimetres? JSON.

    python benchmarks/teacher_state_noise.py --teacher checkpoints/teacher_block_push \
        [--errors 0.01 0.02 0.045] [--episodes 10]

The question behind it (docs/models.md, eighteenth session): the block-push student's actions
are about as far from its teacher's as a zero action, even on the teacher's own states, with a
belief error of about 4.5 cm; the lift student, at 3.6 cm, is much closer. Is the push teacher
simply more sensitive to errors of that size?

The teacher drives on the true state (deterministic actions, held-out split, evaluation-mode
DR). Beside it, a second copy of its filter sees the same states with the end effector's and the
cube's positions shifted by a fixed offset of norm `error` metres per episode, each in its own
random direction (a belief that is off, as a student's is, rather than noisy), and filters the
executed actions. Only the two positions move; entries derived from them (the cube-goal distance,
the grasp flag) keep their true values. With --same-direction both move alike: only where the scene is, not where the
cube is relative to the gripper, is wrong (as a misjudged camera pose would make it). Per error, over all steps:
  action_gap          mean |a(shifted state) - a(true state)|, the student metric's counterpart
  action_gap_of_zero_action
                      mean |a(true state)|, the gap a zero action would have
Both copies act deterministically, so at error 0 the gap is exactly 0.

With --shifted-drives the shifted copy acts instead (the true one only filters), and each error
also gets its success rate and mean return: what a student whose belief is off by that much
would reach if it reproduced its teacher exactly.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from twist_models.checkpoint import load_teacher

POSITIONS = ("ee_pos", "cube_pos")


def state_noise_gaps(run: Path, errors: list[float], episodes: int = 10, split: str = "heldout",
                     seed: int = 1_000_000, shifted_drives: bool = False, same_direction: bool = False
                     ) -> dict:  # fmt: skip
    from twist_sim import make_env

    agent, meta, _ = load_teacher(run)
    layout = meta["state_layout"]
    missing = [n for n in POSITIONS if n not in layout]
    if missing:
        raise ValueError(f"{run}: task {meta['task']} has no {missing} in its state (a manipulation task?)")
    env = make_env(meta["task"], split=split, dr_mode="eval", render_image=False)
    rng = np.random.default_rng(seed)
    result = {"teacher": str(run), "task": meta["task"], "episodes": episodes, "split": split,
              "driver": "shifted" if shifted_drives else "true", "same_direction": same_direction,
              "errors": {}}  # fmt: skip
    try:
        for error in errors:
            gaps, zero, successes, returns = [], [], [], []
            for i in range(episodes):
                obs, _ = env.reset(seed=seed + i)
                offset = np.zeros_like(np.asarray(obs["state"], dtype=np.float32))
                direction = rng.normal(size=3)
                for name in POSITIONS:
                    direction = direction if same_direction else rng.normal(size=3)
                    lo, hi = layout[name]
                    offset[lo:hi] = error * direction / np.linalg.norm(direction)
                true_carry = shifted_carry = None
                done, total = False, 0.0
                while not done:
                    state = torch.as_tensor(obs["state"], dtype=torch.float32)[None]
                    with torch.no_grad():
                        action, (post, _) = agent.act(state, true_carry, explore=False)
                        shifted, (shifted_post, _) = agent.act(state + torch.as_tensor(offset)[None], shifted_carry,
                                                               explore=False)  # fmt: skip
                    gaps.append(float((shifted - action).abs().mean()))
                    zero.append(float(action.abs().mean()))
                    executed = shifted if shifted_drives else action
                    true_carry, shifted_carry = (post, executed), (shifted_post, executed)  # both filter it
                    obs, reward, terminated, truncated, info = env.step(executed[0].numpy())
                    total += float(reward)
                    done = terminated or truncated
                successes.append(bool(info["success"]))
                returns.append(total)
            row = {"action_gap": float(np.mean(gaps)), "action_gap_of_zero_action": float(np.mean(zero)),
                   "steps": len(gaps), "success_rate": float(np.mean(successes)),
                   "mean_return": float(np.mean(returns))}  # fmt: skip
            result["errors"][str(error)] = row
            print(f"[state-noise] {meta['task']} error {error} m ({result['driver']} state drives): gap "
                  f"{row['action_gap']:.3f} (zero action {row['action_gap_of_zero_action']:.3f}), success "
                  f"{sum(successes)}/{episodes}, return {row['mean_return']:.1f}", flush=True)  # fmt: skip
    finally:
        env.close()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True, help="teacher run or snapshot directory")
    parser.add_argument("--errors", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.036, 0.045],
                        help="offsets of the end-effector and cube positions, metres")  # fmt: skip
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--split", default="heldout")
    parser.add_argument("--shifted-drives", action="store_true", help="the copy on the shifted state acts")
    parser.add_argument("--same-direction", action="store_true",
                        help="shift the end effector and the cube alike (their relative position stays exact)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.episodes < 1 or any(e < 0 for e in args.errors):
        parser.error("--episodes must be >= 1 and every --errors value >= 0")
    result = state_noise_gaps(
        args.teacher,
        args.errors,
        args.episodes,
        args.split,
        shifted_drives=args.shifted_drives,
        same_direction=args.same_direction,
    )
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
