"""Sim twin: the MuJoCo task behind the real robot's topics, so the deploy stack runs unchanged.

Publishes what a Franka + RealSense setup publishes (colour image and camera_info on the RealSense
driver's topic names, the measured end-effector pose), executes commands through the same adapters
as the robot controllers, steps at the control rate, and reports success from privileged state.
It also publishes that privileged state (what no robot can) for trial reports, with the camera
image's stamp: `~/cube_position` and `~/goal_position` (geometry_msgs/PointStamped, base frame,
metres); the true end-effector position is the `/current_pose` it already publishes.
The latest commands and published poses are kept, bounded, so tests can verify what the robot side
was sent: `received` holds (receipt time, the command's header stamp or None for an unstamped
Float64MultiArray, measured position, target) and `published` (pose stamp, position); all times
are this node's ROS clock in seconds, the clock that stamps the messages.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Bool, Float64
from std_srvs.srv import SetBool, Trigger

from twist_sim import make_env
from twist_sim.nodes import adapters
from twist_sim.nodes.subscriptions import subscribe
from twist_sim.tasks import ACTION_SCALE_M

DEFAULTS = {
    "task": "block_push",
    "seed": 0,
    "split": "heldout",  # held-out appearance, as in the paper's evaluation
    "dr_mode": "off",  # "eval": DR sampled once per episode from the split
    "image_size": 64,
    "control_hz": 0.0,  # 0: the task's control rate
    "command_interface": "pose",
    "command_topic": "/target_pose",
    "gripper_topic": "/twist/gripper",
    "image_topic": "/camera/camera/color/image_raw",
    "camera_info_topic": "/camera/camera/color/camera_info",
    "pose_topic": "/current_pose",
    "base_frame": "base",
    "camera_frame": "camera_color_optical_frame",
    "camera_fovy_deg": 45.0,
}
HISTORY = 5000
# Hand pointing down: 180 degrees about x (x, y, z, w).
DOWN_XYZW = (1.0, 0.0, 0.0, 0.0)


class SimTwin(Node):
    def __init__(self, **node_kwargs):
        super().__init__("twist_sim", **node_kwargs)
        p = self.p = {n: self.declare_parameter(n, v).value for n, v in DEFAULTS.items()}
        self.interface = adapters.check_interface(p["command_interface"])
        self.lock = threading.Lock()
        self.seed = int(p["seed"])
        self.target: np.ndarray | None = None
        self.gripper = -1.0
        self.goal: np.ndarray | None = None
        self.reset_request = threading.Event()
        self.reset_done = threading.Event()
        self.received: collections.deque = collections.deque(maxlen=HISTORY)
        self.published: collections.deque = collections.deque(maxlen=HISTORY)
        self.steps = 0
        self.ee = np.zeros(3)
        self.image_pub = self.create_publisher(Image, p["image_topic"], qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, p["camera_info_topic"], qos_profile_sensor_data)
        self.pose_pub = self.create_publisher(PoseStamped, p["pose_topic"], qos_profile_sensor_data)
        self.success_pub = self.create_publisher(Bool, "~/success", 10)
        self.cube_pub = self.create_publisher(PointStamped, "~/cube_position", 10)
        self.goal_pub = self.create_publisher(PointStamped, "~/goal_position", 10)
        subscribe(self, adapters.MESSAGE_TYPES[self.interface], p["command_topic"], self.on_command, 10)
        subscribe(self, Float64, p["gripper_topic"], lambda m: setattr(self, "gripper", float(m.data)), 10)
        subscribe(self, PointStamped, "/clicked_point", self.on_goal, 10)
        self.create_service(Trigger, "~/reset", self.on_reset)
        # Fault injection: a camera that stops delivering frames (cable, driver crash).
        self.camera_on = True
        self.create_service(SetBool, "~/set_camera", self.on_set_camera)
        # MuJoCo's EGL context belongs to the thread that made it: one thread owns the env and
        # steps it on a fixed schedule; ROS callbacks only hand it requests.
        self.running = True
        ready = threading.Event()
        self.error: BaseException | None = None
        self.worker = threading.Thread(target=self.run, args=(ready,), daemon=True, name="sim_twin")
        self.worker.start()
        ready.wait()
        if self.error is not None:
            raise self.error

    def run(self, ready: threading.Event) -> None:
        p = self.p
        try:
            self.env = make_env(
                p["task"],
                split=p["split"],
                dr_mode=p["dr_mode"],
                image_size=p["image_size"],
                render_image=True,
            )
            self.task = self.env.unwrapped.task
            self.hz = p["control_hz"] or self.task.control_hz
            self.reset_env()
        except BaseException as exc:  # re-raised in the constructor's thread
            self.error = exc
            ready.set()
            return
        ready.set()
        period, next_tick = 1.0 / self.hz, time.monotonic()
        while self.running:
            next_tick += period
            if self.reset_request.is_set():
                self.reset_request.clear()
                self.reset_env()
                self.reset_done.set()
            else:
                self.step()
            # A camera that falls behind skips frames rather than bursting them out to catch up.
            next_tick = max(next_tick, time.monotonic())
            time.sleep(max(0.0, next_tick - time.monotonic()))
        self.env.close()

    def reset_env(self) -> None:
        self.obs, self.info = self.env.reset(seed=self.seed)
        with self.lock:
            self.seed += 1
            self.target, self.steps, self.goal = None, 0, None
            self.ee = self.env.unwrapped.ee_position().copy()
        self.publish()

    def on_reset(self, _, response):
        self.reset_done.clear()
        self.reset_request.set()
        ok = self.reset_done.wait(10.0)
        response.success = ok
        response.message = (
            f"episode reset with seed {self.seed - 1}" if ok else "sim did not reset within 10 s"
        )
        return response

    def on_set_camera(self, request, response):
        self.camera_on = bool(request.data)
        response.success, response.message = True, f"camera {'on' if self.camera_on else 'off'}"
        return response

    def on_command(self, msg) -> None:
        with self.lock:
            try:
                target = adapters.decode(self.interface, msg, self.ee, self.hz)
            except ValueError as exc:
                self.get_logger().warn(f"ignored malformed command: {exc}")
                return
            header = getattr(msg, "header", None)
            stamp = None if header is None else header.stamp.sec + 1e-9 * header.stamp.nanosec
            self.received.append((self.now(), stamp, self.ee.copy(), target))
            self.target = target

    def on_goal(self, msg: PointStamped) -> None:
        with self.lock:
            self.goal = np.array([msg.point.x, msg.point.y, msg.point.z])

    def step(self) -> None:
        with self.lock:
            target, goal, gripper = self.target, self.goal, self.gripper
            self.target, self.goal = None, None
        if goal is not None:
            self.env.unwrapped.set_goal(goal)
        ee = self.env.unwrapped.ee_position()
        # A new target is executed once; without one the arm holds, as an impedance controller does.
        delta = np.zeros(3) if target is None else (target - ee) / ACTION_SCALE_M
        action = np.concatenate([delta, [gripper]])[: self.task.action_dim].astype(np.float32)
        self.obs, _, _, _, self.info = self.env.step(np.clip(action, -1.0, 1.0))
        with self.lock:
            self.steps += 1
            self.ee = self.env.unwrapped.ee_position().copy()
        self.publish()

    def destroy_node(self):
        self.running = False
        if self.worker.is_alive():
            self.worker.join(timeout=5.0)
        return super().destroy_node()

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def publish(self) -> None:
        clock = self.get_clock().now()
        stamp = clock.to_msg()
        if self.camera_on:
            image = np.ascontiguousarray(self.obs["image"])
            h, w = image.shape[:2]
            msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w)
            msg.header.stamp, msg.header.frame_id = stamp, self.p["camera_frame"]
            msg.data = image.tobytes()
            self.image_pub.publish(msg)
            self.info_pub.publish(self.camera_info(stamp, h, w))
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.p["base_frame"]
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (
            float(v) for v in self.env.unwrapped.ee_position()
        )
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = DOWN_XYZW
        self.pose_pub.publish(pose)
        self.published.append((clock.nanoseconds * 1e-9, self.ee.copy()))
        self.success_pub.publish(Bool(data=bool(self.info.get("success", False))))
        cube = self.obs["state"][slice(*self.task.state_layout["cube_pos"])]
        self.cube_pub.publish(self.point(stamp, cube))
        self.goal_pub.publish(self.point(stamp, self.env.unwrapped.goal_position()))

    def point(self, stamp, xyz) -> PointStamped:
        msg = PointStamped()
        msg.header.stamp, msg.header.frame_id = stamp, self.p["base_frame"]
        msg.point.x, msg.point.y, msg.point.z = (float(v) for v in xyz)
        return msg

    def camera_info(self, stamp, h: int, w: int) -> CameraInfo:
        f = 0.5 * h / np.tan(np.deg2rad(self.p["camera_fovy_deg"]) / 2)
        info = CameraInfo(height=h, width=w, distortion_model="plumb_bob", d=[0.0] * 5)
        info.header.stamp, info.header.frame_id = stamp, self.p["camera_frame"]
        info.k = [f, 0.0, w / 2, 0.0, f, h / 2, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [f, 0.0, w / 2, 0.0, 0.0, f, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info


def main(args=None) -> None:
    rclpy.init(args=args)
    node = SimTwin()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
