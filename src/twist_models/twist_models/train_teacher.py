"""Train the TWIST teacher: online Dreamer on privileged state, writing the matching dataset D.

    twist-train-teacher --task block_push --preset cpu --out runs/teacher

Every env step is rendered with training-split DR, and each finished episode (state, image,
action, reward, ...) is written atomically to RUN/dataset through twist_sim.dataset. D is also
the replay: on start the state/action/reward part of every complete episode is loaded into
memory (the teacher never needs the images). `kill PID` (SIGTERM) or Ctrl-C loses nothing: the
run ends the episode in hand, checkpoints at its end and exits (a second signal kills it at
once). A hard kill or crash leaves D and the last checkpoint readable; it loses the episode in
progress and the updates since that checkpoint. Running the same command again resumes from
RUN/checkpoint.pt with the same update counter, optimiser state and RNG states, and the env-step
counter of the episodes in D.
Checkpoints are written at episode ends only, so a run stopped at one (for example by
--env-steps) and continued gives exactly the run that never stopped. A copy of a snapshot
(twist-teacher-snapshot: the run without D's images) resumes the same way.
RUN/best/ holds the weights of the run's best periodic evaluation so far (training split; success
rate, then return), for twist-eval, twist-teacher-rollouts and twist-distill: a teacher that
learned and then collapsed is not lost with the next checkpoint. It is not a run to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from twist_sim.preprocess import PreprocessSpec, preprocess_image

from .checkpoint import (
    StopRequest,
    check_resume_seed,
    load_training_state,
    read_run,
    run_overrides,
    save_training_state,
    write_yaml,
)
from .config import Preset, load_preset, resolve_device, run_compute, task_names, task_state_norm
from .dreamer import Dreamer, to_torch
from .evaluate import evaluate_teacher
from .progress import IntervalMeans, progress_bar
from .snapshot import REPLAY_KEYS, run_episodes
from .student import position_slices

# Updates between TensorBoard writes of the update metrics, each write the interval's means.
LOG_EVERY = 50
# The sub-folder of a teacher run that holds its best periodic evaluation's weights.
BEST_DIR = "best"


def best_so_far(out: Path) -> tuple[float, float] | None:
    """(success rate, return) of the evaluation kept in RUN/best, or None without one."""
    path = Path(out) / BEST_DIR / "run.yaml"
    if not path.is_file():
        return None
    best = read_run(path.parent)["best_of"]
    return float(best["success_rate"]), float(best["return"])


def run_record(meta: dict, counter: dict, wall_s: float, device, threads: int) -> dict:
    """run.yaml of a teacher checkpoint: the run's meta and the counters it was taken at."""
    return {**meta, "env_steps": counter["step"], "updates": counter["updates"], "wall_s": round(wall_s, 1),
            "compute": run_compute(device, threads, wall_s)}  # fmt: skip


def save_best(out: Path, agent, rng, replay_rng, counter: dict, wall_s: float, meta: dict,
              result: dict, episodes: int, device, threads: int) -> None:  # fmt: skip
    """Keep the agent as RUN/best: a loadable teacher (checkpoint.pt + run.yaml), whose run.yaml
    records the evaluation (`best_of`). run.yaml goes first and comes back last, so a crash in
    between leaves no checkpoint that run.yaml misdescribes."""
    best = Path(out) / BEST_DIR
    best.mkdir(exist_ok=True)
    (best / "run.yaml").unlink(missing_ok=True)
    save_training_state(
        best / "checkpoint.pt", agent, rng, replay_rng, counter["updates"], counter["step"], wall_s
    )
    write_yaml(best / "run.yaml", {
        **run_record(meta, counter, wall_s, device, threads),
        "best_of": {"run": "..", "env_steps": counter["step"], "split": "train", "episodes": episodes,
                    "success_rate": float(result["success_rate"]), "return": float(result["mean_return"])},
    })  # fmt: skip


def belief_offset(
    positions: list[slice], state_dim: int, radius: float, rng: np.random.Generator
) -> np.ndarray:
    """Not in the paper (TeacherConfig.belief_offset): a (state_dim,) offset in metres that moves
    each of the `positions` (3-vectors: the end effector, the cube) in its own random direction by
    a distance uniform in [0, radius]; zero elsewhere (entries derived from the positions, such as
    the cube-goal distance, keep their true values)."""
    offset = np.zeros(state_dim, np.float32)
    for sl in positions:
        direction = rng.normal(size=3)
        offset[sl] = direction / np.linalg.norm(direction) * rng.uniform(0.0, radius)
    return offset


class StateReplay:
    """The non-image part of D's complete episodes, sampled as (batch, length, ...) sequences.

    offset_radius, positions: TeacherConfig.belief_offset and the state's position slices; with a
    radius > 0 each sampled sequence's states get their own belief_offset (drawn from `rng` after
    the sequence, so a radius of 0 leaves the sampling stream as it was)."""

    def __init__(
        self, rng: np.random.Generator, offset_radius: float = 0.0, positions: list[slice] | None = None
    ):
        self.rng = rng
        self.offset_radius, self.positions = offset_radius, list(positions or [])
        if offset_radius > 0 and not self.positions:
            raise ValueError(
                f"teacher.belief_offset = {offset_radius} needs a state with an end effector and a cube "
                "(the block tasks)"
            )
        self.episodes: list[dict[str, np.ndarray]] = []

    def add(self, episode: dict[str, np.ndarray]) -> None:
        self.episodes.append({k: np.asarray(episode[k]) for k in REPLAY_KEYS})

    @property
    def num_steps(self) -> int:
        """Env steps in the replay (each episode holds T + 1 entries for T steps)."""
        return sum(len(e["reward"]) - 1 for e in self.episodes)

    def sample(self, batch: int, length: int) -> dict[str, np.ndarray]:
        out = {k: [] for k in REPLAY_KEYS}
        for _ in range(batch):
            ep = self.episodes[int(self.rng.integers(len(self.episodes)))]
            start = int(self.rng.integers(len(ep["reward"]) - length + 1))
            for k in REPLAY_KEYS:
                out[k].append(ep[k][start : start + length])
            if self.offset_radius > 0:
                state_dim = out["state"][-1].shape[-1]
                offset = belief_offset(self.positions, state_dim, self.offset_radius, self.rng)
                out["state"][-1] = out["state"][-1] + offset
        return {k: np.stack(v) for k, v in out.items()}


def prefill_policy(spec, schedule, episode_index: int, step: int, rng: np.random.Generator):
    """The behaviour of the next episode before learning starts, or None for the agent itself.

    schedule: anything with expert_episodes, expert_noise and prefill (TeacherConfig, the
    baselines' Schedule). The first `expert_episodes` episodes are the scripted expert's, then
    uniform random actions until `prefill` env steps.
    """
    from twist_sim.experts import RandomPolicy, ScriptedExpert
    from twist_sim.tasks import TASK_NAMES

    # Checked for every episode, so a resumed run past the expert episodes refuses too.
    if schedule.expert_episodes and spec.name not in TASK_NAMES:
        raise ValueError(
            f"teacher.expert_episodes > 0 needs a scripted expert; {spec.name} has none (set it to 0)"
        )
    if episode_index < schedule.expert_episodes:
        return ScriptedExpert(spec, rng, schedule.expert_noise)
    return RandomPolicy(spec, rng) if step < schedule.prefill else None


def episode_seed(seed: int, index: int) -> int:
    """The reset seed of episode `index` of a teacher run with preset seed `seed` (its D's order)."""
    return seed * 1_000_003 + index


def collect_episode(env, agent: Dreamer, seed: int, prefill_policy, on_step,
                    preprocess: PreprocessSpec, driver=None, act_offset: np.ndarray | None = None) -> dict:  # fmt: skip
    """One episode with training DR; `on_step()` runs after each env step (the train ratio).

    prefill_policy: None (the agent explores) or an object with act(state) -> action (the
    random policy or the scripted expert of the prefill).
    driver: when given, a callable obs -> action that acts instead of both (e.g. a student on
    the images, twist-teacher-rollouts --driver); it is told a new episode by its own reset.
    act_offset: added to the state the agent acts on (TeacherConfig.belief_offset); the episode
    records the true state.

    Returns the episode in the dataset convention, length T + 1; images are stored as the
    model sees them (twist_sim's preprocess_image with the run's spec).
    """
    obs, info = env.reset(seed=seed)
    action_dim = env.action_space.shape[0]
    ep = {
        k: [] for k in ("state", "image", "action", "reward", "is_first", "is_last", "is_terminal", "success")
    }

    def record(obs, action, reward, first, last, success):
        for key, value in (("state", obs["state"]), ("image", preprocess_image(obs["image"], preprocess)), ("action", action),
                           ("reward", reward), ("is_first", first), ("is_last", last),
                           ("is_terminal", False), ("success", success)):  # fmt: skip
            ep[key].append(value)

    record(obs, np.zeros(action_dim, np.float32), 0.0, True, False, bool(info.get("success", False)))
    carry, done = None, False
    while not done:
        if driver is not None:
            action = np.asarray(driver(obs), dtype=np.float32)
        elif prefill_policy is not None:
            action = np.asarray(prefill_policy.act(obs["state"]), dtype=np.float32)
        else:
            seen = obs["state"] if act_offset is None else obs["state"] + act_offset
            state = torch.as_tensor(seen, device=agent.device)[None]
            act, carry = agent.act(state, carry, explore=True)
            action = act[0].cpu().numpy().astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        record(obs, action, float(reward), False, done, bool(info["success"]))
        on_step()
    dtypes = {"state": np.float32, "image": np.uint8, "action": np.float32, "reward": np.float32}
    return {k: np.asarray(v, dtype=dtypes.get(k, bool)) for k, v in ep.items()}


def train(
    task: str,
    preset: Preset,
    out: Path,
    backend: str = "mujoco",
    progress: bool = True,
    max_minutes: float | None = None,
) -> dict:
    """Train (or resume) a teacher run in `out`. Returns the final counters.

    `max_minutes`: stop at the first checkpoint after this many minutes of this call (a time
    budget; the run stays resumable and a second call continues it exactly).
    """
    from twist_sim.dataset import write_episode

    from twist_sim import make_env

    cfg = preset.teacher
    torch.set_num_threads(preset.threads)
    device = resolve_device(preset.device)
    out.mkdir(parents=True, exist_ok=True)
    env = make_env(task, backend=backend, split="train", dr_mode="train",
                   image_size=preset.model.image_size, render_image=True)  # fmt: skip
    spec = env.unwrapped.task
    if not preset.model.state_offset:
        offset, scale = task_state_norm(task, spec.state_layout)
        preset = dataclasses.replace(
            preset, model=dataclasses.replace(preset.model, state_offset=offset, state_scale=scale)
        )
    # Distracting Control tasks act in normalised joint torques: no metres per action unit (0).
    meta = {"task": task, "backend": backend, "state_dim": spec.state_dim, "action_dim": spec.action_dim,
            "state_layout": {k: list(v) for k, v in spec.state_layout.items()}, "control_hz": spec.control_hz,
            "action_scale_m": float(getattr(spec, "action_scale_m", 0.0)),
            "preprocess": {"size": preset.model.image_size, "crop": None}, "preset": preset.to_dict()}  # fmt: skip
    if (out / "run.yaml").is_file():
        old = read_run(out)
        if "best_of" in old:
            raise ValueError(f"{out} is a run's best periodic evaluation (its {BEST_DIR}/), not a run to "
                             f"train on: resume the run itself, {out.parent}")  # fmt: skip
        if old["task"] != task or old["preset"]["model"] != meta["preset"]["model"]:
            raise ValueError(f"{out} holds a run of another task or model size; use a new --out")
        check_resume_seed(out, old["preset"].get("seed"), preset.seed)
    agent = Dreamer("state", "state", spec.state_dim, spec.action_dim, preset.model, cfg, preset.seed, device)
    rng = np.random.default_rng(preset.seed)
    positions = position_slices(spec.state_layout) if cfg.belief_offset > 0 else []
    replay = StateReplay(np.random.default_rng([preset.seed, 1]), cfg.belief_offset, positions)
    data_dir = out / "dataset"
    for episode in run_episodes(out):  # a snapshot's replay.npz (twist-teacher-snapshot), then D
        replay.add(episode)
        agent.ac.observe_rewards(episode["reward"])
    ckpt_path = out / "checkpoint.pt"
    updates, wall_offset = load_training_state(ckpt_path, agent, rng, replay.rng, device)
    env_steps = replay.num_steps
    writer = SummaryWriter(str(out / "tb"))
    bar = progress_bar(total=cfg.env_steps, initial=min(env_steps, cfg.env_steps), desc="teacher env steps",
               disable=not progress, dynamic_ncols=True)  # fmt: skip
    counter = {"step": env_steps, "updates": updates}
    interval = IntervalMeans()
    start = time.monotonic()

    def wall() -> float:
        return wall_offset + time.monotonic() - start

    def on_step() -> None:
        counter["step"] += 1
        bar.update(1)
        if counter["step"] >= cfg.prefill and replay.episodes and counter["step"] % cfg.train_every == 0:
            metrics = agent.update(to_torch(replay.sample(cfg.batch_size, cfg.seq_len), device))
            counter["updates"] += 1
            interval.add(metrics)
            if counter["updates"] % LOG_EVERY == 0:
                interval.write(writer, counter["step"])

    best = best_so_far(out)
    last_ckpt = env_steps
    # SIGTERM/SIGINT (stopping a background run) ends the episode in hand and checkpoints at its
    # end, like a spent time budget: nothing is lost and the same command continues exactly.
    with StopRequest() as stop:
        while counter["step"] < cfg.env_steps:
            episode_index = len(replay.episodes)
            seed = episode_seed(preset.seed, episode_index)
            act_offset = None
            if cfg.belief_offset > 0:  # its own stream, so the run's RNG states stay as they were
                act_offset = belief_offset(positions, spec.state_dim, cfg.belief_offset,
                                           np.random.default_rng([seed, 2]))  # fmt: skip
            ep = collect_episode(
                env,
                agent,
                seed,
                prefill_policy(spec, cfg, episode_index, counter["step"], rng),
                on_step,
                PreprocessSpec(size=preset.model.image_size),
                act_offset=act_offset,
            )
            write_episode(data_dir, ep)
            replay.add(ep)
            agent.ac.observe_rewards(ep["reward"])
            writer.add_scalar("train/return", float(ep["reward"].sum()), counter["step"])
            writer.add_scalar("train/success", float(ep["success"][-1]), counter["step"])
            step = counter["step"]
            if (
                step // cfg.eval_every > (step - len(ep["reward"]) + 1) // cfg.eval_every
                or step >= cfg.env_steps
            ):
                result = evaluate_teacher(agent, task, cfg.eval_episodes, split="train", backend=backend)
                writer.add_scalar("eval/success_rate", result["success_rate"], step)
                writer.add_scalar("eval/return", result["mean_return"], step)
                with open(out / "eval.jsonl", "a") as f:
                    f.write(json.dumps({"env_steps": step, "updates": counter["updates"], "wall_s": round(wall(), 1),
                                        "success_rate": result["success_rate"], "return": result["mean_return"]}) + "\n")  # fmt: skip
                bar.set_postfix(success=result["success_rate"], ret=round(result["mean_return"], 1))
                if best is None or (result["success_rate"], result["mean_return"]) > best:
                    best = (result["success_rate"], result["mean_return"])
                    save_best(out, agent, rng, replay.rng, counter, wall(), meta, result, cfg.eval_episodes,
                              device, preset.threads)  # fmt: skip
            stopping = stop.requested is not None
            if step - last_ckpt >= cfg.checkpoint_every or step >= cfg.env_steps or stopping:
                save_training_state(ckpt_path, agent, rng, replay.rng, counter["updates"], step, wall())
                write_yaml(out / "run.yaml", run_record(meta, counter, wall(), device, preset.threads))
                last_ckpt = step
                if stopping or (max_minutes is not None and time.monotonic() - start >= 60.0 * max_minutes):
                    break
    bar.close()
    writer.close()
    env.close()
    stop.report("teacher", f"env step {counter['step']}", ckpt_path)
    return {"env_steps": counter["step"], "updates": counter["updates"], "episodes": len(replay.episodes)}


# TeacherConfig fields a resume takes from the run's run.yaml unless its command line gives them
# (env_steps: the target the run was last given, so "rerun to continue" goes on to it).
RESUME_KEEPS = ("env_steps", "expert_episodes", "belief_offset", "value_bound")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the TWIST teacher (Dreamer on privileged state).")
    parser.add_argument("--task", default="block_push", choices=task_names())
    parser.add_argument("--preset", default="cpu", help="preset name (config/presets) or YAML path")
    parser.add_argument("--out", required=True, type=Path, help="run directory (resumes if it exists)")
    parser.add_argument("--backend", default="mujoco")
    parser.add_argument("--env-steps", type=int, help="override teacher.env_steps; a resume keeps the run's")
    parser.add_argument("--expert-episodes", type=int,
                        help="override teacher.expert_episodes (0: paper); a resume keeps the run's")  # fmt: skip
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--device", help="override the preset's device")
    parser.add_argument("--max-minutes", type=float,
                        help="stop at the first checkpoint after this many minutes; rerun to continue")  # fmt: skip
    parser.add_argument("--belief-offset", type=float,
                        help="override teacher.belief_offset (metres; not in the paper, 0: off); a resume keeps the run's")  # fmt: skip
    parser.add_argument("--value-bound", action=argparse.BooleanOptionalAction, default=None,
                        help="override teacher.value_bound (not in the paper): clamp critic values and "
                             "targets to the returns the real rewards seen allow; a resume keeps the run's")  # fmt: skip
    args = parser.parse_args(argv)
    # A resume continues the run as it was trained: what the command line leaves out of
    # RESUME_KEEPS comes from run.yaml, not from the preset (a run resumed at 72K with
    # --expert-episodes 520 keeps 520, a run trained with --value-bound keeps the bound, a run
    # given --env-steps 130000 goes on to 130K, not to the preset's 100K).
    resumed = (args.out / "run.yaml").is_file()
    recorded = read_run(args.out).get("preset", {}).get("teacher", {}) if resumed else {}
    overrides: dict = {}
    for key in RESUME_KEEPS:
        value = getattr(args, key)
        if value is None:
            value = recorded.get(key)
        if value is not None:
            overrides.setdefault("teacher", {})[key] = value
    overrides.update(run_overrides(args.out, args.seed, args.device))
    preset = load_preset(args.preset, overrides)
    if args.max_minutes is not None and args.max_minutes < 0:
        parser.error(f"--max-minutes must be >= 0, got {args.max_minutes}")
    print(json.dumps(train(args.task, preset, args.out, args.backend, max_minutes=args.max_minutes)))


if __name__ == "__main__":
    main()
