"""Scripted experts on privileged state: they prove the tasks are solvable through the
Cartesian controller and give tests and the student real data. Both are feedback policies of
the current state vector only (layout: twist_sim.tasks), so they run unchanged on any backend.
"""

from __future__ import annotations

import numpy as np

from twist_sim.tasks import ACTION_SCALE_M, CUBE_HALF_M, LIFT_HEIGHT_M, TaskSpec

PEG_RADIUS_M = 0.012
SAFE_Z = 0.07  # peg tip / pinch point clears the 4 cm cube at this height
PUSH_Z = 0.015
CONTACT_OFFSET = CUBE_HALF_M + PEG_RADIUS_M + 0.004  # peg centre behind the cube centre when touching


def _toward(ee: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Action (3,) that moves ee to target at up to full speed (2 cm per step)."""
    return np.clip((target - ee) / ACTION_SCALE_M, -1.0, 1.0)


class ScriptedExpert:
    """act(state) -> action for block_push or block_lift. noise_std adds Gaussian action noise
    from `rng` (for more varied data); the result is clipped to [-1, 1]."""

    def __init__(
        self, task: TaskSpec, rng: np.random.Generator | None = None, noise_std: float = 0.0
    ) -> None:
        if noise_std < 0:
            raise ValueError(f"ScriptedExpert.noise_std must be >= 0, got {noise_std!r}")
        if noise_std > 0 and rng is None:
            raise ValueError("ScriptedExpert needs an rng when noise_std > 0")
        self.task, self.rng, self.noise_std = task, rng, noise_std

    def _get(self, state: np.ndarray, name: str) -> np.ndarray:
        start, stop = self.task.state_layout[name]
        return np.asarray(state[start:stop], dtype=np.float64)

    def act(self, state: np.ndarray) -> np.ndarray:
        a = self._push(state) if self.task.name == "block_push" else self._lift(state)
        if self.noise_std > 0:
            a = a + self.rng.normal(0.0, self.noise_std, size=a.shape)
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    def _push(self, s: np.ndarray) -> np.ndarray:
        ee, cube, goal = self._get(s, "ee_pos"), self._get(s, "cube_pos"), self._get(s, "goal_pos")
        to_goal = goal[:2] - cube[:2]
        dist = np.linalg.norm(to_goal)
        if dist < 0.01:
            return np.zeros(3)  # close enough: stop pushing so the cube rests on the goal
        u = to_goal / dist
        rel = ee[:2] - cube[:2]
        along, lateral = rel @ u, rel @ np.array([-u[1], u[0]])
        low = ee[2] < 0.03
        behind = -0.07 < along < -CONTACT_OFFSET + 0.01
        aligned = behind and abs(lateral) < (0.02 if low else 0.008)
        if aligned and low:
            # Push along the cube-goal line, steering the peg back onto it.
            step = min(dist, ACTION_SCALE_M)
            target_xy = cube[:2] - u * CONTACT_OFFSET + u * (step + 0.005) - lateral * np.array([-u[1], u[0]])
            return _toward(ee, np.array([*target_xy, PUSH_Z]))
        pre = cube[:2] - u * (CONTACT_OFFSET + 0.02)
        if aligned or np.linalg.norm(ee[:2] - pre) < 0.008:
            return _toward(ee, np.array([*pre, PUSH_Z]))
        if np.linalg.norm(rel) < 0.06 and ee[2] < SAFE_Z - 0.01:
            return _toward(ee, np.array([*ee[:2], SAFE_Z]))  # leave the cube upwards before going round
        return _toward(ee, np.array([*pre, SAFE_Z]))

    def _lift(self, s: np.ndarray) -> np.ndarray:
        ee, cube = self._get(s, "ee_pos"), self._get(s, "cube_pos")
        width, grasped = self._get(s, "finger_width")[0], self._get(s, "grasped")[0] > 0.5
        rest_z = CUBE_HALF_M
        near = np.linalg.norm(ee - cube) < 0.012
        if grasped or near:
            # Both fingers touch the cube and have stopped closing (a cube held across its
            # diagonal stops them up to ~5.7 cm apart): lift.
            if grasped and width < 0.06:
                target = np.array([*cube[:2], rest_z + LIFT_HEIGHT_M + 0.05])
                return np.array([*_toward(ee, target), 1.0])
            return np.array([0.0, 0.0, 0.0, 1.0])  # closing on the cube: hold still
        if np.linalg.norm(ee[:2] - cube[:2]) > 0.008:
            z = max(ee[2], SAFE_Z) if np.linalg.norm(ee[:2] - cube[:2]) > 0.03 else ee[2]
            return np.array([*_toward(ee, np.array([*cube[:2], z])), -1.0])
        return np.array([*_toward(ee, cube), -1.0])


class RandomPolicy:
    """Uniform random actions in [-1, 1] from an explicit Generator."""

    def __init__(self, task: TaskSpec, rng: np.random.Generator) -> None:
        self.task, self.rng = task, rng

    def act(self, state: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=self.task.action_dim).astype(np.float32)
