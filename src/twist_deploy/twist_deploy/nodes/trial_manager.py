"""Trial manager: operator services, trial lifecycle, per-trial MCAP bags and the session CSV.

Services (std_srvs/Trigger): ~/start, ~/abort, ~/reset, ~/mark_success, ~/mark_failure.
Each trial's bag runs from start to the operator's reset, so it also records the hold after the end.
It records the camera image, pose, commands, /diagnostics, the policy's status and its belief
markers, and the `ground_truth_topics` (the sim twin's privileged cube and goal positions) when
something publishes them: only then does the bag get those topics, so robot bags have none.
The policy node is held synchronously before ~/abort answers, so no command is stamped after it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from twist_sim.nodes import adapters
from visualization_msgs.msg import Marker, MarkerArray

from twist_deploy.bag import BagWriter
from twist_deploy.nodes import markers
from twist_deploy.nodes.common import (
    LATCHED_QOS,
    SENSOR_QOS,
    call_trigger,
    declare,
    subscribe,
)
from twist_deploy.trial import TrialError, TrialMachine, write_session_csv

DEFAULTS = {
    "session_dir": "runs/deploy",
    "episode_steps": 150,
    "policy_node": "/twist_policy",
    "sim_reset_service": "",  # sim only: reset the twin to a fresh episode before each trial
    "success_topic": "",  # sim only: privileged success decides the outcome at trial end
    "image_topic": "/camera/camera/color/image_raw",
    "pose_topic": "/current_pose",
    "command_interface": "pose",
    "command_topic": "/target_pose",
    "base_frame": "base",
    "record_bag": True,
    # geometry_msgs/PointStamped topics recorded only when published (the sim twin's privileged state).
    "ground_truth_topics": ["/twist_sim/cube_position", "/twist_sim/goal_position"],
}


class TrialManager(Node):
    def __init__(self, **node_kwargs):
        super().__init__("twist_trials", **node_kwargs)
        p = self.p = declare(self, DEFAULTS)
        self.session = Path(p["session_dir"]) / time.strftime("session_%Y%m%d_%H%M%S")
        self.machine = TrialMachine(episode_steps=p["episode_steps"])
        self.lock = threading.RLock()
        self.bag: BagWriter | None = None
        self.success: bool | None = None
        self.starting = False  # a start is between its check and the policy's answer
        group = ReentrantCallbackGroup()
        policy = p["policy_node"]
        self.policy = {
            n: self.create_client(Trigger, f"{policy}/{n}", callback_group=group)
            for n in ("start", "hold", "reset")
        }
        self.sim_reset = (
            self.create_client(Trigger, p["sim_reset_service"], callback_group=group)
            if p["sim_reset_service"]
            else None
        )
        self.state_pub = self.create_publisher(String, "~/state", LATCHED_QOS)
        self.marker_pub = self.create_publisher(Marker, "~/status_marker", LATCHED_QOS)
        for name in ("start", "abort", "reset", "mark_success", "mark_failure"):
            self.create_service(Trigger, f"~/{name}", getattr(self, f"srv_{name}"), callback_group=group)
        subscribe(self, String, f"{policy}/status", self.on_policy_status, 10)
        if p["success_topic"]:
            subscribe(self, Bool, p["success_topic"], lambda m: setattr(self, "success", m.data), 10)
        self.topics = {
            p["image_topic"]: (Image, "sensor_msgs/msg/Image", SENSOR_QOS),
            p["pose_topic"]: (PoseStamped, "geometry_msgs/msg/PoseStamped", SENSOR_QOS),
            p["command_topic"]: (
                adapters.MESSAGE_TYPES[p["command_interface"]],
                _type_name(adapters.MESSAGE_TYPES[p["command_interface"]]),
                10,
            ),
            "/diagnostics": (DiagnosticArray, "diagnostic_msgs/msg/DiagnosticArray", 10),
            f"{policy}/status": (String, "std_msgs/msg/String", 10),
            f"{policy}/markers": (MarkerArray, "visualization_msgs/msg/MarkerArray", 10),
        }
        optional = {t: (PointStamped, "geometry_msgs/msg/PointStamped", 10) for t in p["ground_truth_topics"]}
        self.recorded = {**optional, **self.topics}
        if p["record_bag"]:
            for topic, (cls, _, qos) in self.recorded.items():
                subscribe(self, cls, topic, lambda data, t=topic: self.record(t, data), qos, raw=True)
        self.publish_state()

    def record(self, topic: str, data: bytes) -> None:
        with self.lock:
            if self.bag is not None:
                # Optional topics join the bag with their first message (add_topic is idempotent).
                self.bag.add_topic(topic, self.recorded[topic][1])
                self.bag.write(topic, data, time.time_ns())

    def srv_start(self, _, response):
        # The lock is not held while the sim and the policy answer: the recording and status
        # callbacks need it for every message, and must not queue up behind a service round trip.
        with self.lock:
            if self.machine.state.value != "idle" or self.starting:
                state = "starting" if self.starting else self.machine.state.value
                return _answer(response, False, f"cannot start while {state}; reset first")
            self.starting = True
        try:
            if self.sim_reset is not None:
                ok, msg = call_trigger(self.sim_reset)
                if not ok:
                    return _answer(response, False, f"sim reset failed: {msg}")
            self.success = None
            ok, msg = call_trigger(self.policy["start"])
            if not ok:
                return _answer(response, False, f"policy refused to start: {msg}")
            with self.lock:
                try:  # the policy may have failed (error status) between its start and this
                    trial = self.machine.start(time.time())
                except TrialError as exc:
                    refused = _answer(response, False, f"{exc} ({self.machine.reason})")
                else:
                    refused = None
                    self.close_bag()
                    if self.p["record_bag"]:
                        self.bag = BagWriter(self.session / f"trial_{trial.index:03d}")
                        for topic, (_, type_name, _) in self.topics.items():
                            self.bag.add_topic(topic, type_name)
                    self.publish_state()
            if refused is not None:
                call_trigger(self.policy["hold"])  # no commands without a trial to record them
                return refused
            return _answer(response, True, f"trial {trial.index} started")
        finally:
            self.starting = False

    def srv_abort(self, _, response):
        call_trigger(self.policy["hold"])
        return self.finish(response, lambda: self.machine.abort(time.time()))

    def srv_mark_success(self, _, response):
        call_trigger(self.policy["hold"])
        return self.finish(response, lambda: self.machine.mark("success", time.time(), "operator"))

    def srv_mark_failure(self, _, response):
        call_trigger(self.policy["hold"])
        return self.finish(response, lambda: self.machine.mark("failure", time.time(), "operator"))

    def srv_reset(self, _, response):
        ok, msg = call_trigger(self.policy["reset"])
        with self.lock:
            self.close_bag()
            self.machine.reset()
            self.publish_state()
        return _answer(response, ok, "reset to idle" if ok else f"policy reset failed: {msg}")

    def finish(self, response, action):
        with self.lock:
            try:
                trial = action()
            except TrialError as exc:
                return _answer(response, False, str(exc))
            self.close_trial()
            return _answer(response, True, f"trial {trial.index}: {trial.outcome}")

    def on_policy_status(self, msg: String) -> None:
        status = json.loads(msg.data)
        with self.lock:
            if status["state"] == "error" and self.machine.state.value != "error":
                self.machine.fail(time.time(), status["reason"])
                self.close_trial()
            elif self.machine.step(status["steps"], time.time()):
                if self.success is not None:
                    self.machine.mark(
                        "success" if self.success else "failure", time.time(), "privileged sim state"
                    )
                self.close_trial()
            self.publish_state()

    def close_trial(self) -> None:
        # The bag stays open until reset: the last command may still be in flight behind the
        # status that ended the trial, and the hold after it belongs to the record too.
        write_session_csv(self.session / "session.csv", self.machine.trials)
        self.publish_state()

    def close_bag(self) -> None:
        if self.bag is not None:
            self.bag.close()
            self.bag = None

    def publish_state(self) -> None:
        m, trial = self.machine, self.machine.current
        state = {
            "state": m.state.value,
            "reason": m.reason,
            "trial": trial.index if trial else 0,
            "steps": trial.steps if trial else 0,
            "outcome": trial.outcome if trial else None,
            **m.summary(),
        }
        self.state_pub.publish(String(data=json.dumps(state)))
        line = f"trial {state['trial']} {state['state']} step {state['steps']} | {state['successes']}/{state['evaluated']} ok"
        self.marker_pub.publish(
            markers.text(
                "trial_status", self.p["base_frame"], self.get_clock().now().to_msg(), (0.5, 0.0, 0.55), line
            )
        )


def _type_name(cls) -> str:
    module = cls.__module__.split(".")[0]
    return f"{module}/msg/{cls.__name__}"


def _answer(response, ok: bool, message: str):
    response.success, response.message = ok, message
    return response


def main(args=None) -> None:
    rclpy.init(args=args)
    node = TrialManager()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    finally:
        node.close_bag()
        node.destroy_node()
        rclpy.try_shutdown()
