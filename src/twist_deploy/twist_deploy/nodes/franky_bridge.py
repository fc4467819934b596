"""franky bridge: executes PoseStamped targets on a Franka through franky-control (libfranka) and
publishes the measured end-effector pose, so the policy node drives a robot with no ROS driver.

Targets are executed as absolute Cartesian motions in the robot base frame. (franky's relative
motions are expressed in the end-effector frame by default; with the hand pointing down that flips
y and z, so a relative "down" would move up.) Each target is re-checked against the safety
invariants with the freshly measured pose before it reaches the robot.
"""

from __future__ import annotations

import franky
import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node

from twist_deploy.nodes.common import SENSOR_QOS, declare, run_node, subscribe
from twist_deploy.safety import SafetyConfig, WorkspaceBox, check_command

DEFAULTS = {
    "robot_ip": "172.16.0.2",
    "command_topic": "/target_pose",
    "pose_topic": "/current_pose",
    "base_frame": "base",
    "relative_dynamics_factor": 0.1,
    "publish_hz": 30.0,
    "workspace_low": list(WorkspaceBox().low),
    "workspace_high": list(WorkspaceBox().high),
}


class FrankyBridge(Node):
    def __init__(self, **node_kwargs):
        super().__init__("twist_franky", **node_kwargs)
        p = declare(self, DEFAULTS)
        self.frame = p["base_frame"]
        self.safety = SafetyConfig(box=WorkspaceBox(tuple(p["workspace_low"]), tuple(p["workspace_high"])))
        # No RT kernel on a workstation: libfranka must not insist on one.
        self.robot = franky.Robot(p["robot_ip"], realtime_config=franky.RealtimeConfig.Ignore)
        self.robot.relative_dynamics_factor = p["relative_dynamics_factor"]
        self.rejected = 0
        self.pose_pub = self.create_publisher(PoseStamped, p["pose_topic"], SENSOR_QOS)
        subscribe(self, PoseStamped, p["command_topic"], self.on_target, 10)
        self.create_timer(1.0 / p["publish_hz"], self.publish_pose)
        self.get_logger().info(f"connected to Franka at {p['robot_ip']}")

    def measured(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector (position (3,), quaternion xyzw (4,)) in the base frame."""
        pose = self.robot.current_cartesian_state.pose.end_effector_pose
        return np.asarray(pose.translation, dtype=np.float64), np.asarray(pose.quaternion, dtype=np.float64)

    def on_target(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        target = np.array([p.x, p.y, p.z])
        position, _ = self.measured()
        violation = check_command(position, target, self.safety)
        if violation is not None:
            self.rejected += 1
            self.get_logger().error(f"rejected target: {violation}")
            return
        motion = franky.CartesianMotion(
            franky.Affine(target, np.array([q.x, q.y, q.z, q.w])), franky.ReferenceType.Absolute
        )
        try:
            self.robot.move(motion, asynchronous=True)  # a new target preempts the running motion
        except franky.ControlException as exc:
            self.get_logger().error(f"motion failed ({exc}); recovering")
            self.robot.recover_from_errors()

    def destroy_node(self):
        # Finish the running motion and drop the libfranka connection so the robot accepts the next client.
        try:
            self.robot.join_motion(timeout=5.0)
        except franky.ControlException as exc:
            self.get_logger().error(f"last motion failed: {exc}")
        del self.robot
        return super().destroy_node()

    def publish_pose(self) -> None:
        position, quat = self.measured()
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = self.get_clock().now().to_msg(), self.frame
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in quat)
        self.pose_pub.publish(msg)


def main(args=None) -> None:
    run_node(FrankyBridge, "twist_franky", refuse_on=(franky.NetworkException,), args=args)
