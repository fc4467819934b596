"""Can a student-sized encoder read the cube's position from one frame, and does the image size matter? JSON.

    python benchmarks/position_probe.py --task block_push --sizes 64 96 128 \
        [--train-episodes 100] [--test-episodes 10] [--updates 3000] [--record F]

The question behind it (docs/models.md, nineteenth and twenty-eighth sessions): the push students'
beliefs are 4-6 cm off on held-out episodes, the cube relative to the gripper 5-6.5 cm, while the
teachers need about 1 cm (benchmarks/teacher_state_noise.py). At 64 x 64 the 4 cm cube is about
4 pixels wide. Is that the limit, or is it the step from the training textures to the held-out ones?

This takes the sequence model and the distillation out of the question: a supervised probe, the
students' own image encoder (ConvEncoder, depth `--depth`) and an MLP head, regresses the end
effector's, the cube's and the goal's positions (robot base frame) from a single frame. For each image size:

  data   `--train-episodes` episodes of the scripted expert with Gaussian action noise
         (`--expert-noise`) on the training split with per-step DR (`dr_mode="train"`, as the
         teacher's dataset D is rendered), every `--frame-every`-th frame; and `--test-episodes` new
         episodes on the training split and on the held-out split with evaluation-mode DR (drawn
         once per episode, as twist-eval does). Episode i has the same seed, actions and states at
         every size: the sizes see the same scenes, only the camera's resolution differs.
  probe  ConvEncoder(depth, size) -> MLP(hidden 256, 2 layers) -> 9 numbers, the three positions
         standardised by the training frames' mean and standard deviation; Adam, mean squared
         error, `--updates` updates of `--batch` frames, the same seed at every size.
  errors mean Euclidean error in cm of the end effector, the cube, the goal, the cube relative to
         the end effector and the goal relative to the cube (what the teachers' push actions turn on), on each test set every
         `--eval-every` updates; and the error of predicting the training mean (the scale).

`--dr-config` takes another randomisation (e.g. the default without its camera-pose jitter).
One torch thread by default (`--threads`), so it runs beside a training run on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

POSITIONS = ("ee_pos", "cube_pos", "goal_pos")
SETS = ("train_split", "heldout_split")


def collect(task: str, size: int, split: str, dr_mode: str, episodes: int, seed: int,
            frame_every: int, expert_noise: float, dr_config: Path | None = None
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """uint8 (N, size, size, 3) frames and float32 (N, 9) positions (ee, cube, goal) in metres."""
    from twist_sim.experts import ScriptedExpert

    from twist_sim import make_env

    extra = {"dr_config": str(dr_config)} if dr_config else {}
    env = make_env(task, split=split, dr_mode=dr_mode, image_size=size, **extra)
    layout = env.unwrapped.task.state_layout
    frames, targets = [], []
    try:
        for i in range(episodes):
            rng = np.random.default_rng(seed + i)
            expert = ScriptedExpert(env.unwrapped.task, rng, noise_std=expert_noise)
            obs, _ = env.reset(seed=seed + i)
            t, done = 0, False
            while not done:
                if t % frame_every == 0:
                    frames.append(obs["image"])
                    targets.append(np.concatenate([obs["state"][slice(*layout[n])] for n in POSITIONS]))
                obs, _, terminated, truncated, _ = env.step(expert.act(obs["state"]))
                done, t = terminated or truncated, t + 1
    finally:
        env.close()
    return np.stack(frames), np.stack(targets).astype(np.float32)


class Probe(nn.Module):
    def __init__(self, depth: int, size: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        from twist_models.networks import MLP, ConvEncoder

        self.encoder = ConvEncoder(depth, size)
        self.head = MLP(self.encoder.out_dim, 3 * len(POSITIONS), hidden, layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(image))


def errors_cm(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Mean Euclidean errors in cm of (N, 9) positions (ee, cube, goal): each, the cube relative
    to the end effector and the goal relative to the cube (what the teachers' push actions turn
    on), and the cube's median."""
    ee, cube, goal = (slice(3 * i, 3 * i + 3) for i in range(3))
    err = pred - true

    def cm(e: np.ndarray) -> float:
        return 100 * float(np.linalg.norm(e, axis=1).mean())

    return {"ee_cm": cm(err[:, ee]), "cube_cm": cm(err[:, cube]), "goal_cm": cm(err[:, goal]),
            "cube_rel_ee_cm": cm(err[:, cube] - err[:, ee]), "goal_rel_cube_cm": cm(err[:, goal] - err[:, cube]),
            "cube_cm_median": 100 * float(np.median(np.linalg.norm(err[:, cube], axis=1)))}  # fmt: skip


def probe_size(args: argparse.Namespace, size: int) -> dict:
    t0 = time.time()
    train_x, train_y = collect(args.task, size, "train", "train", args.train_episodes, args.seed,
                               args.frame_every, args.expert_noise, args.dr_config)  # fmt: skip
    tests = {
        name: collect(
            args.task,
            size,
            split,
            "eval",
            args.test_episodes,
            args.test_seed,
            args.frame_every,
            args.expert_noise,
            args.dr_config,
        )  # fmt: skip
        for name, split in zip(SETS, ("train", "heldout"), strict=True)
    }
    collect_s = time.time() - t0
    print(f"[probe] {size}x{size}: {len(train_x)} training frames, "
          f"{len(tests['heldout_split'][0])} per test set, rendered in {collect_s:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
    mean, std = train_y.mean(0), train_y.std(0) + 1e-6
    torch.manual_seed(args.seed)
    probe = Probe(args.depth, size)
    opt = torch.optim.Adam(probe.parameters(), lr=args.lr)
    gen = np.random.default_rng(args.seed)
    y_norm = torch.from_numpy((train_y - mean) / std)
    x_all = torch.from_numpy(train_x)

    def predict(x: np.ndarray) -> np.ndarray:
        probe.eval()
        with torch.no_grad():
            out = torch.cat([probe(torch.from_numpy(x[i : i + 256])) for i in range(0, len(x), 256)])
        probe.train()
        return out.numpy() * std + mean

    result = {"size": size, "train_frames": len(train_x), "test_frames": len(tests["heldout_split"][0]),
              "collect_s": collect_s, "predict_mean": {k: errors_cm(np.broadcast_to(mean, y.shape), y)
                                                       for k, (_, y) in tests.items()},
              "curve": []}  # fmt: skip
    t1 = time.time()
    running = []
    for update in range(1, args.updates + 1):
        idx = torch.from_numpy(gen.integers(0, len(x_all), args.batch))
        loss = (probe(x_all[idx]) - y_norm[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
        if update % args.eval_every == 0 or update == args.updates:
            point = {"update": update, "train_loss": float(np.mean(running)), "seconds": time.time() - t1}
            point.update({k: errors_cm(predict(x), y) for k, (x, y) in tests.items()})
            running = []
            result["curve"].append(point)
            print(f"[probe] {size}x{size} update {update}/{args.updates} loss {point['train_loss']:.4f} "
                  + " ".join(f"{k} cube {point[k]['cube_cm']:.2f} cm rel {point[k]['cube_rel_ee_cm']:.2f} cm"
                             for k in SETS)
                  + f" ({point['seconds']:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
    result["train_s"] = time.time() - t1
    result["final"] = result["curve"][-1]
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="block_push", choices=("block_push", "block_lift"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--train-episodes", type=int, default=100)
    parser.add_argument("--test-episodes", type=int, default=10)
    parser.add_argument("--frame-every", type=int, default=2)
    parser.add_argument("--expert-noise", type=float, default=0.3)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument(
        "--depth", type=int, default=16, help="ConvEncoder depth (the cpu preset's cnn_depth)"
    )
    parser.add_argument("--dr-config", type=Path, help="DR YAML (default: config/dr/default.yaml)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-seed", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record", type=Path, help="write the JSON here as well")
    args = parser.parse_args(argv)
    for name in (
        "train_episodes",
        "test_episodes",
        "frame_every",
        "updates",
        "eval_every",
        "batch",
        "threads",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    result = {"task": args.task, "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "sizes": [probe_size(args, s) for s in args.sizes]}  # fmt: skip
    text = json.dumps(result, indent=1)
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
