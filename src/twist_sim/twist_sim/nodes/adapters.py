"""Command adapters: one per Franka controller interface, shared by the robot side (policy node)
and the simulated robot (sim twin), so both speak exactly the same messages.

interface  message                      content
"pose"     geometry_msgs/PoseStamped    target position + held orientation (CRISP `target_pose`)
"multipanda"   std_msgs/Float64MultiArray   [x, y, z, r00, r01, ..., r22]: position then the 3x3
                                        rotation matrix row-major (multipanda_ros2 impedance)
"twist"    geometry_msgs/TwistStamped   linear = delta * control_hz (m/s), angular zero

All in the robot base frame. Each adapter encodes a target and decodes one back to a position, so
the sim twin executes what a real controller would.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

INTERFACES = ("pose", "multipanda", "twist")
MESSAGE_TYPES = {"pose": PoseStamped, "multipanda": Float64MultiArray, "twist": TwistStamped}


def check_interface(interface: str) -> str:
    if interface not in INTERFACES:
        raise ValueError(f"command interface must be one of {INTERFACES}, got {interface!r}")
    return interface


def quat_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) -> rotation matrix (3, 3). Normalises first."""
    x, y, z, w = np.asarray(q_xyzw, dtype=np.float64) / np.linalg.norm(q_xyzw)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def encode(
    interface: str,
    target: np.ndarray,
    delta: np.ndarray,
    orientation_xyzw: np.ndarray,
    stamp,
    frame_id: str,
    control_hz: float,
):
    """Build the command message for `interface`. stamp: builtin_interfaces/Time."""
    if interface == "pose":
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = stamp, frame_id
        p, q = msg.pose.position, msg.pose.orientation
        p.x, p.y, p.z = (float(v) for v in target)
        q.x, q.y, q.z, q.w = (float(v) for v in orientation_xyzw)
        return msg
    if interface == "multipanda":
        msg = Float64MultiArray()
        msg.layout.dim = [MultiArrayDimension(label="position+rotation_row_major", size=12, stride=12)]
        msg.data = [float(v) for v in target] + [
            float(v) for v in quat_to_matrix(orientation_xyzw).reshape(-1)
        ]
        return msg
    if interface == "twist":
        msg = TwistStamped()
        msg.header.stamp, msg.header.frame_id = stamp, frame_id
        v = msg.twist.linear
        v.x, v.y, v.z = (float(d) * control_hz for d in delta)
        return msg
    raise ValueError(f"command interface must be one of {INTERFACES}, got {interface!r}")


def decode(interface: str, msg, current_position: np.ndarray, control_hz: float) -> np.ndarray:
    """Commanded target position (3,) from a command message; ValueError when malformed."""
    if interface == "pose":
        p = msg.pose.position
        return np.array([p.x, p.y, p.z], dtype=np.float64)
    if interface == "multipanda":
        if len(msg.data) != 12:
            raise ValueError(f"matrix command needs 12 values (position + 3x3 rotation), got {len(msg.data)}")
        return np.asarray(msg.data[:3], dtype=np.float64)
    if interface == "twist":
        v = msg.twist.linear
        return np.asarray(current_position, dtype=np.float64) + np.array([v.x, v.y, v.z]) / control_hz
    raise ValueError(f"command interface must be one of {INTERFACES}, got {interface!r}")
