"""The policy node's control loop without ROS: gating, stale-input hold, error latch, counters.

The node feeds it images, poses and clock ticks; each tick returns at most one `SafeCommand`.
Commands flow only in the RUNNING state, which only an operator start enters. Holds:

- no fresh image (or pose) for longer than the timeout: no command, reported, resumes by itself.
  An input's age is the larger of its age since receipt and since its header stamp (acquisition
  time), so a message that waited in a busy executor or on the network counts as old as it is. A
  clock offset between the camera or robot and this computer shows as stale inputs (a hold),
  never as fresh ones: a stamp from the future still ages by receipt;
- non-finite model output: ERROR, latched until the operator resets;
- trial complete (episode_steps commands) or operator hold: HOLDING until the next start.

Control ticks are driven by camera frames, so a command leaves as soon as its image is decoded
rather than up to a control period later: `tick` runs on each new frame and commands when at
least MIN_PERIOD_FRACTION of a control period separates its frame's acquisition stamp from that of
the previous command's frame (camera stamps are regular where arrival times jitter): at most one
command per control period, always from the newest frame. `watchdog`, on a control-rate timer,
notices a silent camera or robot.

A command is a target pose: the measured pose plus the policy's delta. The delta belongs to the
frame, so the pose must be the one measured with it, not one a control step older: where the robot
measured the pose after the frame (the sim twin publishes both per step, the frame first), the
tick waits for it. A frame's tick goes ahead once a pose stamped no more than `pose_sync_s` before
the frame has arrived (the node ticks again on each pose while it waits), or when `pose_sync_s` has
passed since the frame's arrival, on the pose there is; such commands are counted
(`unsynced_pose`). A pose stream faster than 1 / pose_sync_s never waits.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from twist_deploy.safety import Hold, SafeCommand, SafetyConfig, safe_command

# Slack for camera/timer jitter: a frame arriving slightly early still makes its control tick.
MIN_PERIOD_FRACTION = 0.75


class Policy(Protocol):
    def reset(self) -> None: ...
    def step(self, image: np.ndarray) -> np.ndarray: ...


class Mode(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    HOLDING = "holding"
    ERROR = "error"


@dataclass(frozen=True)
class ControlConfig:
    """control_hz: command rate. episode_steps: commands per trial (the task's 150).
    stale_timeout_s: image/pose age that triggers a hold. pose_sync_s: how much older than its
    frame a command's pose may be, and how long a tick waits for a newer one (module docstring).
    safety: the invariants' limits."""

    control_hz: float = 10.0
    episode_steps: int = 150
    stale_timeout_s: float = 0.5
    pose_sync_s: float = 0.05
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def __post_init__(self) -> None:
        if not self.control_hz > 0:
            raise ValueError(f"ControlConfig.control_hz must be positive, got {self.control_hz}")
        if self.episode_steps <= 0:
            raise ValueError(f"ControlConfig.episode_steps must be positive, got {self.episode_steps}")
        if not self.stale_timeout_s > 0:
            raise ValueError(f"ControlConfig.stale_timeout_s must be positive, got {self.stale_timeout_s}")
        if not 0 <= self.pose_sync_s < 1.0 / self.control_hz:
            raise ValueError(
                f"ControlConfig.pose_sync_s must be in [0, one control period {1.0 / self.control_hz} s), "
                f"got {self.pose_sync_s}"
            )


@dataclass
class Frame:
    rgb: np.ndarray  # uint8 (H, W, 3)
    received: float  # seconds, node clock
    stamp: float  # seconds, header stamp (acquisition time)
    during_trial: bool  # arrived while RUNNING: only such frames count as dropped when unused


@dataclass
class Counters:
    images: int = 0
    dropped: int = 0  # frames overwritten by a newer one before any tick used them
    malformed: int = 0
    malformed_reasons: collections.Counter = field(default_factory=collections.Counter)
    last_malformed: str = ""
    stale_ticks: int = 0
    last_stale: str = ""  # the input ages at the last stale tick
    commands: int = 0
    unsynced_pose: int = 0  # commands made on a pose older than pose_sync_s before their frame
    latencies_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))


class PolicyController:
    def __init__(self, policy: Policy, cfg: ControlConfig):
        self.policy = policy
        self.cfg = cfg
        self.mode = Mode.IDLE
        self.reason = "waiting for operator"
        self.steps = 0
        self.stale = False
        self.counters = Counters()
        self.frame: Frame | None = None
        # The frame's tick was put off for its pose: tick again when a pose comes or the wait ends.
        self.awaiting_pose = False
        self._frame_used = True
        self.position: np.ndarray | None = None
        self.orientation: np.ndarray | None = None  # xyzw of the measured pose
        self.pose_received = -np.inf
        self.pose_stamp = -np.inf
        self.hold_orientation: np.ndarray | None = None
        self.last_command_stamp = -np.inf
        # When the last command was made (node clock): its message stamp. The pose it is relative
        # to was at most stale_timeout_s old then.
        self.decided_at = -np.inf

    def on_image(self, rgb: np.ndarray, received: float, stamp: float) -> None:
        self.counters.images += 1
        if not self._frame_used and self.frame.during_trial:
            self.counters.dropped += 1
        self.frame, self._frame_used = Frame(rgb, received, stamp, self.mode is Mode.RUNNING), False
        self.awaiting_pose = False

    def on_malformed(self, reason: str, detail: str) -> None:
        self.counters.malformed += 1
        self.counters.malformed_reasons[reason] += 1
        self.counters.last_malformed = detail

    def on_pose(
        self, position: np.ndarray, orientation_xyzw: np.ndarray, received: float, stamp: float | None = None
    ) -> None:
        """received: node clock, seconds; stamp: the pose's header stamp (None: same as received)."""
        self.position = np.asarray(position, dtype=np.float64)
        self.orientation = np.asarray(orientation_xyzw, dtype=np.float64)
        self.pose_received = received
        self.pose_stamp = received if stamp is None else stamp

    def input_ages(self, now: float) -> tuple[float, float]:
        """(image age, pose age) in seconds at `now`: the larger of the age since receipt and the
        age since the header stamp; inf when none has arrived."""
        image = np.inf if self.frame is None else max(now - self.frame.received, now - self.frame.stamp)
        return image, max(now - self.pose_received, now - self.pose_stamp)

    def start(self) -> tuple[bool, str]:
        if self.mode is Mode.ERROR:
            return False, f"policy in error state ({self.reason}); reset first"
        if self.mode is Mode.RUNNING:
            return False, "a trial is already running"
        if self.position is None:
            return False, "no end-effector pose received yet"
        self.policy.reset()
        # Orientation is held at its value when the trial starts, so it cannot drift with noise.
        self.hold_orientation = self.orientation.copy()
        self.steps, self.stale, self.last_command_stamp = 0, False, -np.inf
        self.mode, self.reason = Mode.RUNNING, "trial running"
        return True, "trial started"

    def hold(self, reason: str) -> None:
        if self.mode is Mode.RUNNING:
            self.mode, self.reason = Mode.HOLDING, reason

    def reset(self) -> None:
        self.policy.reset()
        self.mode, self.reason, self.steps, self.stale = Mode.IDLE, "waiting for operator", 0, False

    def watchdog(self, now: float) -> bool:
        """Control-rate check for stale inputs while running; True while holding for them."""
        if self.mode is not Mode.RUNNING:
            return False
        timeout = self.cfg.stale_timeout_s
        image_age, pose_age = self.input_ages(now)
        self.stale = image_age > timeout or pose_age > timeout
        if self.stale:
            self.counters.stale_ticks += 1
            unstamped = [n for n, st in (("image", self.frame.stamp if self.frame else 1.0),
                                         ("pose", self.pose_stamp)) if st == 0.0]  # fmt: skip
            self.counters.last_stale = (
                f"image age {image_age:.3f} s, pose age {pose_age:.3f} s (timeout {timeout} s)"
                + "".join(f"; the {n} has no header stamp" for n in unstamped)
            )
        return self.stale

    def _pose_behind_frame(self) -> bool:
        """The newest pose was measured more than pose_sync_s before the current frame."""
        return self.frame.stamp - self.pose_stamp > self.cfg.pose_sync_s

    def waiting_for_pose(self, now: float) -> bool:
        """True while the unused frame's tick waits for the pose measured with it: the newest pose is
        more than pose_sync_s older than the frame, and the frame arrived less than pose_sync_s ago."""
        if self.frame is None or self._frame_used:
            return False
        return self._pose_behind_frame() and now - self.frame.received < self.cfg.pose_sync_s

    def tick(self, now: float) -> SafeCommand | None:
        """Control tick on a new frame at time `now` (node clock, seconds): the command to send."""
        self.awaiting_pose = False
        if self.mode is not Mode.RUNNING or self.watchdog(now):
            return None
        if (
            self._frame_used
            or self.frame.stamp - self.last_command_stamp < MIN_PERIOD_FRACTION / self.cfg.control_hz
        ):
            return None  # never step the model twice on one frame, nor faster than the control rate
        self.awaiting_pose = self.waiting_for_pose(now)
        if self.awaiting_pose:
            return None  # the pose measured with this frame is on its way: the node ticks again on it
        unsynced = self._pose_behind_frame()  # the wait ended without the frame's pose
        self._frame_used = True
        started = time.perf_counter()
        action = np.asarray(self.policy.step(self.frame.rgb))
        # Latency runs from the frame's stamp to the command's existence, so the model step counts.
        decided = now + (time.perf_counter() - started)
        if self.watchdog(decided):
            return None  # the inputs went stale during the model step (a starved or slow computer)
        result = safe_command(self.position, action, self.cfg.safety)
        if isinstance(result, Hold):
            if result.nonfinite_action:
                self.mode, self.reason = Mode.ERROR, result.reason
            else:
                self.hold(result.reason)
            return None
        self.steps += 1
        self.last_command_stamp = self.frame.stamp
        self.decided_at = decided
        self.counters.commands += 1
        self.counters.unsynced_pose += unsynced
        self.counters.latencies_ms.append(1e3 * (decided - self.frame.stamp))
        if self.steps >= self.cfg.episode_steps:
            self.hold("trial complete")
        return result

    def diagnostics(self) -> tuple[int, str, dict[str, str]]:
        """(level 0 ok / 1 warn / 2 error, message, key-values) for diagnostic_msgs."""
        c = self.counters
        lat = np.asarray(c.latencies_ms, dtype=np.float64)
        values = {
            "state": self.mode.value,
            "reason": self.reason,
            "steps": str(self.steps),
            "stale": str(self.stale),
            "images": str(c.images),
            "dropped_frames": str(c.dropped),
            "malformed_frames": str(c.malformed),
            "malformed_reasons": ",".join(f"{k}={v}" for k, v in sorted(c.malformed_reasons.items())),
            "last_malformed": c.last_malformed,
            "stale_ticks": str(c.stale_ticks),
            "last_stale": c.last_stale,
            "commands": str(c.commands),
            "unsynced_pose_commands": str(c.unsynced_pose),
            "latency_ms_p50": f"{np.percentile(lat, 50):.2f}" if lat.size else "",
            "latency_ms_max": f"{lat.max():.2f}" if lat.size else "",
        }
        if self.mode is Mode.ERROR:
            return 2, self.reason, values
        if self.stale:
            return 1, "stale camera image or pose: holding", values
        return 0, self.reason, values
