"""The deploy graph over real DDS on loopback: sim twin + policy node + trial manager.

The policy is a real StudentPolicy from a debug bundle (untrained, so outcomes are not the point:
the invariants, holds, gating and records are).
"""

import csv
import subprocess
import sys
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from mcap_ros2.reader import read_ros2_messages
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_srvs.srv import SetBool
from twist_deploy.nodes.graph import Graph
from twist_deploy.safety import SafetyConfig, WorkspaceBox, check_command

PERIOD = 0.1  # the task's 10 Hz
DELIVERY_S = 1.0  # bound on a command's delivery delay, for unstamped (multipanda) commands


@pytest.fixture
def graph(bundle, domain_id, tmp_path):
    g = Graph("block_push", bundle, domain_id=domain_id, session_dir=tmp_path / "runs")
    yield g
    g.shutdown()


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)


def assert_invariants(sim, cfg: SafetyConfig, stale_timeout_s: float, velocity: bool = False) -> None:
    """Every command the sim twin received is safe with respect to a pose the sim had published
    at most the stale timeout before the command was made: the policy ages poses by their stamps,
    so the pose it measured is one of those. A command's time is its header stamp (when the policy
    made it); an unstamped Float64MultiArray is dated by its receipt, so for it the window also
    reaches back over the delivery delay, bounded by DELIVERY_S. A velocity command carries only
    the delta: it is checked as that delta applied to the measured pose."""
    published = list(sim.published)
    assert sim.received
    for t_recv, stamp, ee_recv, target in sim.received:
        assert np.all(np.isfinite(target))
        t_made, slack = (t_recv, DELIVERY_S) if stamp is None else (stamp, 0.0)
        assert t_made <= t_recv + 1e-6, "command stamped after the sim received it"
        candidates = [p for t, p in published if t_made - stale_timeout_s - slack <= t <= t_made]
        if velocity:
            ok = any(check_command(p, p + (target - ee_recv), cfg) is None for p in candidates)
        else:
            ok = cfg.box.contains(target) and any(check_command(p, target, cfg) is None for p in candidates)
        assert ok, f"unsafe command {target} made at {t_made:.3f} (received {t_recv:.3f})"


def policy_safety(g: Graph) -> SafetyConfig:
    """The limits the policy node was launched with (from config/deploy*.yaml)."""
    box = WorkspaceBox(*(tuple(g.policy.get_parameter(n).value) for n in ("workspace_low", "workspace_high")))
    return SafetyConfig(box=box)


def command_stamps(g: Graph) -> list[float]:
    stamps = []
    g.operator.create_subscription(
        PoseStamped,
        "/target_pose",
        lambda m: stamps.append(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec),
        50,
    )
    return stamps


def test_closed_loop_trial_records_and_stays_safe(graph):
    graph.run_trials(1)
    state = graph.state()
    assert state["trial"] == 1 and state["steps"] == 150 and state["outcome"] in ("success", "failure")
    wait_until(lambda: len(graph.sim.received) >= 150, 5.0, "the last command reaches the sim")
    time.sleep(0.5)
    assert len(graph.sim.received) == 150  # and none after the trial
    box = WorkspaceBox(
        *(tuple(graph.policy.get_parameter(n).value) for n in ("workspace_low", "workspace_high"))
    )
    assert_invariants(graph.sim, SafetyConfig(box=box), stale_timeout_s=0.5)

    session = graph.trials.session
    rows = list(csv.DictReader((session / "session.csv").open()))
    assert len(rows) == 1 and rows[0]["outcome"] == state["outcome"] and rows[0]["steps"] == "150"
    assert rows[0]["notes"] == "privileged sim state"
    bag = session / "trial_001" / "trial_001_0.mcap"
    topics: dict[str, int] = {}
    poses, targets = [], []
    for m in read_ros2_messages(bag):
        topics[m.channel.topic] = topics.get(m.channel.topic, 0) + 1
        if m.channel.topic == "/target_pose":
            assert m.ros_msg.header.frame_id == "base"
        if m.channel.topic in ("/target_pose", "/current_pose"):
            stamp, p = m.ros_msg.header.stamp, m.ros_msg.pose.position
            (targets if m.channel.topic == "/target_pose" else poses).append(
                (stamp.sec + 1e-9 * stamp.nanosec, p.x, p.y, p.z)
            )
    assert topics["/target_pose"] == 150
    for topic in ("/camera/camera/color/image_raw", "/current_pose", "/diagnostics", "/twist_policy/status"):
        assert topics.get(topic, 0) > 0, topic
    assert (session / "trial_001" / "metadata.yaml").is_file()
    # Each command is relative to the pose measured with its frame (the sim twin stamps a step's
    # frame and pose alike and sends the frame first), not the step before's: within 2 cm of the
    # newest pose stamped before it. A pose late by more than pose_sync_s (a starved CI machine)
    # lets a command go ahead on the older one, counted; a few may.
    poses, targets = np.array(sorted(poses)), np.array(targets)
    newest = np.searchsorted(poses[:, 0], targets[:, 0]) - 1
    checked = newest >= 0
    off = np.abs(targets[checked, 1:] - poses[newest[checked], 1:]).max(axis=1)
    unsynced = graph.policy.ctl.counters.unsynced_pose
    assert checked.sum() >= 140 and (off > 0.02 + 1e-6).sum() <= unsynced <= 5, (unsynced, np.sort(off)[-5:])


def test_no_command_outside_trial_and_abort_stops_at_once(graph):
    stamps = command_stamps(graph)
    time.sleep(1.5)
    assert not graph.sim.received and not stamps, "commands sent while idle"
    graph.start_trial()
    wait_until(lambda: len(stamps) >= 10, 10.0, "commands during the trial")
    ok, msg = graph.call("abort")
    t_abort = time.time()
    assert ok, msg
    n_at_abort = len(stamps)
    time.sleep(1.0)
    assert max(stamps) <= t_abort, "a command was stamped after the abort answered"
    assert len(stamps) <= n_at_abort + 1  # at most one already in flight
    assert graph.state()["outcome"] == "aborted" and graph.policy.ctl.mode.value == "holding"
    n_after = len(graph.sim.received)
    time.sleep(0.5)
    assert len(graph.sim.received) == n_after


def test_camera_stops_mid_trial_holds_within_timeout(graph):
    camera = graph.operator.create_client(SetBool, "/twist_sim/set_camera")
    graph.start_trial()
    wait_until(lambda: graph.policy.ctl.steps >= 5, 10.0, "first commands")
    assert camera.wait_for_service(timeout_sec=5.0)
    camera.call_async(SetBool.Request(data=False))
    timeout = graph.policy.ctl.cfg.stale_timeout_s
    n_off = len(graph.sim.received)
    wait_until(lambda: graph.policy.ctl.stale, timeout + 2.0, "stale hold")
    n_held = len(graph.sim.received)
    assert n_held <= n_off + 1  # no frame, no command: the hold starts with the last frame
    time.sleep(0.7)
    assert len(graph.sim.received) == n_held, "commands while the camera is silent"
    level, message, values = graph.policy.ctl.diagnostics()
    assert level == 1 and "stale" in message and int(values["stale_ticks"]) > 0
    camera.call_async(SetBool.Request(data=True))
    wait_until(lambda: len(graph.sim.received) > n_held + 3, 5.0, "resume after the camera returns")
    assert graph.policy.ctl.mode.value == "running" and not graph.policy.ctl.stale


def test_nan_model_output_holds_and_enters_error(graph):
    graph.start_trial()
    wait_until(lambda: graph.policy.ctl.steps >= 5, 10.0, "first commands")
    # Poison the loaded weights of the real policy: its next step returns NaN.
    for p in graph.policy.policy.actor.parameters():
        p.data.fill_(float("nan"))
    n_poisoned = len(graph.sim.received)
    state = graph.wait_for(lambda s: s["state"] == "error", 5.0)
    assert state["outcome"] == "error" and "non-finite" in state["reason"]
    assert graph.policy.ctl.mode.value == "error"
    time.sleep(0.5)
    assert len(graph.sim.received) <= n_poisoned + 1  # at most one computed before the poison
    assert graph.policy.ctl.diagnostics()[0] == 2
    ok, msg = graph.call("start")
    assert not ok and "reset" in msg  # waits for the operator
    assert graph.call("reset")[0] and graph.state()["state"] == "idle"


def test_malformed_images_are_counted_and_dropped(graph):
    pub = graph.operator.create_publisher(Image, "/camera/camera/color/image_raw", qos_profile_sensor_data)
    graph.start_trial()
    wait_until(
        lambda: graph.policy.ctl.steps >= 3 and pub.get_subscription_count() > 0, 10.0, "first commands"
    )
    bad = [
        Image(height=4, width=4, encoding="yuv422", step=8, data=bytes(32)),
        Image(height=0, width=4, encoding="rgb8", step=12, data=b""),
        Image(height=4, width=4, encoding="rgb8", step=10, data=bytes(40)),
        Image(height=4, width=4, encoding="rgb8", step=12, data=b""),
    ]
    # The camera subscription keeps only the newest frame (depth 1, best effort): a frame that
    # arrives while the node is busy is replaced by the next one, by design. So each bad frame is
    # sent until the node has seen it, and the test counts what it delivered.
    counters = graph.policy.ctl.counters
    for msg in bad * 2:
        before = counters.malformed
        for _ in range(50):
            pub.publish(msg)
            deadline = time.monotonic() + 0.3
            while counters.malformed == before and time.monotonic() < deadline:
                time.sleep(0.01)
            if counters.malformed > before:
                break
        assert counters.malformed > before, f"{msg.encoding} {msg.height}x{msg.width} never counted"
    reasons = counters.malformed_reasons
    assert set(reasons) == {"encoding", "size", "step", "data"} and min(reasons.values()) >= 2
    assert sum(reasons.values()) == counters.malformed
    steps = graph.policy.ctl.steps
    wait_until(lambda: graph.policy.ctl.steps >= steps + 5, 5.0, "node keeps commanding")
    assert graph.policy.ctl.mode.value == "running"
    values = graph.policy.ctl.diagnostics()[2]
    assert int(values["malformed_frames"]) == graph.policy.ctl.counters.malformed


def test_wrong_or_mismatching_bundle_refuses_to_start(bundle, domain_id, tmp_path):
    with pytest.raises(ValueError, match="bundle"):
        Graph("block_push", tmp_path / "missing", domain_id=domain_id, session_dir=tmp_path)
    with pytest.raises(ValueError, match="task"):
        Graph("block_lift", bundle, domain_id=domain_id, session_dir=tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "from twist_deploy.nodes.policy_node import main; main()",
         "--ros-args", "-p", f"bundle:={tmp_path / 'missing'}"],
        capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "ROS_DOMAIN_ID": str(domain_id)},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "refusing to start" in proc.stderr and "missing" in proc.stderr


@pytest.mark.parametrize(
    "task, interface", [("block_push", "multipanda"), ("block_push", "twist"), ("block_lift", "pose")]
)
def test_other_interfaces_and_lift_close_the_loop(task, interface, domain_id, tmp_path):
    from twist_models.testing import make_debug_bundle

    bundle = make_debug_bundle(tmp_path / "bundle", task=task, seed=1)
    g = Graph(task, bundle, domain_id=domain_id, session_dir=tmp_path / "runs", interface=interface)
    try:
        g.start_trial()
        wait_until(lambda: len(g.sim.received) >= 10, 10.0, "commands reach the sim")
        assert g.call("abort")[0]
        assert_invariants(g.sim, policy_safety(g), stale_timeout_s=0.5, velocity=interface == "twist")
        if task == "block_lift":
            assert g.policy.gripper_pub is not None and -1.0 <= g.sim.gripper <= 1.0
    finally:
        g.shutdown()


def test_second_graph_in_the_same_domain_is_refused(graph, bundle, domain_id, tmp_path):
    """Two graphs in one domain would drive each other's sims: the second refuses to start."""
    with pytest.raises(RuntimeError, match=f"ROS domain {domain_id} already has TWIST nodes"):
        # A generous discovery window: the probe returns as soon as it sees the first graph.
        Graph("block_push", bundle, domain_id=domain_id, session_dir=tmp_path / "second", discovery_s=10.0)
    assert graph.executor is not None and graph.sim.worker.is_alive()  # the first graph is untouched


def test_snapshot_reports_the_data_flow(graph):
    """What a stalled trial's TimeoutError carries."""
    wait_until(lambda: graph.policy.ctl.counters.images > 0, 10.0, "first image")
    text = graph.snapshot()
    assert "sim: steps" in text and "policy: images" in text and "worker alive True" in text


def test_trials_time_out_on_no_progress_not_on_slowness(graph):
    """run_trials fails a trial that stops stepping, not one that is slow: each new step restarts
    the timeout (here 5 s, while 80 steps take 8 s at 10 Hz)."""
    graph.start_trial()
    state = graph.wait_for(lambda s: s["steps"] >= 80, 5.0, progress=lambda s: (s["trial"], s["steps"]))
    assert state["state"] == "running" and state["steps"] >= 80
    assert graph.call("abort")[0]
    with pytest.raises(TimeoutError, match="no progress in 1.0 s"):
        graph.wait_for(lambda s: False, 1.0, progress=lambda s: (s["trial"], s["steps"]))
