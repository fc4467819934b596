"""Backend-independent task specs: BlockPush and BlockLift (TWIST, Yamada et al.).

Everything that defines a task lives here, as plain numpy on a privileged `TaskState`:
reset distribution, privileged state layout, dense reward and the paper's success criterion.
The MuJoCo and Isaac Lab backends only produce a `TaskState` from their physics and call
these functions, so both backends honour the same task.

Frame: the robot base frame. x points forward from the Panda base, z up; the table top is the
plane z = 0 and the Panda base stands on it at the origin.

Reset regions (uniform):
  cube centre x in [0.45, 0.60] m, y in [-0.15, 0.15] m, resting on the table, yaw in [-45, 45] deg.
  push goal x in [0.45, 0.60] m, y in [-0.15, 0.15] m, on the table, at least 10 cm from the cube.
  lift goal: the cube's reset xy, LIFT_HEIGHT_M above its resting height (what "lifted" means).
  The end effector starts at HOME_EE_POS with the hand/peg pointing down.

State layout (float32, the slices are `TaskSpec.state_layout`):
  ee_pos (3) | cube_pos (3) | cube_quat (4, w x y z, w >= 0) | goal_pos (3) | cube_goal_dist (1)
  lift adds: finger_width (1, metres between the fingers) | grasped (1, 1.0 when both fingers touch the cube)

Rewards (per step, dense; d(a, b) is the Euclidean distance in metres):
  push: -d(cube, goal) - 0.5 * d(ee, cube) + 1[success]
  lift: -d(ee, cube) + 2 * grasped * clip(lift / LIFT_HEIGHT_M, 0, 1) + 1[success]
        where lift = cube centre height above its resting height.
Success (evaluated on the current state; the paper scores it at episode end):
  push: horizontal distance between cube centre and goal < 5 cm.
  lift: cube centre at least 10 cm above its resting height (its bottom face 10 cm above the table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTION_SCALE_M = 0.02
EPISODE_STEPS = 150
DEFAULT_CONTROL_HZ = 10.0
CUBE_HALF_M = 0.02
PUSH_SUCCESS_RADIUS_M = 0.05
LIFT_HEIGHT_M = 0.10
HOME_EE_POS = (0.45, 0.0, 0.20)
# Commanded targets are clipped into this box (robot base frame, metres): the arm cannot be
# driven through the table or out of the camera's view.
WORKSPACE_LOW = (0.32, -0.30, 0.015)
WORKSPACE_HIGH = (0.70, 0.30, 0.30)

CUBE_REGION_LOW = (0.45, -0.15)
CUBE_REGION_HIGH = (0.60, 0.15)
GOAL_REGION_LOW = (0.45, -0.15)
GOAL_REGION_HIGH = (0.60, 0.15)
MIN_GOAL_DIST_M = 0.10
CUBE_YAW_RANGE = (-np.pi / 4, np.pi / 4)

TASK_NAMES = ("block_push", "block_lift")


@dataclass
class TaskState:
    """Privileged simulator state a backend hands to the task (robot base frame, metres)."""

    ee_pos: np.ndarray
    cube_pos: np.ndarray
    cube_quat: np.ndarray
    goal_pos: np.ndarray
    cube_rest_z: float = CUBE_HALF_M
    finger_width: float = 0.0
    grasped: bool = False


@dataclass(frozen=True)
class TaskSpec:
    """What a backend must implement. `state_layout` maps a name to its [start, stop) slice."""

    name: str
    action_dim: int
    has_gripper: bool
    episode_steps: int = EPISODE_STEPS
    control_hz: float = DEFAULT_CONTROL_HZ
    action_scale_m: float = ACTION_SCALE_M
    state_layout: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in TASK_NAMES:
            raise ValueError(f"unknown task {self.name!r}; valid tasks: {', '.join(TASK_NAMES)}")
        if not (isinstance(self.control_hz, int | float) and 0.5 <= self.control_hz <= 1000):
            raise ValueError(f"TaskSpec.control_hz must be in [0.5, 1000] Hz, got {self.control_hz!r}")
        if not (isinstance(self.episode_steps, int) and self.episode_steps > 0):
            raise ValueError(f"TaskSpec.episode_steps must be a positive int, got {self.episode_steps!r}")

    @property
    def state_dim(self) -> int:
        return max(stop for _, stop in self.state_layout.values())

    # The reset distribution, reward and success below are the task; backends call them.

    def sample_reset(self, rng: np.random.Generator) -> dict[str, np.ndarray | float]:
        """Cube pose and goal for a new episode: {"cube_pos", "cube_yaw", "goal_pos"}."""
        cube_xy = rng.uniform(CUBE_REGION_LOW, CUBE_REGION_HIGH)
        cube_yaw = float(rng.uniform(*CUBE_YAW_RANGE))
        if self.name == "block_push":
            # Rejection sampling keeps the goal a real push away; the region is large enough
            # that this terminates after a few draws.
            while True:
                goal_xy = rng.uniform(GOAL_REGION_LOW, GOAL_REGION_HIGH)
                if np.linalg.norm(goal_xy - cube_xy) >= MIN_GOAL_DIST_M:
                    break
            goal = np.array([goal_xy[0], goal_xy[1], CUBE_HALF_M])
        else:
            goal = np.array([cube_xy[0], cube_xy[1], CUBE_HALF_M + LIFT_HEIGHT_M])
        return {
            "cube_pos": np.array([cube_xy[0], cube_xy[1], CUBE_HALF_M]),
            "cube_yaw": cube_yaw,
            "goal_pos": goal,
        }

    def state_vector(self, s: TaskState) -> np.ndarray:
        """float32 (state_dim,) in the documented layout."""
        quat = np.asarray(s.cube_quat, dtype=np.float64)
        quat = -quat if quat[0] < 0 else quat  # q and -q are the same rotation: keep one
        parts = [s.ee_pos, s.cube_pos, quat, s.goal_pos, [self.cube_goal_distance(s)]]
        if self.has_gripper:
            parts += [[s.finger_width], [float(s.grasped)]]
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts]).astype(np.float32)

    def cube_goal_distance(self, s: TaskState) -> float:
        if self.name == "block_push":
            return float(np.linalg.norm(np.asarray(s.cube_pos)[:2] - np.asarray(s.goal_pos)[:2]))
        return float(np.linalg.norm(np.asarray(s.cube_pos) - np.asarray(s.goal_pos)))

    def lift_height(self, s: TaskState) -> float:
        return float(s.cube_pos[2] - s.cube_rest_z)

    def success(self, s: TaskState) -> bool:
        if self.name == "block_push":
            return self.cube_goal_distance(s) < PUSH_SUCCESS_RADIUS_M
        return self.lift_height(s) >= LIFT_HEIGHT_M

    def reward(self, s: TaskState) -> float:
        ee_cube = float(np.linalg.norm(np.asarray(s.ee_pos) - np.asarray(s.cube_pos)))
        bonus = 1.0 if self.success(s) else 0.0
        if self.name == "block_push":
            return -self.cube_goal_distance(s) - 0.5 * ee_cube + bonus
        lifted = float(np.clip(self.lift_height(s) / LIFT_HEIGHT_M, 0.0, 1.0))
        return -ee_cube + 2.0 * float(s.grasped) * lifted + bonus

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Validate and clip one action: float64 (action_dim,) in [-1, 1].

        Raises ValueError for a wrong shape or any non-finite entry: a NaN must never reach
        a controller, in simulation or on the robot.
        """
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.action_dim,):
            raise ValueError(f"{self.name} expects an action of shape ({self.action_dim},), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"non-finite action {a.tolist()} for {self.name}")
        return np.clip(a, -1.0, 1.0)


def _layout(has_gripper: bool) -> dict[str, tuple[int, int]]:
    names = [("ee_pos", 3), ("cube_pos", 3), ("cube_quat", 4), ("goal_pos", 3), ("cube_goal_dist", 1)]
    if has_gripper:
        names += [("finger_width", 1), ("grasped", 1)]
    layout, start = {}, 0
    for name, size in names:
        layout[name] = (start, start + size)
        start += size
    return layout


def make_task(name: str, control_hz: float = DEFAULT_CONTROL_HZ) -> TaskSpec:
    """The TaskSpec for `name` ("block_push" or "block_lift")."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASK_NAMES)}")
    lift = name == "block_lift"
    return TaskSpec(
        name=name,
        action_dim=4 if lift else 3,
        has_gripper=lift,
        control_hz=control_hz,
        state_layout=_layout(lift),
    )
