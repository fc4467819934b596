"""Train a baseline of the paper online on images.

    twist-train-baseline --method dreamer_dr|dreamer_nodr|state_recon|asym_sac \
        --task block_push --preset debug --out runs/dreamer_dr

Like the teacher run: every finished episode is written atomically to RUN/replay through
twist_sim.dataset and is the replay; TensorBoard scalars go to RUN/tb; RUN/eval.jsonl gets one
line per periodic evaluation (held-out split, evaluation-mode DR: the quantity Table I
reports) with env steps and wall-clock; RUN/checkpoint.pt is written at episode ends, so the
same command resumes with the same counters, optimiser and RNG states. `kill PID` (SIGTERM) or
Ctrl-C ends the episode in hand, checkpoints at its end and exits, losing nothing. RUN/run.yaml records
the method, task, resolved configuration and the compute used (device, threads, wall-clock).

The Dreamer baselines take their network sizes and schedule from the preset's `model` and
`teacher` sections (the same as the teacher's); Asymmetric SAC reads `asym_sac` from
config/baselines/<preset>.yaml.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.tensorboard import SummaryWriter

from ..checkpoint import (
    StopRequest,
    check_resume_seed,
    load_training_state,
    read_run,
    run_overrides,
    save_training_state,
    write_yaml,
)
from ..config import Preset, load_preset, resolve_device, run_compute
from ..dreamer import Dreamer, to_torch
from ..evaluate import EVAL_SEED, rollout
from ..progress import IntervalMeans, progress_bar
from ..train_teacher import LOG_EVERY, episode_seed, prefill_policy
from .agents import ImagePolicy, Method, build_agent, get_method
from .asym_sac import AsymSACConfig
from .envs import has_success, make_task_env
from .replay import EpisodeReplay

BASELINE_CONFIG_DIR = Path(__file__).resolve().parents[4] / "config" / "baselines"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The budget fields every method shares, in env steps."""

    env_steps: int
    prefill: int
    train_every: int
    eval_every: int
    eval_episodes: int
    checkpoint_every: int
    expert_episodes: int = 0  # the teacher's expert prefill (TeacherConfig), for equal data
    expert_noise: float = 0.0


def load_sac_config(preset: str, overrides: dict | None = None) -> AsymSACConfig:
    """`asym_sac` section of config/baselines/<preset>.yaml (or of the YAML file `preset`)."""
    path = Path(preset) if Path(preset).suffix else BASELINE_CONFIG_DIR / f"{preset}.yaml"
    if not path.is_file():
        raise ValueError(f"no Asymmetric SAC config for preset {preset!r} (looked for {path})")
    values = dict((yaml.safe_load(path.read_text()) or {}).get("asym_sac", {}))
    values.update(overrides or {})
    names = {f.name for f in dataclasses.fields(AsymSACConfig)}
    if set(values) - names:
        raise ValueError(f"unknown asym_sac field(s) {sorted(set(values) - names)} in {path}")
    return AsymSACConfig(**values)


def collect_episode(env, policy: ImagePolicy, seed: int, prefill, on_step) -> dict:
    """One training episode; `on_step()` runs after every env step. Returns it, length T + 1.

    prefill: None (the agent acts on images) or the prefill's act(state) policy
    (twist_models.train_teacher.prefill_policy)."""
    obs, info = env.reset(seed=seed)
    policy.reset()
    action_dim = env.action_space.shape[0]
    keys = ("state", "image", "action", "reward", "is_first", "is_last", "is_terminal", "success")
    ep = {k: [] for k in keys}

    def record(obs, action, reward, first, last, terminal, success):
        for key, value in zip(keys, (obs["state"], obs["image"], action, reward, first, last, terminal, success),
                              strict=True):  # fmt: skip
            ep[key].append(value)

    record(obs, np.zeros(action_dim, np.float32), 0.0, True, False, False, bool(info.get("success", False)))
    done = False
    while not done:
        if prefill is not None:
            action = np.asarray(prefill.act(obs["state"]), dtype=np.float32)
        else:
            action = policy.act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        record(obs, action, float(reward), False, done, bool(terminated), bool(info.get("success", False)))
        on_step()
    dtypes = {"state": np.float32, "image": np.uint8, "action": np.float32, "reward": np.float32}
    return {k: np.asarray(v, dtype=dtypes.get(k, bool)) for k, v in ep.items()}


def evaluate_agent(agent, task: str, episodes: int, image_size: int, split: str = "heldout",
                   backend: str = "mujoco", seed: int = EVAL_SEED, progress: bool = False) -> dict:  # fmt: skip
    """A baseline's deterministic policy on evaluation-mode DR images (twist_models.evaluate.rollout)."""
    env = make_task_env(task, split, "eval", image_size=image_size, backend=backend)
    policy = ImagePolicy(agent, explore=False)
    try:
        return rollout(env, policy.act, policy.reset, episodes, seed, progress)
    finally:
        env.close()


def _update(agent, method: Method, replay: EpisodeReplay, preset: Preset, sac: AsymSACConfig,
            device: torch.device) -> dict[str, float]:  # fmt: skip
    if method.kind == "dreamer":
        cfg = preset.teacher
        return agent.update(to_torch(replay.sample_sequences(cfg.batch_size, cfg.seq_len), device))
    batch = {
        k: torch.as_tensor(v, device=device) for k, v in replay.sample_transitions(sac.batch_size).items()
    }
    return agent.update(batch)


def train(method_name: str, task: str, preset: Preset, sac: AsymSACConfig, out: Path,
          backend: str = "mujoco", progress: bool = True, max_minutes: float | None = None) -> dict:  # fmt: skip
    """Train (or resume) one baseline run in `out`. Returns the final counters.

    `max_minutes`: stop at the first checkpoint after this many minutes of this call (a time
    budget, as twist-train-teacher's; the run stays resumable and a second call continues it).
    """
    from twist_sim.dataset import EpisodeDataset, write_episode

    method = get_method(method_name)
    schedule_src = preset.teacher if method.kind == "dreamer" else sac
    schedule = Schedule(
        **{f.name: getattr(schedule_src, f.name, f.default) for f in dataclasses.fields(Schedule)}
    )
    torch.set_num_threads(preset.threads)
    device = resolve_device(preset.device)
    out.mkdir(parents=True, exist_ok=True)
    image_size = preset.model.image_size
    env = make_task_env(task, "train", method.dr_mode, image_size=image_size, backend=backend)
    spec = env.unwrapped.task
    meta = {"method": method.name, "task": task, "backend": backend, "state_dim": spec.state_dim,
            "action_dim": spec.action_dim, "image_size": image_size, "dr_mode": method.dr_mode,
            "action_repeat": getattr(spec, "action_repeat", 1), "preset": preset.to_dict(),
            "asym_sac": dataclasses.asdict(sac)}  # fmt: skip
    if (out / "run.yaml").is_file():
        old = read_run(out)
        if (old.get("method"), old["task"], old["preset"]["model"]) != (
            method.name,
            task,
            meta["preset"]["model"],
        ):
            raise ValueError(f"{out} holds a run of another method, task or model size; use a new --out")
        check_resume_seed(out, old["preset"].get("seed"), preset.seed)
    agent = build_agent(method, spec.state_dim, spec.action_dim, preset, sac, device)
    rng = np.random.default_rng([preset.seed, 0])
    replay = EpisodeReplay(np.random.default_rng([preset.seed, 1]))
    replay_dir = out / "replay"
    if (replay_dir / "manifest.json").is_file():
        stored = EpisodeDataset(replay_dir)
        for i in range(len(stored)):
            replay.add(stored.episode(i))
    ckpt_path = out / "checkpoint.pt"
    updates, wall_before = load_training_state(ckpt_path, agent, rng, replay.rng, device)
    started = time.monotonic()
    writer = SummaryWriter(str(out / "tb"))
    counter = {"step": replay.num_steps, "updates": updates}
    bar = progress_bar(total=schedule.env_steps, initial=min(counter["step"], schedule.env_steps),
               desc=f"{method.name} env steps", disable=not progress, dynamic_ncols=True)  # fmt: skip
    policy = ImagePolicy(agent, explore=True)
    interval = IntervalMeans()

    def on_step() -> None:
        counter["step"] += 1
        bar.update(1)
        if (
            counter["step"] >= schedule.prefill
            and replay.episodes
            and counter["step"] % schedule.train_every == 0
        ):
            metrics = _update(agent, method, replay, preset, sac, device)
            counter["updates"] += 1
            interval.add(metrics)
            if counter["updates"] % LOG_EVERY == 0:
                interval.write(writer, counter["step"])

    def wall_s() -> float:
        return wall_before + time.monotonic() - started

    last_ckpt = counter["step"]
    # SIGTERM/SIGINT (stopping a background run) ends the episode in hand and checkpoints at its
    # end, like a spent time budget: nothing is lost and the same command continues exactly.
    with StopRequest() as stop:
        while counter["step"] < schedule.env_steps:
            index = len(replay.episodes)
            prefill = prefill_policy(spec, schedule, index, counter["step"], rng)
            ep = collect_episode(env, policy, episode_seed(preset.seed, index), prefill, on_step)
            write_episode(replay_dir, ep)
            replay.add(ep)
            step = counter["step"]
            writer.add_scalar("train/return", float(ep["reward"].sum()), step)
            if (
                step // schedule.eval_every > (step - len(ep["reward"]) + 1) // schedule.eval_every
                or step >= schedule.env_steps
            ):
                result = evaluate_agent(agent, task, schedule.eval_episodes, image_size, backend=backend)
                writer.add_scalar("eval/return", result["mean_return"], step)
                if has_success(task):
                    writer.add_scalar("eval/success_rate", result["success_rate"], step)
                line = {"env_steps": step, "updates": counter["updates"], "wall_s": round(wall_s(), 3),
                        "return": result["mean_return"], "success_rate": result["success_rate"]}  # fmt: skip
                with open(out / "eval.jsonl", "a") as f:
                    f.write(json.dumps(line) + "\n")
                bar.set_postfix(ret=round(result["mean_return"], 1))
            stopping = stop.requested is not None
            if step - last_ckpt >= schedule.checkpoint_every or step >= schedule.env_steps or stopping:
                save_training_state(ckpt_path, agent, rng, replay.rng, counter["updates"], step, wall_s())
                compute = run_compute(device, preset.threads, wall_s())
                write_yaml(
                    out / "run.yaml",
                    {**meta, "env_steps": step, "updates": counter["updates"], "compute": compute},
                )
                last_ckpt = step
                if stopping or (max_minutes is not None and time.monotonic() - started >= 60.0 * max_minutes):
                    break
    bar.close()
    writer.close()
    env.close()
    stop.report(method.name, f"env step {counter['step']}", ckpt_path)
    return {"env_steps": counter["step"], "updates": counter["updates"], "episodes": len(replay.episodes)}


def load_baseline(run_dir: Path, device: torch.device | str = "cpu"):
    """The trained agent of a baseline run; (agent, run.yaml)."""
    meta = read_run(run_dir)
    method = get_method(meta["method"])
    preset = Preset.from_dict(meta["preset"])
    agent = build_agent(method, meta["state_dim"], meta["action_dim"], preset, AsymSACConfig(**meta["asym_sac"]),
                        torch.device(device))  # fmt: skip
    ckpt = torch.load(Path(run_dir) / "checkpoint.pt", map_location=device, weights_only=False)
    agent.load_training_state(ckpt["agent"])
    if isinstance(agent, Dreamer):
        agent.eval()
    return agent, meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a baseline of the TWIST paper on images.")
    parser.add_argument(
        "--method", required=True, choices=["dreamer_dr", "dreamer_nodr", "state_recon", "asym_sac"]
    )
    parser.add_argument("--task", default="block_push")
    parser.add_argument("--preset", default="debug", help="preset name (config/presets) or YAML path")
    parser.add_argument("--out", required=True, type=Path, help="run directory (resumes if it exists)")
    parser.add_argument("--backend", default="mujoco")
    parser.add_argument(
        "--env-steps", type=int, help="override the method's env_steps; a resume keeps the run's"
    )
    parser.add_argument(
        "--expert-episodes",
        type=int,
        help="override teacher.expert_episodes (Dreamer baselines); a resume keeps the run's",
    )
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--device", help="override the preset's device")
    parser.add_argument("--max-minutes", type=float,
                        help="stop at the first checkpoint after this many minutes; rerun to continue")  # fmt: skip
    args = parser.parse_args(argv)
    if args.max_minutes is not None and args.max_minutes < 0:
        parser.error(f"--max-minutes must be >= 0, got {args.max_minutes}")
    # A resume goes on to the run's own env-step target, with its own expert episodes, unless
    # the command line gives them: not to the preset's.
    recorded = read_run(args.out) if (args.out / "run.yaml").is_file() else {}
    recorded_teacher = (recorded.get("preset") or {}).get("teacher") or {}
    env_steps, expert_episodes = args.env_steps, args.expert_episodes
    if env_steps is None:
        target = recorded.get("asym_sac") if args.method == "asym_sac" else recorded_teacher
        env_steps = (target or {}).get("env_steps")
    if expert_episodes is None:
        expert_episodes = recorded_teacher.get("expert_episodes")
    overrides: dict = {}
    sac_overrides: dict = {}
    if env_steps is not None:
        overrides["teacher"] = {"env_steps": env_steps}
        sac_overrides["env_steps"] = env_steps
    if expert_episodes is not None:
        overrides.setdefault("teacher", {})["expert_episodes"] = expert_episodes
    overrides.update(run_overrides(args.out, args.seed, args.device))
    preset = load_preset(args.preset, overrides)
    if args.method == "asym_sac":
        sac = load_sac_config(args.preset if Path(args.preset).suffix else preset.name, sac_overrides)
    else:
        sac = AsymSACConfig()
    print(json.dumps(train(args.method, args.task, preset, sac, args.out, args.backend,
                           max_minutes=args.max_minutes)))  # fmt: skip


if __name__ == "__main__":
    main()
