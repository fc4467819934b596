"""Deploy latency on this CPU, printed as JSON.

1. StudentPolicy.step alone (preprocess + student encoder + RSSM posterior step + teacher actor)
   on raw 64x64 RGB frames, one torch thread.
2. End to end over real DDS on loopback: a camera publisher sends sensor_msgs/Image (64x64 rgb8)
   to the policy node running as its own process (as under `ros2 launch`); latency is from
   publish to the command's arrival back at the camera process. One frame in flight at a time.

    python benchmarks/bench_policy.py [--bundle B | --preset paper] [--frames 300]

Without --bundle, networks of --preset (default: paper sizes) with untrained weights are exported
with the real bundle code: timing depends on sizes, not on training. Targets: step p50 <= 5 ms,
end-to-end p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

STEP_P50_TARGET_MS = 5.0
E2E_P99_TARGET_MS = 20.0


def export_untrained(out: Path, task: str, preset: str) -> Path:
    """A bundle of freshly initialised `preset`-size networks, written by twist_models' exporter."""
    from twist_models.bundle import write_bundle
    from twist_models.config import load_preset
    from twist_models.networks import Actor, StateDecoder
    from twist_models.student import Student
    from twist_sim.preprocess import PreprocessSpec
    from twist_sim.tasks import make_task

    spec, model = make_task(task), load_preset(preset).model
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    student = Student(spec.action_dim, model)
    actor = Actor(student.rssm.feat_dim, spec.action_dim, model.hidden, model.layers)
    decoder = StateDecoder(student.rssm.feat_dim, spec.state_dim, model.hidden, model.layers)
    torch.random.set_rng_state(gen_state)
    return write_bundle(out, student, actor, decoder, task=task, state_layout=spec.state_layout,
                        control_hz=spec.control_hz, action_scale_m=spec.action_scale_m,
                        preprocess=PreprocessSpec(size=model.image_size), model=model,
                        provenance={"kind": f"benchmark ({preset} sizes, untrained)"})  # fmt: skip


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p99": round(float(np.percentile(a, 99)), 3),
            "mean": round(float(a.mean()), 3), "n": int(a.size)}  # fmt: skip


def bench_step(bundle: Path, iters: int, rng: np.random.Generator) -> dict:
    from twist_models.policy import StudentPolicy

    policy = StudentPolicy.load(bundle, device="cpu")
    frames = rng.integers(0, 256, size=(16, 64, 64, 3), dtype=np.uint8)
    for i in range(20):
        policy.step(frames[i % 16])
    times = []
    for i in tqdm(range(iters), desc="step", leave=False):
        if i % 150 == 0:
            policy.reset()
        t = time.perf_counter()
        policy.step(frames[i % 16])
        times.append(1e3 * (time.perf_counter() - t))
    return percentiles(times)


def bench_e2e(bundle: Path, frames: int, domain_id: int, rng: np.random.Generator) -> dict:
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_srvs.srv import Trigger
    from twist_deploy.nodes.common import SENSOR_QOS, call_trigger, spin_in_thread, subscribe

    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    policy = subprocess.Popen(
        [sys.executable, "-c", "from twist_deploy.nodes.policy_node import main; main()",
         "--ros-args", "-p", f"bundle:={bundle}", "--log-level", "warn"], env=env,
    )  # fmt: skip
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("bench_camera", context=ctx)
    image_pub = node.create_publisher(Image, "/camera/camera/color/image_raw", SENSOR_QOS)
    pose_pub = node.create_publisher(PoseStamped, "/current_pose", SENSOR_QOS)
    arrived = threading.Event()
    subscribe(node, PoseStamped, "/target_pose", lambda _: arrived.set(), 10)
    clients = {n: node.create_client(Trigger, f"/twist_policy/{n}") for n in ("start", "reset")}
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spinner = spin_in_thread(executor)
    pose = PoseStamped()
    pose.pose.position.x, pose.pose.position.z, pose.pose.orientation.x = 0.45, 0.2, 1.0
    period = 0.1  # the bundle's 10 Hz
    latencies, lost = [], 0
    try:
        for _ in range(100):  # until the policy node has seen a pose and accepts a trial
            pose.header.stamp = node.get_clock().now().to_msg()  # the policy ages poses by stamp
            pose_pub.publish(pose)
            if call_trigger(clients["start"], timeout_s=30.0)[0]:
                break
            time.sleep(0.2)
        pixels = rng.integers(0, 256, size=(16, 64, 64, 3), dtype=np.uint8)
        for i in tqdm(range(frames), desc="e2e", leave=False):
            if i and i % 140 == 0:  # a trial is 150 commands: start a fresh one (untimed)
                call_trigger(clients["reset"])
                call_trigger(clients["start"])
            pose.header.stamp = node.get_clock().now().to_msg()
            pose_pub.publish(pose)
            msg = Image(height=64, width=64, encoding="rgb8", step=192)
            msg.data = pixels[i % 16].tobytes()
            arrived.clear()
            t = time.perf_counter()
            msg.header.stamp = node.get_clock().now().to_msg()
            image_pub.publish(msg)
            if arrived.wait(0.5):
                latencies.append(1e3 * (time.perf_counter() - t))
            else:
                lost += 1
            time.sleep(max(0.0, period - (time.perf_counter() - t)))
    finally:
        # The policy process first, escalating, so it cannot outlive the benchmark holding its
        # output pipes; then the camera node in the order of twist_deploy's graph: stop the
        # executor, let its thread leave the wait set, remove the node, destroy it. Destroying a
        # node whose subscription a spinning executor still waits on can block for good.
        policy.terminate()
        try:
            policy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print("[bench] the policy node did not stop within 10 s of SIGTERM: killed", file=sys.stderr)
            policy.kill()
            policy.wait()
        executor.shutdown(timeout_sec=2.0)
        spinner.join(timeout=2.0)
        executor.remove_node(node)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    return {**percentiles(latencies), "frames": frames, "no_command_within_500ms": lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--preset", default="paper", help="network sizes when no --bundle is given")
    parser.add_argument("--task", default="block_push")
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--domain-id", type=int, default=78)  # outside every test range
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the step timing")
    parser.add_argument("--watchdog-s", type=float, default=0.0,
                        help="if > 0: after this many seconds, print every thread's stack and exit 1 "
                             "(a hang becomes a failure that shows where it hung)")  # fmt: skip
    args = parser.parse_args()
    if args.watchdog_s > 0:
        faulthandler.dump_traceback_later(args.watchdog_s, exit=True)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    bundle = args.bundle or export_untrained(Path(tempfile.mkdtemp()) / "bundle", args.task, args.preset)
    step = bench_step(bundle, args.iters, rng)
    e2e = bench_e2e(bundle, args.frames, args.domain_id, rng)
    print(json.dumps({
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": args.threads},
        "bundle": str(args.bundle) if args.bundle else f"untrained {args.preset}-size networks",
        "image": "64x64 rgb8",
        "step_ms": step,
        "e2e_image_to_command_ms": e2e,
        "targets": {"step_p50_ms": STEP_P50_TARGET_MS, "e2e_p99_ms": E2E_P99_TARGET_MS},
        "meets_targets": {"step_p50": step["p50"] <= STEP_P50_TARGET_MS, "e2e_p99": e2e["p99"] <= E2E_P99_TARGET_MS},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
