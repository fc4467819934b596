"""Subscriptions without rclpy's default QoS-event handlers: they keep a busy executor spinning.

rclpy gives every subscription two event handlers by default (requested-incompatible-QoS and
incompatible-type warnings). With rmw_fastrtps in ROS 2 Kilted, a handler's wait-set entry
wakes the wait set while its subscription holds unread data, yet reports nothing ready. Data
stays unread while the subscription's callback waits for a free thread of a multi-threaded
executor (all busy with a model step, a sim step, a service call), and the executor then spins
without blocking: measured in the deploy graph as ~3000 empty wake-ups a second and ~100% CPU on
the spin thread, which starved the callbacks (docs/deploy.md). Publishers keep their default
handlers, so a QoS mismatch with RViz or a camera driver is still reported on the offering side.
"""

from __future__ import annotations

from rclpy.event_handler import SubscriptionEventCallbacks


def subscribe(node, msg_type, topic: str, callback, qos, **kwargs):
    """`node.create_subscription(...)` without the default event handlers (see module doc)."""
    kwargs.setdefault("event_callbacks", SubscriptionEventCallbacks(use_default_callbacks=False))
    return node.create_subscription(msg_type, topic, callback, qos, **kwargs)
