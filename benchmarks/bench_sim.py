"""Simulator throughput as JSON: block-push env steps/s with DR image rendering at 64x64, in one
process and with one worker process per core, and gymnasium-robotics FetchPush-v4 (rgb_array
render at 64x64 every step) in the same run, with the ratio.

    bash benchmarks/setup_peer.sh          # once: .peer-venv with mujoco 3.3.7 for FetchPush
    python benchmarks/bench_sim.py [--steps 1500] [--repeats 3]

FetchPush-v4 (gymnasium-robotics 1.4.2) does not construct with mujoco 4.0, so it runs in a
subprocess of .peer-venv/bin/python. Each figure is the median over --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER = """
import json, sys, time, numpy as np, gymnasium as gym, gymnasium_robotics
gym.register_envs(gymnasium_robotics)
steps = int(sys.argv[1])
env = gym.make("FetchPush-v4", render_mode="rgb_array", width=64, height=64)
rng = np.random.default_rng(0)
env.reset(seed=0)
for _ in range(20):
    env.step(env.action_space.sample()); env.render()
t = time.perf_counter()
for i in range(steps):
    _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
    frame = env.render()
    if term or trunc:
        env.reset()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t), "frame": list(frame.shape)}))
"""


def single_process(steps: int) -> float:
    from twist_sim import make_env

    env = make_env("block_push", dr_mode="train", image_size=64)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(20):  # warm-up: GL context, first texture uploads
        env.step(rng.uniform(-1, 1, 3))
    t = time.perf_counter()
    for _ in range(steps):
        obs, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 3))
        if truncated:
            env.reset()
    rate = steps / (time.perf_counter() - t)
    assert obs["image"].shape == (64, 64, 3)
    env.close()
    return rate


def workers(steps: int, num: int) -> float:
    from twist_sim.vector import make_vector_env

    envs = make_vector_env("block_push", num, processes=True, dr_mode="train", image_size=64)
    rng = np.random.default_rng(0)
    envs.reset(seed=list(range(num)))
    for _ in range(20):
        envs.step(rng.uniform(-1, 1, (num, 3)))
    rounds = max(1, steps // num)
    t = time.perf_counter()
    for _ in range(rounds):
        _, _, _, truncated, _ = envs.step(rng.uniform(-1, 1, (num, 3)))
        if truncated.any():
            envs.reset()
    rate = rounds * num / (time.perf_counter() - t)
    envs.close()
    return rate


def fetch_push(steps: int) -> float | None:
    python = ROOT / ".peer-venv/bin/python"
    if not python.exists():
        return None
    out = subprocess.run(
        [str(python), "-c", PEER, str(steps)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="env steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median reported)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    one = [single_process(args.steps) for _ in range(args.repeats)]
    many = [workers(args.steps, cores) for _ in range(args.repeats)]
    peer = [fetch_push(max(200, args.steps // 5)) for _ in range(args.repeats)]
    result = {
        "block_push_dr_64px_steps_per_s_one_process": round(statistics.median(one), 1),
        "block_push_dr_64px_steps_per_s_workers": round(statistics.median(many), 1),
        "workers": cores,
        "runs": {"one_process": [round(r, 1) for r in one], "workers": [round(r, 1) for r in many]},
        "steps_per_run": args.steps,
        "repeats": args.repeats,
    }
    if peer[0] is None:
        result["fetch_push"] = "skipped: run benchmarks/setup_peer.sh to create .peer-venv"
    else:
        result["fetch_push_64px_steps_per_s"] = round(statistics.median(peer), 1)
        result["runs"]["fetch_push"] = [round(r, 1) for r in peer]
        result["ratio_one_process_vs_fetch_push"] = round(statistics.median(one) / statistics.median(peer), 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
