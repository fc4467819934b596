"""Evaluation: success rate and return of a policy bundle on images, or of a teacher on state.

    twist-eval --bundle BUNDLE --split heldout --episodes N [--json OUT.json]   (TWIST student)
    twist-eval --teacher RUN --split heldout --episodes N [--json OUT.json]    (Oracle, on state)
    twist-eval --baseline RUN --split heldout --episodes N [--json OUT.json]   (twist-train-baseline)

Evaluation-mode DR (appearance and friction sampled once at episode start). Episode i is
reset with seed `seed + i`, so every method meets the same episodes. Success is the task's
criterion at the episode's last step, as the paper scores it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import atomic_write_bytes

EVAL_SEED = 1_000_000


def rollout(env, act: Callable[[dict], np.ndarray], reset: Callable[[], None], episodes: int,
            seed: int = EVAL_SEED, progress: bool = False) -> dict:  # fmt: skip
    """Run `episodes` episodes of a gymnasium env; `act(obs) -> action`, `reset()` per episode.

    Returns {"success_rate", "mean_return", "returns": [..], "successes": [..], "reached": [..],
    "initial_states": [[..], ..], "final_states": [[..], ..]}: per episode, success at the last
    step (the paper's criterion), success at any step, and the privileged state at the first and
    the last step (what a failure analysis needs: benchmarks/push_failure_modes.py).
    """
    returns, successes, reached, initial, final = [], [], [], [], []
    for i in tqdm(range(episodes), desc="eval", disable=not progress, leave=False):
        obs, info = env.reset(seed=seed + i)
        reset()
        initial.append(np.asarray(obs["state"], dtype=float).tolist())
        total, done, ever = 0.0, False, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            ever = ever or bool(info["success"])
            done = terminated or truncated
        returns.append(total)
        successes.append(bool(info["success"]))
        reached.append(ever)
        final.append(np.asarray(obs["state"], dtype=float).tolist())
    return {"success_rate": float(np.mean(successes)), "mean_return": float(np.mean(returns)),
            "returns": returns, "successes": successes, "reached": reached,
            "initial_states": initial, "final_states": final}  # fmt: skip


def evaluate_teacher(agent, task: str, episodes: int, split: str = "heldout", backend: str = "mujoco",
                     seed: int = EVAL_SEED, progress: bool = False) -> dict:  # fmt: skip
    """The teacher (Oracle) on privileged state, deterministic actions."""
    from twist_sim import make_env

    env = make_env(task, backend=backend, split=split, dr_mode="eval", render_image=False)
    carry: list = [None]

    def reset() -> None:
        carry[0] = None

    def act(obs: dict) -> np.ndarray:
        state = torch.as_tensor(obs["state"], device=agent.device)[None]
        action, carry[0] = agent.act(state, carry[0], explore=False)
        return action[0].cpu().numpy()

    try:
        return rollout(env, act, reset, episodes, seed, progress)
    finally:
        env.close()


def evaluate_bundle(bundle: Path, episodes: int, split: str = "heldout", backend: str = "mujoco",
                    seed: int = EVAL_SEED, device: str = "cpu", progress: bool = False,
                    teacher=None, teacher_drives: bool = False) -> dict:  # fmt: skip
    """A policy bundle (TWIST student + teacher actor) on evaluation-mode DR images.

    With `teacher` (a state Dreamer), also measures how well the student reproduces it on the
    same states: mean |a_student - a_teacher| (the teacher filtering the privileged state and the
    executed actions alongside), beside the gap a zero action would have (its scale), and the error
    of the belief (teacher decoder on the student latent): in metres
    over the end effector and cube positions for the manipulation tasks ("belief_error_m"), and
    as the Euclidean error of the whole state for tasks without positions ("belief_error",
    e.g. Distracting Control proprioception); for the block tasks also the error of the cube's
    position relative to the end effector ("belief_error_relative_m", what the teachers turn on:
    benchmarks/teacher_state_noise.py). Both also per 10 steps of the episode
    ("..._by_step": the mean over episodes of steps 0-9, 10-19, ...): how the gap grows along an
    episode where errors compound.

    teacher_drives: the teacher acts (on state, deterministically) and the student only filters
    the executed actions on the images: the same two figures on the teacher's states, where the
    student was trained (success and return are then the teacher's). Against the same figures
    with the student driving, this tells a student that cannot see the task from one that goes
    where it never learned to (docs/models.md).
    """
    from twist_sim import make_env

    from .policy import StudentPolicy

    if teacher_drives and teacher is None:
        raise ValueError("teacher_drives needs the teacher (--compare-teacher)")

    policy = StudentPolicy.load(bundle, device=device)
    env = make_env(policy.spec.task, backend=backend, split=split, dr_mode="eval",
                   image_size=policy.spec.image_size, render_image=True)  # fmt: skip
    zero_gaps, carry, step = [], [None], [0]
    gap_at, belief_at, relative_at = [], [], []  # (step index within the episode, value) per step
    layout = policy.spec.state_layout
    positions = [n for n in ("ee_pos", "cube_pos") if n in layout]

    def reset() -> None:
        policy.reset()
        carry[0] = None
        step[0] = 0

    def act(obs: dict) -> np.ndarray:
        action = policy.step(obs["image"])
        if teacher is not None:
            state = torch.as_tensor(obs["state"], device=teacher.device)[None]
            teacher_action, (post, _) = teacher.act(state, carry[0], explore=False)
            teacher_action = teacher_action[0].cpu().numpy().astype(np.float32)
            gap_at.append((step[0], float(np.abs(action - teacher_action).mean())))
            zero_gaps.append(float(np.abs(teacher_action).mean()))
            belief = policy.belief()
            names = positions or list(layout)
            err = [belief[n] - obs["state"][layout[n][0] : layout[n][1]] for n in names]
            # Positions: the mean of the end effector's and the cube's errors; else the whole state's.
            norms = [np.linalg.norm(e) for e in err] if positions else [np.linalg.norm(np.concatenate(err))]
            belief_at.append((step[0], float(np.mean(norms))))
            if positions == ["ee_pos", "cube_pos"]:  # where the cube is relative to the gripper
                relative_at.append((step[0], float(np.linalg.norm(err[1] - err[0]))))
            if teacher_drives:
                action = teacher_action
                policy.executed(action)
            # Both filter the action the env executes: the student's, or the teacher's when it drives
            # (the teacher then acts as it would if it were in control from here on).
            carry[0] = (post, torch.as_tensor(action, device=teacher.device)[None])
        step[0] += 1
        return action

    try:
        result = rollout(env, act, reset, episodes, seed, progress)
    finally:
        env.close()
    result["task"] = policy.spec.task
    if teacher is not None:
        result["action_gap_to_teacher"] = float(np.mean([v for _, v in gap_at]))
        result["action_gap_of_zero_action"] = float(np.mean(zero_gaps))  # the gap's scale
        key = "belief_error_m" if positions else "belief_error"
        result[key] = float(np.mean([v for _, v in belief_at]))
        result["action_gap_by_step"] = _per_window(gap_at)
        result[f"{key}_by_step"] = _per_window(belief_at)
        if relative_at:
            result["belief_error_relative_m"] = float(np.mean([v for _, v in relative_at]))
        result["driver"] = "teacher" if teacher_drives else "student"
    return result


def _per_window(values: list[tuple[int, float]], window: int = 10) -> list[float]:
    """Means of (step, value) pairs over steps 0..window-1, window..2 window-1, ... (all episodes)."""
    if not values:
        return []
    steps = np.array([t for t, _ in values]) // window
    data = np.array([v for _, v in values])
    return [
        round(float(data[steps == w].mean()), 4) for w in range(int(steps.max()) + 1) if (steps == w).any()
    ]


@torch.no_grad()
def dataset_agreement(bundle: Path, teacher, dataset: Path, episodes: int, device: str = "cpu") -> dict:
    """Student against teacher on the last `episodes` recorded episodes of a matching dataset.

    Both filter the same history (the student its stored images, the teacher its states, both the
    executed actions), deterministically. Returns the mean |a_s - a_t| of the teacher's actor on
    either latent and the mean squared error of h. On episodes the student was distilled on
    against new episodes of the same teacher (twist-teacher-rollouts), it tells a student that
    generalises from one that memorised its images.
    """
    from twist_sim.dataset import EpisodeDataset
    from twist_sim.preprocess import preprocess_image

    from .policy import StudentPolicy

    policy = StudentPolicy.load(bundle, device=device)
    data = EpisodeDataset(dataset)
    if not 1 <= episodes <= len(data):
        raise ValueError(f"--episodes {episodes}: {dataset} holds {len(data)} episodes")
    which = list(range(len(data) - episodes, len(data)))
    student, rssm = policy.student, teacher.wm.rssm
    gaps, h_err = [], []
    for i in which:
        ep = data.episode(i)
        s_state, t_state = student.rssm.initial(1, policy.device), rssm.initial(1, teacher.device)
        for t in range(len(ep["state"])):
            first = torch.tensor([t == 0])
            prev = torch.as_tensor(ep["action"][t])[None]  # the action that led to step t
            obs = torch.as_tensor(preprocess_image(ep["image"][t], policy.spec.preprocess))[None]
            s_state, _ = student.rssm.obs_step(s_state, prev, student.encoder(obs), first, sample=False)
            state = torch.as_tensor(ep["state"][t])[None]
            t_state, _ = rssm.obs_step(t_state, prev, teacher.wm.encoder(state), first, sample=False)
            a_s = policy.actor.mode(student.rssm.feature(s_state))
            a_t = teacher.ac.actor.mode(rssm.feature(t_state))
            gaps.append(float((a_s - a_t).abs().mean()))
            h_err.append(float(((s_state["h"] - t_state["h"]) ** 2).mean()))
    return {"dataset": str(dataset), "dataset_episodes": which, "steps": len(gaps),
            "action_gap_to_teacher": float(np.mean(gaps)), "h_mse": float(np.mean(h_err))}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a TWIST policy bundle or a teacher run.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", type=Path, help="policy bundle directory (twist-export)")
    source.add_argument("--teacher", type=Path, help="teacher run directory: evaluate the Oracle on state")
    source.add_argument("--baseline", type=Path,
                        help="baseline run directory (twist-train-baseline): evaluate it on images")  # fmt: skip
    parser.add_argument("--split", default="heldout", choices=["train", "heldout"])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--backend", default="mujoco")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="episode i uses seed + i")
    parser.add_argument(
        "--compare-teacher",
        type=Path,
        help="with --bundle: also measure the action gap to this teacher run and the belief error",
    )
    parser.add_argument(
        "--teacher-drives",
        action="store_true",
        help="with --compare-teacher: the teacher acts and the student only filters, measuring the gap and "
        "belief error on the teacher's states (success and return are the teacher's)",
    )
    parser.add_argument(
        "--on-dataset",
        type=Path,
        help="with --bundle and --compare-teacher: compare on the last --episodes recorded episodes "
        "of this matching dataset instead of rolling out (seen against unseen data)",
    )
    parser.add_argument("--json", type=Path, help="write the result here too")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compare_teacher is not None and args.bundle is None:
        parser.error("--compare-teacher needs --bundle (it measures a student against its teacher)")
    if args.teacher_drives and args.compare_teacher is None:
        parser.error("--teacher-drives needs --bundle and --compare-teacher")
    if args.on_dataset is not None:
        if args.bundle is None or args.compare_teacher is None:
            parser.error("--on-dataset needs --bundle and --compare-teacher")
        from .checkpoint import load_teacher

        result = dataset_agreement(args.bundle, load_teacher(args.compare_teacher)[0], args.on_dataset,
                                   args.episodes)  # fmt: skip
        result.update(source=str(args.bundle), teacher=str(args.compare_teacher))
        print(json.dumps(result, indent=2))
        if args.json is not None:
            atomic_write_bytes(args.json, json.dumps(result, indent=2).encode())
        return
    if args.bundle is not None:
        teacher = None
        if args.compare_teacher is not None:
            from .checkpoint import load_teacher

            teacher = load_teacher(args.compare_teacher)[0]
        result = evaluate_bundle(args.bundle, args.episodes, args.split, args.backend, args.seed, progress=True,
                                 teacher=teacher, teacher_drives=args.teacher_drives)  # fmt: skip
        result.update(method="teacher_drives" if args.teacher_drives else "twist", source=str(args.bundle))
    elif args.baseline is not None:
        from .baselines.train import evaluate_agent, load_baseline

        agent, meta = load_baseline(args.baseline)
        result = evaluate_agent(agent, meta["task"], args.episodes, meta["image_size"], args.split,
                                args.backend, args.seed, progress=True)  # fmt: skip
        result.update(method=meta["method"], task=meta["task"], source=str(args.baseline),
                      env_steps=meta.get("env_steps"), updates=meta.get("updates"))  # fmt: skip
    else:
        from .checkpoint import load_teacher

        agent, meta, _ = load_teacher(args.teacher)
        result = evaluate_teacher(
            agent, meta["task"], args.episodes, args.split, args.backend, args.seed, True
        )
        result.update(method="oracle", task=meta["task"], source=str(args.teacher),
                      teacher_env_steps=meta.get("env_steps"))  # fmt: skip
    result.update(split=args.split, episodes=args.episodes, seed=args.seed)
    text = json.dumps(result, indent=2)
    if args.json is not None:
        atomic_write_bytes(args.json, text.encode())
    per_episode = ("returns", "successes", "reached", "initial_states", "final_states")
    summary = {k: v for k, v in result.items() if k not in per_episode}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
