"""Where a block-push policy fails: success by push direction, and how its failures end. JSON.

    twist-eval --teacher checkpoints/teacher_block_push --split heldout --episodes 50 --json E.json
    python benchmarks/push_failure_modes.py --record E.json [--record F.json ...]
    python benchmarks/push_failure_modes.py --scripted --episodes 100     # the scripted expert

Reads twist-eval records (any method: Oracle, TWIST bundle, baseline), pooling their episodes,
or rolls out twist_sim's scripted expert on the same held-out episodes (episode i reset with
seed + i). Prints:
  by_direction   success per 45-degree sector of the direction from the cube's start to the goal,
                 measured from the robot's +x axis (forward) towards +y (the robot's left)
  failures       how many failed episodes had the cube within the success radius at some step
                 and lost it by the end ("reached_then_lost"), and the quartiles of their final
                 cube-goal distances in metres
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from twist_sim.tasks import PUSH_SUCCESS_RADIUS_M, make_task

SECTOR_DEG = 45


def _pool(records: list[dict]) -> dict[str, list]:
    keys = ("successes", "reached", "initial_states", "final_states")
    pooled: dict[str, list] = {k: [] for k in keys}
    for rec in records:
        if rec.get("task") != "block_push":
            raise ValueError(
                f"{rec.get('source')}: a {rec.get('task')!r} record; this analysis is for block_push"
            )
        missing = [k for k in keys if k not in rec]
        if missing:
            raise ValueError(f"{rec.get('source')}: record has no {', '.join(missing)} "
                             "(made before twist-eval kept per-episode states: evaluate it again)")  # fmt: skip
        for k in keys:
            pooled[k] += rec[k]
    return pooled


def failure_modes(successes: list[bool], reached: list[bool], initial: list[list[float]],
                  final: list[list[float]]) -> dict:  # fmt: skip
    """Tabulate episodes of block_push (states in twist_sim.tasks' layout)."""
    layout = make_task("block_push").state_layout
    cube, goal, dist = (slice(*layout[n]) for n in ("cube_pos", "goal_pos", "cube_goal_dist"))
    s0, s1 = np.asarray(initial, dtype=float), np.asarray(final, dtype=float)
    ok, ever = np.asarray(successes, dtype=bool), np.asarray(reached, dtype=bool)
    if not (len(ok) == len(ever) == len(s0) == len(s1)) or len(ok) == 0:
        raise ValueError(
            f"need equally many (> 0) episodes, got {len(ok)}, {len(ever)}, {len(s0)}, {len(s1)}"
        )
    push = s0[:, goal][:, :2] - s0[:, cube][:, :2]
    angle = np.degrees(np.arctan2(push[:, 1], push[:, 0]))
    sectors = []
    for lo in range(-180, 180, SECTOR_DEG):
        inside = (angle >= lo) & (angle < lo + SECTOR_DEG)
        sectors.append({"from_deg": lo, "to_deg": lo + SECTOR_DEG, "episodes": int(inside.sum()),
                        "successes": int(ok[inside].sum())})  # fmt: skip
    fail = ~ok
    final_dist = s1[:, dist][:, 0]
    failures: dict = {"episodes": int(fail.sum()), "reached_then_lost": int((fail & ever).sum())}
    if fail.any():
        q = (25, 50, 75)
        failures["final_distance_m"] = dict(
            zip(("p25", "p50", "p75"), np.percentile(final_dist[fail], q).round(3).tolist(), strict=True)
        )
    return {"episodes": len(ok), "successes": int(ok.sum()), "success_radius_m": PUSH_SUCCESS_RADIUS_M,
            "by_direction": sectors, "failures": failures}  # fmt: skip


def scripted(episodes: int, seed: int, split: str) -> dict:
    from twist_models.evaluate import rollout
    from twist_sim.experts import ScriptedExpert

    from twist_sim import make_env

    env = make_env("block_push", split=split, dr_mode="eval", render_image=False)
    expert = ScriptedExpert(env.task)
    try:
        result = rollout(env, lambda obs: expert.act(obs["state"]), lambda: None, episodes, seed)
    finally:
        env.close()
    return {**result, "task": "block_push", "source": "scripted expert", "split": split}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--record", type=Path, action="append", help="twist-eval --json output (repeatable)")
    source.add_argument("--scripted", action="store_true", help="roll out the scripted expert instead")
    parser.add_argument("--episodes", type=int, default=100, help="with --scripted")
    parser.add_argument(
        "--seed", type=int, default=1_000_000, help="with --scripted: episode i uses seed + i"
    )
    parser.add_argument("--split", default="heldout", choices=["train", "heldout"])
    args = parser.parse_args(argv)
    if args.scripted:
        records = [scripted(args.episodes, args.seed, args.split)]
    else:
        records = [json.loads(p.read_text()) for p in args.record]
    try:
        pooled = _pool(records)
    except ValueError as err:
        sys.exit(f"push_failure_modes: {err}")
    result = failure_modes(
        pooled["successes"], pooled["reached"], pooled["initial_states"], pooled["final_states"]
    )
    result["sources"] = sorted({str(r.get("source")) for r in records})
    result["splits"] = sorted({str(r.get("split")) for r in records})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
