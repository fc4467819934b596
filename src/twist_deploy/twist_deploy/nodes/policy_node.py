"""Onboard policy node: camera image -> StudentPolicy -> safe end-effector command.

Thin ROS shell around twist_deploy.control.PolicyController (gating, holds, counters) and
twist_deploy.safety (the invariants). Services ~/start, ~/hold, ~/reset are for the trial manager.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger
from twist_models.policy import StudentPolicy
from twist_sim.nodes import adapters
from visualization_msgs.msg import MarkerArray

from twist_deploy.control import ControlConfig, PolicyController
from twist_deploy.images import MalformedImage, decode_image
from twist_deploy.nodes import markers
from twist_deploy.nodes.common import SENSOR_QOS, declare, diagnostic_array, run_node, stamp_to_sec, subscribe
from twist_deploy.safety import SafetyConfig, WorkspaceBox

DEFAULTS = {
    "bundle": "",
    "task": "",  # when set, the bundle must be for this task
    "device": "cpu",
    "torch_threads": 1,
    "image_topic": "/camera/camera/color/image_raw",
    "pose_topic": "/current_pose",
    "command_interface": "pose",
    "command_topic": "/target_pose",
    "gripper_topic": "/twist/gripper",
    "base_frame": "base",
    "control_hz": 0.0,  # 0: the bundle's control rate
    "stale_timeout_s": 0.5,
    "pose_sync_s": 0.05,  # a command's pose: at most this much older than its frame (twist_deploy.control)
    "workspace_low": list(WorkspaceBox().low),
    "workspace_high": list(WorkspaceBox().high),
}


class PolicyNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("twist_policy", **node_kwargs)
        p = declare(self, DEFAULTS)
        torch.set_num_threads(int(p["torch_threads"]))
        if not p["bundle"]:
            raise ValueError("parameter 'bundle' is empty: pass the policy bundle directory")
        # BundleError (a ValueError) names any hash, shape, key or task mismatch.
        self.policy = StudentPolicy.load(p["bundle"], device=p["device"], task=p["task"] or None)
        spec = self.policy.spec
        self.hz = p["control_hz"] or spec.control_hz
        if abs(self.hz - spec.control_hz) > 1e-9:
            raise ValueError(
                f"control_hz {self.hz} differs from the bundle's {spec.control_hz}: the policy was trained at that rate"
            )
        self.interface = adapters.check_interface(p["command_interface"])
        self.frame = p["base_frame"]
        box = WorkspaceBox(tuple(p["workspace_low"]), tuple(p["workspace_high"]))
        safety = SafetyConfig(box=box, action_scale_m=spec.action_scale_m)
        self.ctl = PolicyController(
            self.policy,
            ControlConfig(
                control_hz=self.hz,
                stale_timeout_s=p["stale_timeout_s"],
                pose_sync_s=p["pose_sync_s"],
                safety=safety,
            ),
        )
        self.goal = None
        self.cmd_pub = self.create_publisher(adapters.MESSAGE_TYPES[self.interface], p["command_topic"], 10)
        self.gripper_pub = (
            self.create_publisher(Float64, p["gripper_topic"], 10) if spec.action_dim == 4 else None
        )
        self.status_pub = self.create_publisher(String, "~/status", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "~/markers", 10)
        subscribe(self, Image, p["image_topic"], self.on_image, SENSOR_QOS)
        subscribe(self, PoseStamped, p["pose_topic"], self.on_pose, SENSOR_QOS)
        subscribe(self, PointStamped, "/clicked_point", self.on_goal, 10)
        self.create_service(Trigger, "~/start", lambda _, r: self.answer(r, *self.ctl.start()))
        self.create_service(Trigger, "~/hold", lambda _, r: self.answer(r, *self.hold("operator hold")))
        self.create_service(Trigger, "~/reset", lambda _, r: self.answer(r, *self.reset()))
        self.create_timer(1.0 / self.hz, self.watchdog)
        # One-shot, armed while a frame waits for its pose: the tick goes ahead when the wait ends.
        # With pose_sync_s 0 no tick ever waits, and there is no timer.
        self.pose_wait = None
        if self.ctl.cfg.pose_sync_s > 0:
            self.pose_wait = self.create_timer(self.ctl.cfg.pose_sync_s, self.end_pose_wait)
            self.pose_wait.cancel()
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(
            f"loaded {spec.task} bundle from {p['bundle']}; {self.interface} commands on {p['command_topic']} at {self.hz} Hz"
        )

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def answer(self, response, ok: bool, message: str):
        response.success, response.message = ok, message
        self.publish_status()
        return response

    def hold(self, reason: str) -> tuple[bool, str]:
        self.ctl.hold(reason)
        return True, f"holding ({self.ctl.mode.value})"

    def reset(self) -> tuple[bool, str]:
        self.ctl.reset()
        return True, "reset to idle"

    def on_image(self, msg: Image) -> None:
        try:
            rgb = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)
        except MalformedImage as exc:
            self.ctl.on_malformed(exc.reason, str(exc))
            self.get_logger().warning(f"dropped malformed image: {exc}", throttle_duration_sec=2.0)
            return
        self.ctl.on_image(rgb, self.now(), stamp_to_sec(msg.header.stamp))
        self.tick()

    def on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        self.ctl.on_pose(
            np.array([p.x, p.y, p.z]),
            np.array([q.x, q.y, q.z, q.w]),
            self.now(),
            stamp_to_sec(msg.header.stamp),
        )
        if self.ctl.awaiting_pose:  # the frame's tick was put off for this pose
            self.tick()

    def end_pose_wait(self) -> None:
        self.pose_wait.cancel()
        self.tick()

    def on_goal(self, msg: PointStamped) -> None:
        self.goal = (msg.point.x, msg.point.y, msg.point.z)

    def tick(self) -> None:
        mode = self.ctl.mode
        command = self.ctl.tick(self.now())
        if self.ctl.awaiting_pose:  # put off for its pose (never with pose_sync_s 0)
            self.pose_wait.reset()
        if command is not None:
            stamp = Time(
                nanoseconds=round(self.ctl.decided_at * 1e9), clock_type=self.get_clock().clock_type
            ).to_msg()
            self.cmd_pub.publish(
                adapters.encode(
                    self.interface,
                    command.target,
                    command.delta,
                    self.ctl.hold_orientation,
                    stamp,
                    self.frame,
                    self.hz,
                )
            )
            if self.gripper_pub is not None:
                self.gripper_pub.publish(Float64(data=command.gripper))
            self.publish_markers(command.target)
        if command is not None or self.ctl.mode is not mode:
            if self.ctl.mode.value == "error":
                self.get_logger().error(f"error state: {self.ctl.reason}; waiting for operator reset")
            self.publish_status()

    def watchdog(self) -> None:
        was_stale = self.ctl.stale
        if self.ctl.watchdog(self.now()) and not was_stale:
            self.get_logger().warning("no fresh image or pose: holding")
            self.publish_status()

    def publish_status(self) -> None:
        status = {
            "state": self.ctl.mode.value,
            "steps": self.ctl.steps,
            "reason": self.ctl.reason,
            "stale": self.ctl.stale,
        }
        self.status_pub.publish(String(data=json.dumps(status)))

    def publish_markers(self, target) -> None:
        box, stamp = self.ctl.cfg.safety.box, self.get_clock().now().to_msg()
        self.marker_pub.publish(
            markers.operator_view(self.frame, stamp, box, target, self.policy.belief(), self.goal)
        )

    def publish_diagnostics(self) -> None:
        level, message, values = self.ctl.diagnostics()
        self.diag_pub.publish(
            diagnostic_array("twist_policy", level, message, values, self.get_clock().now().to_msg())
        )


def main(args=None) -> None:
    run_node(PolicyNode, "twist_policy", refuse_on=(ValueError, FileNotFoundError), args=args)
