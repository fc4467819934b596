"""How well does a teacher act on a real student's belief instead of the true state? JSON.

    python benchmarks/belief_driven_teacher.py --bundle BUNDLE --teacher RUN [RUN ...] \
        [--believed positions|all] [--episodes 20] [--seeds 1000000 ...] [--json OUT]

The question behind it (docs/models.md, twenty-ninth session): the push teacher needs the cube to
about a centimetre, the students' beliefs are 5-6 cm off, and a teacher can be trained to tolerate
an offset on the positions it sees (teacher.belief_offset). Would such a teacher do better on a
student's belief, whose errors are not a fixed offset in a random direction?

BUNDLE's student filters the images (held-out split, evaluation-mode DR) and the executed actions;
its teacher's state decoder reads the belief from the student's latent, as in twist-eval. Each
TEACHER (a run or snapshot on the same task; it need not be the bundle's own teacher) acts on a
state built from that belief, deterministically, with its own filter:
  positions  the true state with the end effector's and the cube's positions replaced by the
             believed ones (what teacher.belief_offset moves while a teacher learns);
  all        the whole believed state.
The bundle's own actor is not used. Per teacher and seed: success, mean return, and the belief's
mean position error and the cube's error relative to the end effector (cm), as twist-eval reports
them. Episode i of seed s is reset with seed s + i, so every teacher meets the same episodes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from twist_models.checkpoint import load_teacher
from twist_models.evaluate import rollout
from twist_models.policy import StudentPolicy

POSITIONS = ("ee_pos", "cube_pos")


def believed_state(
    state: np.ndarray, belief: dict[str, np.ndarray], layout: dict, believed: str
) -> np.ndarray:
    """The state a teacher acts on: `state` with the positions (or, with "all", every entry) replaced
    by the belief's."""
    out = np.asarray(state, dtype=np.float32).copy()
    for name in POSITIONS if believed == "positions" else layout:
        lo, hi = layout[name]
        out[lo:hi] = belief[name]
    return out


def belief_driven(bundle: Path, teacher_run: Path, believed: str = "positions", episodes: int = 20,
                  seed: int = 1_000_000, split: str = "heldout") -> dict:  # fmt: skip
    from twist_sim import make_env

    if believed not in ("positions", "all"):
        raise ValueError(f"believed must be 'positions' or 'all', got {believed!r}")
    policy = StudentPolicy.load(bundle)
    teacher, meta, _ = load_teacher(teacher_run)
    layout = policy.spec.state_layout
    if meta["task"] != policy.spec.task or {k: list(v) for k, v in layout.items()} != meta["state_layout"]:
        raise ValueError(
            f"{teacher_run} is a {meta['task']} teacher; {bundle} holds a {policy.spec.task} student"
        )
    missing = [n for n in POSITIONS if n not in layout]
    if missing:
        raise ValueError(
            f"{bundle}: task {policy.spec.task} has no {missing} in its state (a manipulation task?)"
        )
    env = make_env(policy.spec.task, split=split, dr_mode="eval", image_size=policy.spec.image_size,
                   render_image=True)  # fmt: skip
    carry: list = [None]
    errors, relative = [], []

    def reset() -> None:
        policy.reset()
        carry[0] = None

    def act(obs: dict) -> np.ndarray:
        policy.step(obs["image"])  # the student filters the image; its own action is not used
        belief = policy.belief()
        err = [belief[n] - obs["state"][layout[n][0] : layout[n][1]] for n in POSITIONS]
        errors.append(float(np.mean([np.linalg.norm(e) for e in err])))
        relative.append(float(np.linalg.norm(err[1] - err[0])))
        state = torch.as_tensor(believed_state(obs["state"], belief, layout, believed))[None]
        with torch.no_grad():
            action, carry[0] = teacher.act(state, carry[0], explore=False)
        action = action[0].cpu().numpy().astype(np.float32)
        policy.executed(action)
        return action

    try:
        result = rollout(env, act, reset, episodes, seed)
    finally:
        env.close()
    return {"bundle": str(bundle), "teacher": str(teacher_run), "believed": believed, "split": split,
            "seed": seed, "episodes": episodes, "successes": int(sum(result["successes"])),
            "success_rate": result["success_rate"], "mean_return": result["mean_return"],
            "belief_error_cm": 100.0 * float(np.mean(errors)),
            "belief_error_relative_cm": 100.0 * float(np.mean(relative))}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle", type=Path, required=True, help="policy bundle whose student gives the belief"
    )
    parser.add_argument("--teacher", type=Path, nargs="+", required=True, help="teacher runs or snapshots")
    parser.add_argument("--believed", default="positions", choices=("positions", "all"))
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1_000_000, 2_000_000, 3_000_000])
    parser.add_argument("--split", default="heldout")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    torch.set_num_threads(1)
    rows = []
    for teacher in args.teacher:
        for seed in args.seeds:
            row = belief_driven(args.bundle, teacher, args.believed, args.episodes, seed, args.split)
            rows.append(row)
            print(f"[belief-driven] {teacher} seed {seed} ({args.believed} believed): {row['successes']}/"
                  f"{args.episodes}, return {row['mean_return']:.1f}, belief {row['belief_error_cm']:.1f} cm, "
                  f"relative {row['belief_error_relative_cm']:.1f} cm", flush=True)  # fmt: skip
    summary = {}
    for teacher in args.teacher:
        mine = [r for r in rows if r["teacher"] == str(teacher)]
        summary[str(teacher)] = {"successes": sum(r["successes"] for r in mine),
                                 "episodes": sum(r["episodes"] for r in mine),
                                 "mean_return": float(np.mean([r["mean_return"] for r in mine]))}  # fmt: skip
    text = json.dumps({"rows": rows, "summary": summary}, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
