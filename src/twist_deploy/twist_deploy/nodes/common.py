"""Small rclpy helpers shared by the deploy nodes."""

from __future__ import annotations

import threading

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger
from twist_sim.nodes.subscriptions import subscribe

__all__ = ["subscribe"]  # re-exported: every deploy node subscribes through it

# Camera frames: best effort, keep only the newest. A late frame is worthless to the controller,
# so nothing is queued (rclpy's qos_profile_sensor_data keeps 5).
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
# Trial state: late joiners (RViz, recorders) get the current state at once.
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def declare(node: Node, defaults: dict) -> dict:
    """Declare every parameter with its default and return the values in effect."""
    return {name: node.declare_parameter(name, value).value for name, value in defaults.items()}


def stamp_to_sec(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def call_trigger(client, timeout_s: float = 5.0) -> tuple[bool, str]:
    """Call a std_srvs/Trigger service and wait for the answer.

    Safe inside another callback when the caller's node uses a reentrant callback group and a
    multi-threaded executor: the response is handled on another executor thread.
    """
    if not client.wait_for_service(timeout_sec=timeout_s):
        return False, f"service {client.srv_name} not available"
    done = threading.Event()
    future = client.call_async(Trigger.Request())
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout_s):
        future.cancel()
        return False, f"service {client.srv_name} did not answer within {timeout_s} s"
    result = future.result()
    return result.success, result.message


def spin_in_thread(executor) -> threading.Thread:
    """Spin `executor` on a daemon thread that ends quietly when its context shuts down."""
    from rclpy.executors import ExternalShutdownException

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass

    thread = threading.Thread(target=spin, daemon=True, name="ros_executor")
    thread.start()
    return thread


def diagnostic_array(name: str, level: int, message: str, values: dict[str, str], stamp) -> DiagnosticArray:
    """One diagnostic_msgs status (level 0 OK, 1 WARN, 2 ERROR) as a /diagnostics message."""
    status = DiagnosticStatus(level=bytes([level]), name=name, message=message, hardware_id=name)
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array


def run_node(factory, log_name: str, refuse_on: tuple[type[BaseException], ...] = (), args=None) -> None:
    """A node's `main`: init, build the node, spin until Ctrl-C, clean up.

    An exception of a `refuse_on` type while building the node is a configuration problem the
    operator must fix (bad bundle, unreachable robot): print it and exit with status 2.
    """
    import sys

    import rclpy

    rclpy.init(args=args)
    try:
        node = factory()
    except refuse_on as exc:
        print(f"[{log_name}] refusing to start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        sys.exit(2)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
