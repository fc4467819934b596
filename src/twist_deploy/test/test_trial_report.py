"""twist-trial-report: numbers from a session written with the real CSV and bag writers, and a
session recorded by the real node graph over DDS (sim twin ground truth and belief markers)."""

import csv
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped, PoseStamped
from mcap_ros2.reader import read_ros2_messages
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from twist_deploy.bag import BagWriter
from twist_deploy.nodes import markers
from twist_deploy.nodes.common import diagnostic_array
from twist_deploy.safety import WorkspaceBox
from twist_deploy.trial import Trial, write_session_csv

from twist_deploy import report

T0_NS = 1_700_000_000 * 10**9
STEP_NS = 100_000_000  # 10 Hz
STEPS = 20
CUBE_OFFSET = np.array([0.01, 0.0, 0.0])  # belief - truth: 1 cm
EE_OFFSET = np.array([0.0, 0.02, 0.0])  # 2 cm


def _time(ns: int) -> Time:
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def _point(ns: int, xyz) -> PointStamped:
    msg = PointStamped()
    msg.header.stamp, msg.header.frame_id = _time(ns), "base"
    msg.point.x, msg.point.y, msg.point.z = (float(v) for v in xyz)
    return msg


def _pose(ns: int, xyz) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = _time(ns), "base"
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
    msg.pose.orientation.x = 1.0
    return msg


def _image(ns: int, i: int) -> Image:
    """A 32x32 frame: colour gradient with a white square that moves with the step."""
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = np.arange(32)[None, :] * 8
    rgb[..., 2] = np.arange(32)[:, None] * 8
    rgb[10:16, i : i + 6] = 255
    msg = Image(height=32, width=32, encoding="rgb8", step=96)
    msg.header.stamp = _time(ns)
    msg.data = rgb.tobytes()
    return msg


def write_trial_bag(directory, rng: np.random.Generator, diag: dict[str, str]) -> np.ndarray:
    """A 20-step trial as the trial manager records it; returns the true latencies (ms)."""
    bag = BagWriter(directory)
    latencies_ns = rng.integers(3_000_000, 15_000_000, STEPS)
    goal = np.array([0.55, -0.05, 0.02])
    for i in range(STEPS):
        t = T0_NS + i * STEP_NS
        ee, cube = np.array([0.4 + 0.005 * i, 0.0, 0.1]), np.array([0.5 + 0.002 * i, 0.05, 0.02])
        for topic, type_name, msg in (
            ("/camera/camera/color/image_raw", "sensor_msgs/msg/Image", _image(t, i)),
            ("/current_pose", "geometry_msgs/msg/PoseStamped", _pose(t, ee)),
            ("/twist_sim/cube_position", "geometry_msgs/msg/PointStamped", _point(t, cube)),
            ("/twist_sim/goal_position", "geometry_msgs/msg/PointStamped", _point(t, goal)),
        ):
            bag.add_topic(topic, type_name)
            bag.write(topic, serialize_message(msg), t + 500_000)
        # The command is stamped 2 ms after its frame and received latency_ns after the frame.
        target = ee + np.array([0.02, 0.0, 0.0])
        bag.add_topic("/target_pose", "geometry_msgs/msg/PoseStamped")
        bag.write("/target_pose", serialize_message(_pose(t + 2_000_000, target)), t + int(latencies_ns[i]))
        belief = {"ee_pos": ee + EE_OFFSET, "cube_pos": cube + CUBE_OFFSET}
        view = markers.operator_view("base", _time(t + 2_000_000), WorkspaceBox(), target, belief, goal)
        bag.add_topic("/twist_policy/markers", "visualization_msgs/msg/MarkerArray")
        bag.write("/twist_policy/markers", serialize_message(view), t + 3_000_000)
    bag.add_topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray")
    end = T0_NS + STEPS * STEP_NS
    bag.write(
        "/diagnostics", serialize_message(diagnostic_array("twist_policy", 0, "ok", diag, _time(end))), end
    )
    bag.close()
    return latencies_ns / 1e6


@pytest.fixture
def session(tmp_path):
    """Four trials (success, failure, aborted, error); the first two with bags."""
    session = tmp_path / "runs" / "session_20250101_120000"
    t0 = T0_NS / 1e9
    trials = [
        Trial(1, t0, t0 + 15.0, 150, "success", "privileged sim state"),
        Trial(2, t0 + 20, t0 + 35.0, 150, "failure", "privileged sim state"),
        Trial(3, t0 + 40, t0 + 42.0, 12, "aborted", "aborted by operator"),
        Trial(4, t0 + 50, t0 + 51.0, 3, "error", "non-finite action"),
    ]
    write_session_csv(session / "session.csv", trials)
    rng = np.random.default_rng(0)
    latencies = [
        write_trial_bag(session / f"trial_{k:03d}", rng, diag)
        for k, diag in (
            (1, {"dropped_frames": "1", "malformed_frames": "0", "latency_ms_p50": "7.10"}),
            (2, {"dropped_frames": "3", "malformed_frames": "2", "latency_ms_p50": "7.50"}),
        )
    ]
    return session, latencies


def test_report_numbers_equal_csv_and_hand_computed(session, tmp_path):
    path, latencies = session
    rep = report.build_report(path, tmp_path / "out")
    last = list(csv.DictReader((path / "session.csv").open()))[-1]
    assert (rep["successes"], rep["evaluated"], rep["trials"]) == (
        int(last["successes"]),
        int(last["evaluated"]),
        4,
    )
    for key in ("success_rate", "wilson_low", "wilson_high"):
        assert rep[key] == pytest.approx(float(last[key]), abs=5e-5), key
    pooled = np.concatenate(latencies)
    assert rep["latency_ms"]["n"] == 2 * STEPS
    for q in (50, 99):
        assert rep["latency_ms"][f"p{q}"] == pytest.approx(np.percentile(pooled, q), abs=1e-3)
    detail = {t["trial"]: t for t in rep["trials_detail"]}
    assert [detail[k]["outcome"] for k in (1, 2, 3, 4)] == ["success", "failure", "aborted", "error"]
    assert detail[3]["bag"] is False and "latency_ms" not in detail[3]
    assert detail[2]["latency_ms"]["p99"] == pytest.approx(np.percentile(latencies[1], 99), abs=1e-3)
    assert detail[1]["commands"] == STEPS
    assert detail[1]["belief_error_cm"]["cube_median"] == pytest.approx(1.0, abs=1e-6)
    assert detail[1]["belief_error_cm"]["ee_median"] == pytest.approx(2.0, abs=1e-6)
    assert rep["policy_diagnostics"]["dropped_frames"] == "3"  # the last trial's, cumulative
    assert rep["figure_trial"] == 1  # the first success

    md = (tmp_path / "out" / "report.md").read_text()
    assert f"**{last['successes']} / {last['evaluated']}**" in md
    assert f"[{rep['wilson_low']:.3f}, {rep['wilson_high']:.3f}]" in md
    assert f"p99 **{np.percentile(pooled, 99):.2f} ms**" in md
    assert "| 3 | aborted | 12 |" in md and "![trial 1](trial_001.png)" in md

    png = matplotlib.image.imread(tmp_path / "out" / "trial_001.png")
    assert png.shape[:2] == (report.FIGURE_PX[1], report.FIGURE_PX[0])
    assert png[..., :3].std() > 0.05  # frames and plots, not a blank canvas


def test_cli_picks_newest_session_and_trial(session, tmp_path, capsys):
    path, _ = session
    report.main([str(path.parent), "--out", str(tmp_path / "cli"), "--trial", "2", "--frames", "4"])
    assert "report.md" in capsys.readouterr().out
    assert (tmp_path / "cli" / "trial_002.png").is_file() and not (
        tmp_path / "cli" / "trial_001.png"
    ).exists()
    with pytest.raises(SystemExit) as exc:
        report.main([str(path), "--trial", "3"])  # aborted trial 3 has no bag
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        report.main([str(tmp_path / "nowhere")])
    assert exc.value.code == 2


def test_latency_matches_each_command_to_its_frame():
    images = np.array([0.0, 0.1, 0.2])
    # match times (command stamps) and receipts; the first command precedes every image.
    commands = np.array([[-0.05, -0.04], [0.003, 0.006], [0.105, 0.112], [0.25, 0.26]])
    np.testing.assert_allclose(report.command_latencies_ms(images, commands), [6.0, 12.0, 60.0])
    with pytest.raises(ValueError, match="strip_frames"):
        report.ReportConfig(strip_frames=0)


def test_graph_session_records_truth_and_belief(bundle, domain_id, tmp_path):
    """One real trial through the node graph (twist-bringup in its own process, as the demo runs
    it): the bag has the sim's
    ground truth and the policy's belief markers, and the report reads them."""
    bringup = Path(sys.executable).with_name("twist-bringup")
    args = ["block_push", "--sim", "--bundle", str(bundle), "--trials", "1", "--domain-id", str(domain_id)]
    done = subprocess.run(
        [str(bringup), *args, "--session-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    session = report.find_session(tmp_path / "runs")
    counts: dict[str, int] = {}
    for m in read_ros2_messages(session / "trial_001" / "trial_001_0.mcap"):
        counts[m.channel.topic] = counts.get(m.channel.topic, 0) + 1
    assert counts["/twist_policy/markers"] == 150
    assert counts["/twist_sim/cube_position"] > 0 and counts["/twist_sim/goal_position"] > 0
    rep = report.build_report(session)
    row = next(csv.DictReader((session / "session.csv").open()))
    (trial,) = rep["trials_detail"]
    assert trial["outcome"] == row["outcome"] and trial["commands"] == 150
    assert rep["latency_ms"]["n"] == 150 and 0 < rep["latency_ms"]["p50"] <= rep["latency_ms"]["p99"]
    # An untrained student's belief is wrong, but it is a finite distance from a real truth.
    assert np.isfinite(trial["belief_error_cm"]["cube_median"]) and np.isfinite(
        trial["belief_error_cm"]["ee_median"]
    )
    assert int(rep["policy_diagnostics"]["commands"]) >= 100  # diagnostics come at 1 Hz
    assert (session / "report" / "trial_001.png").is_file()
