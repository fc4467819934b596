"""The deploy node graph (sim twin + policy node + trial manager) in one process, on real DDS.

What launch/TASK.launch.py starts with use_sim:=true, built from the same parameter files, plus
an operator client that calls the trial services the way an operator would.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import String
from std_srvs.srv import Trigger
from tqdm import tqdm
from twist_sim.nodes.sim_twin import SimTwin

from twist_deploy.nodes.common import LATCHED_QOS, call_trigger, spin_in_thread, subscribe
from twist_deploy.nodes.policy_node import PolicyNode
from twist_deploy.nodes.trial_manager import TrialManager
from twist_deploy.params import config_dir, load_params

GRAPH_NODES = ("twist_sim", "twist_policy", "twist_trials", "twist_operator")
STALL_S = 30.0  # a running trial without a new step for this long has stalled


def refuse_shared_domain(probe, domain_id: int, discovery_s: float = 1.0) -> None:
    """Raise RuntimeError if another TWIST graph already runs in this ROS domain.

    Two graphs in one domain cross-talk: each policy drives both sims, the services of the
    duplicated node names answer from either process, and trials stall or count foreign
    commands. `probe` is a fresh node; DDS discovery over loopback needs a moment, so this waits
    up to `discovery_s` for other participants' nodes to appear.
    """
    deadline = time.monotonic() + discovery_s
    while True:
        names = {name for name, _ in probe.get_node_names_and_namespaces()}
        clash = sorted(names & set(GRAPH_NODES) - {probe.get_name()})
        if clash:
            raise RuntimeError(
                f"ROS domain {domain_id} already has TWIST nodes {clash}: another graph (a demo, a "
                "benchmark or a test) is running in it; stop it or choose another ROS_DOMAIN_ID"
            )
        if time.monotonic() >= deadline:
            return
        time.sleep(0.1)


class Graph:
    def __init__(
        self,
        task: str,
        bundle: Path,
        domain_id: int,
        session_dir: Path,
        interface: str = "pose",
        overrides: dict[str, dict] | None = None,
        discovery_s: float = 1.0,
    ):
        """overrides: extra parameters per node name (twist_sim, twist_policy, twist_trials).
        discovery_s: how long to look for another TWIST graph in the domain before starting."""
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        files = [config_dir() / "deploy.yaml", config_dir() / "deploy_sim.yaml"]
        common = {"command_interface": interface}
        extra = {
            "twist_sim": {"task": task, **common},
            "twist_policy": {"task": task, "bundle": str(bundle), **common},
            "twist_trials": {"session_dir": str(session_dir), **common},
        }
        for name, values in (overrides or {}).items():
            extra[name].update(values)

        def params(name: str) -> list[Parameter]:
            return [Parameter(k, value=v) for k, v in {**load_params(files, name), **extra[name]}.items()]

        self.nodes = []
        # The operator node comes first: it probes the domain before any TWIST node joins it.
        self.operator = self._add(rclpy.create_node("twist_operator", context=self.context))
        try:
            refuse_shared_domain(self.operator, domain_id, discovery_s)
            self.sim = self._add(SimTwin(context=self.context, parameter_overrides=params("twist_sim")))
            self.policy = self._add(
                PolicyNode(context=self.context, parameter_overrides=params("twist_policy"))
            )
            self.trials = self._add(
                TrialManager(context=self.context, parameter_overrides=params("twist_trials"))
            )
        except Exception:
            self.shutdown()
            raise
        self._clients = {
            n: self.operator.create_client(Trigger, f"/twist_trials/{n}")
            for n in ("start", "abort", "reset", "mark_success", "mark_failure")
        }
        self._state: dict = {}
        self._state_cond = threading.Condition()
        subscribe(self.operator, String, "/twist_trials/state", self._on_state, LATCHED_QOS)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        for node in self.nodes:
            self.executor.add_node(node)
        self._thread = spin_in_thread(self.executor)

    def _add(self, node):
        self.nodes.append(node)
        return node

    def _on_state(self, msg: String) -> None:
        with self._state_cond:
            self._state = json.loads(msg.data)
            self._state_cond.notify_all()

    def state(self) -> dict:
        with self._state_cond:
            return dict(self._state)

    def call(self, service: str) -> tuple[bool, str]:
        return call_trigger(self._clients[service])

    def wait_for(self, predicate, timeout_s: float, progress=None) -> dict:
        """Block until predicate(state) holds; TimeoutError with the last state otherwise.

        progress: a function of the state; whenever its value changes the timeout starts again,
        so a slow run (a loaded machine) can take its time while a stalled one still fails."""
        deadline = time.monotonic() + timeout_s
        with self._state_cond:
            mark = progress(self._state) if progress and self._state else None
            while not (self._state and predicate(self._state)):
                if progress and self._state and progress(self._state) != mark:
                    mark, deadline = progress(self._state), time.monotonic() + timeout_s
                left = deadline - time.monotonic()
                if left <= 0:
                    what = "no progress" if progress else "trial state did not arrive"
                    raise TimeoutError(f"{what} in {timeout_s} s; last: {self._state}")
                self._state_cond.wait(left)
            return dict(self._state)

    def start_trial(self, timeout_s: float = 20.0) -> str:
        """Start a trial, retrying while the policy still waits for its first pose and image."""
        deadline = time.monotonic() + timeout_s
        while True:
            ok, msg = self.call("start")
            if ok or time.monotonic() > deadline:
                if not ok:
                    raise RuntimeError(f"trial did not start: {msg}")
                return msg
            time.sleep(0.2)

    def run_trials(self, n: int) -> None:
        for _ in tqdm(range(n), desc="trials", unit="trial"):
            self.start_trial()
            # A stall is no new step for STALL_S. On a loaded machine the graph runs below real
            # time (stale inputs hold the arm) and a trial may take longer than its 15 s.
            try:
                state = self.wait_for(
                    lambda s: s["trial"] == len(self.trials.machine.trials) and s["state"] != "running",
                    STALL_S,
                    progress=lambda s: (s["trial"], s["steps"]),
                )
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}; {self.snapshot()}") from exc
            if state["outcome"] is None:
                raise RuntimeError(f"trial {state['trial']} ended without an outcome: {state}")
            self.call("reset")

    def snapshot(self) -> str:
        """Where the data flow stands, for a stalled trial: what the sim stepped and
        published, what the policy received and did, and every thread's stack on stderr."""
        import faulthandler
        import sys

        c, now = self.policy.ctl.counters, self.sim.now()
        last_pub = self.sim.published[-1][0] if self.sim.published else float("nan")
        last_cmd = self.sim.received[-1][0] if self.sim.received else float("nan")
        image_age, pose_age = self.policy.ctl.input_ages(self.policy.now())
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        return (
            f"sim: steps {self.sim.steps}, last publish {now - last_pub:.1f} s ago, last command "
            f"{now - last_cmd:.1f} s ago, worker alive {self.sim.worker.is_alive()}; policy: images "
            f"{c.images}, commands {c.commands}, stale ticks {c.stale_ticks} (last: {c.last_stale or 'none'}), "
            f"image age {image_age:.2f} s, pose age {pose_age:.2f} s, mode {self.policy.ctl.mode.value}"
        )

    def shutdown(self) -> None:
        if hasattr(self, "executor"):
            self.executor.shutdown(timeout_sec=2.0)
            self._thread.join(timeout=2.0)
            for node in self.nodes:
                self.executor.remove_node(node)
        for node in reversed(self.nodes):
            if isinstance(node, TrialManager):
                node.close_bag()
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
