"""The executor must block while its threads are busy, not spin.

Regression test for the deploy graph's crawl (docs/deploy.md, "Executor wake-ups"): with
rclpy's default QoS-event handlers on a subscription, rmw_fastrtps (ROS 2 Kilted) wakes the wait
set whenever that subscription holds unread data, and reports nothing ready. When every thread
of a MultiThreadedExecutor is busy (a model step, a sim step, a service call waiting for its
answer), a ready subscription's callback waits in the thread pool, its data stays unread, and
the executor loops without blocking. `subscribe` leaves those handlers out.

Both variants run here side by side, so the test also shows that it can see the spin: the
default handlers must spin (if a later rmw stops doing that, this test says so and the
workaround can go), and `subscribe` must not.
"""

import threading
import time

import pytest
import rclpy
import rclpy.executors
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from std_msgs.msg import String
from twist_deploy.nodes.common import SENSOR_QOS, spin_in_thread, subscribe

MEASURE_S = 1.0  # how long wake-ups are counted while both executor threads are busy


class CountingWaitSet:
    """rclpy's wait set, counting the times `wait` returns."""

    wakeups = 0

    def __init__(self, real, *args):
        self._real = real.WaitSet(*args)

    def wait(self, timeout_ns):
        self._real.wait(timeout_ns)
        CountingWaitSet.wakeups += 1

    def __getattr__(self, name):
        return getattr(self._real, name)


class CountingBindings:
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        if name == "WaitSet":
            return lambda *args: CountingWaitSet(self._real, *args)
        return getattr(self._real, name)


def wakeups_while_busy(domain_id: int, topic: str, quiet: bool) -> int:
    """Wait-set wake-ups in MEASURE_S while both executor threads are busy and a publisher keeps
    sending at 100 Hz (a camera, a pose stream) to a subscription of the same node."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node(f"busy_{topic}", context=context)
    occupied = threading.Semaphore(0)  # released once per pool thread that is now blocked
    release = threading.Event()  # set by the test when it has measured

    def occupy_a_thread() -> None:
        if not release.is_set():
            occupied.release()
            release.wait(timeout=30.0)

    blockers = ReentrantCallbackGroup()
    for _ in range(2):
        node.create_timer(0.05, occupy_a_thread, callback_group=blockers)
    if quiet:
        subscribe(node, String, topic, lambda _: None, SENSOR_QOS)
    else:
        node.create_subscription(String, topic, lambda _: None, SENSOR_QOS)
    publisher = node.create_publisher(String, topic, SENSOR_QOS)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            publisher.publish(String(data="frame"))
            time.sleep(0.01)

    sender = threading.Thread(target=publish, daemon=True)
    try:
        sender.start()
        spin_in_thread(executor)
        for _ in range(2):  # both pool threads block in occupy_a_thread until released
            assert occupied.acquire(timeout=10.0), "the executor did not run the blocking timers"
        time.sleep(0.2)  # new messages arrive; their callback cannot start
        before = CountingWaitSet.wakeups
        time.sleep(MEASURE_S)
        return CountingWaitSet.wakeups - before
    finally:
        release.set()
        stop.set()
        sender.join(timeout=2.0)
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.fixture
def counting_wait_sets(monkeypatch):
    monkeypatch.setattr(rclpy.executors, "_rclpy", CountingBindings(rclpy.executors._rclpy))


def test_subscribe_lets_the_executor_block_while_its_threads_are_busy(counting_wait_sets, domain_id):
    spinning = wakeups_while_busy(domain_id, "with_default_events", quiet=False)
    quiet = wakeups_while_busy(domain_id, "without_default_events", quiet=True)
    # In one second of busy threads: hundreds to thousands of empty wake-ups with the default
    # handlers (its loop is CPU-bound, so fewer on a loaded machine; about 3000 a second in the
    # deploy graph), none without them.
    assert quiet <= 20, f"executor woke {quiet} times while its threads were busy"
    assert spinning > 100, f"default event handlers no longer spin the executor ({spinning} wake-ups)"
