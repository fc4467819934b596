"""The deploy safety invariants (DESIGN.md), in one ROS-free module that every node calls.

Every command that leaves the robot PC is produced by `safe_command`, which guarantees, for any
model output and any measured pose:

- the target is finite,
- it moves at most `max_step_m` (2 cm) per axis from the measured end-effector position,
- it lies inside the configured workspace box.

When no target can satisfy all three (non-finite pose, end effector more than one step outside
the box) the answer is a hold with a reason, never a clipped-but-unsafe target. Non-finite model
output is reported separately because it puts the node into its error state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from twist_sim.tasks import ACTION_SCALE_M, WORKSPACE_HIGH, WORKSPACE_LOW

# Float slack for the invariant checks: a delta of 0.02 m computed as (ee + d) - ee can come back
# a few ulps over 0.02. 1e-9 m is far below anything a Franka can resolve.
TOLERANCE_M = 1e-9


def _vec3(value, name: str) -> tuple[float, float, float]:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be 3 numbers, got {value!r}") from exc
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be 3 finite numbers, got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box in the robot base frame that every commanded target must lie in.

    low, high: (x, y, z) corners in metres, low < high on every axis.
    """

    low: tuple[float, float, float] = WORKSPACE_LOW
    high: tuple[float, float, float] = WORKSPACE_HIGH

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _vec3(self.low, "WorkspaceBox.low"))
        object.__setattr__(self, "high", _vec3(self.high, "WorkspaceBox.high"))
        if not all(lo < hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ValueError(
                f"WorkspaceBox.low must be below high on every axis, got {self.low} / {self.high}"
            )

    def contains(self, point: np.ndarray, tol: float = TOLERANCE_M) -> bool:
        p = np.asarray(point, dtype=np.float64)
        return bool(np.all(p >= np.asarray(self.low) - tol) and np.all(p <= np.asarray(self.high) + tol))

    def clip(self, point: np.ndarray) -> np.ndarray:
        return np.clip(point, self.low, self.high)


@dataclass(frozen=True)
class SafetyConfig:
    """Limits the safety module enforces.

    box: workspace the target must stay in.
    max_step_m: largest per-axis move per command in metres (the paper's 2 cm).
    action_scale_m: metres per unit of policy action (twist_sim.tasks.ACTION_SCALE_M).
    """

    box: WorkspaceBox = field(default_factory=WorkspaceBox)
    max_step_m: float = ACTION_SCALE_M
    action_scale_m: float = ACTION_SCALE_M

    def __post_init__(self) -> None:
        if not (np.isfinite(self.max_step_m) and 0.0 < self.max_step_m <= 0.02):
            raise ValueError(f"SafetyConfig.max_step_m must be in (0, 0.02], got {self.max_step_m!r}")
        if not (np.isfinite(self.action_scale_m) and self.action_scale_m > 0.0):
            raise ValueError(f"SafetyConfig.action_scale_m must be positive, got {self.action_scale_m!r}")


@dataclass(frozen=True)
class SafeCommand:
    """A command that passed every invariant. target, delta: float64 (3,) base frame, metres.

    gripper: in [-1, 1] (-1 open, +1 closed) for tasks with a gripper, else None.
    """

    target: np.ndarray
    delta: np.ndarray
    gripper: float | None = None


@dataclass(frozen=True)
class Hold:
    """No command this tick. nonfinite_action is True when the model produced NaN/inf."""

    reason: str
    nonfinite_action: bool = False


def safe_command(ee_position: np.ndarray, action: np.ndarray, cfg: SafetyConfig) -> SafeCommand | Hold:
    """Turn a raw policy action into a command that satisfies the invariants, or a hold.

    ee_position: (3,) measured end-effector position, base frame. action: (3,) or (4,) raw policy
    output, any values (clipped to [-1, 1] per the action contract; non-finite -> Hold).
    """
    act = np.asarray(action, dtype=np.float64).reshape(-1)
    ee = np.asarray(ee_position, dtype=np.float64).reshape(-1)
    if act.shape[0] not in (3, 4):
        return Hold(f"action must have 3 or 4 entries, got {act.shape[0]}")
    if not np.all(np.isfinite(act)):
        return Hold(f"non-finite model output {act.tolist()}", nonfinite_action=True)
    if ee.shape != (3,) or not np.all(np.isfinite(ee)):
        return Hold(f"non-finite or malformed end-effector position {ee.tolist()}")
    delta = np.clip(np.clip(act[:3], -1.0, 1.0) * cfg.action_scale_m, -cfg.max_step_m, cfg.max_step_m)
    target = cfg.box.clip(ee + delta)
    gripper = float(np.clip(act[3], -1.0, 1.0)) if act.shape[0] == 4 else None
    command = SafeCommand(target=target, delta=target - ee, gripper=gripper)
    violation = check_command(ee, command.target, cfg)
    if violation is not None:
        # Only reachable when the arm is outside the box by more than one step: moving into the
        # box would exceed the step limit, so the operator has to bring it back.
        return Hold(violation)
    return command


def check_command(ee_position: np.ndarray, target: np.ndarray, cfg: SafetyConfig) -> str | None:
    """The invariants as a predicate: None when the target is safe, else the reason it is not.

    Used by `safe_command` as a final gate and by receivers (sim twin, bridges, tests) to verify
    what actually arrived.
    """
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    ee = np.asarray(ee_position, dtype=np.float64).reshape(-1)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        return f"target is not 3 finite numbers: {t.tolist()}"
    if ee.shape != (3,) or not np.all(np.isfinite(ee)):
        return f"end-effector position is not 3 finite numbers: {ee.tolist()}"
    step = np.abs(t - ee)
    if np.any(step > cfg.max_step_m + TOLERANCE_M):
        return f"step {step.tolist()} m exceeds {cfg.max_step_m} m per axis"
    if not cfg.box.contains(t):
        return f"target {t.tolist()} outside workspace box {cfg.box.low}..{cfg.box.high}"
    return None
