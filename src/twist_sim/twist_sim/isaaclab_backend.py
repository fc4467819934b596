"""Isaac Lab backend: the same TaskSpec on Isaac Lab's manager-based environment (GPU-parallel).

Isaac Lab (the successor of Isaac Orbit, the TWIST paper's simulator) needs Isaac Sim and an
NVIDIA GPU; it is not installable on the CPU machines this project is developed on, so this
module is imported lazily and fails at once without it. docker/isaaclab.Dockerfile builds an
image that runs it. What is shared with the MuJoCo backend is the whole task: reset regions,
state layout, reward and success come from twist_sim.tasks; this file only maps Isaac Lab's
scene onto a TaskState and configures the scene, the action, the camera and the DR events.

Action: Isaac Lab's DifferentialInverseKinematicsAction in relative position mode (command =
delta position, scale 0.02 m) on the Panda's TCP, plus a binary gripper for block_lift.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from twist_sim import mujoco_scene as scene
from twist_sim.randomization import DR_MODES, SPLITS
from twist_sim.tasks import CUBE_HALF_M, TaskState, make_task

INSTALL_HINT = (
    "the Isaac Lab backend needs Isaac Sim and Isaac Lab (NVIDIA GPU, Linux): "
    "pip install 'isaacsim[all,extscache]==5.1.0' 'isaaclab[isaacsim,all]==2.3.0' "
    "--extra-index-url https://pypi.nvidia.com, or build docker/isaaclab.Dockerfile"
)
TCP_OFFSET_M = 0.107  # panda_hand origin to the point between the finger pads


def _require_isaaclab():
    try:
        from isaaclab.app import AppLauncher
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return AppLauncher


def build_env_cfg(
    task_name: str, num_envs: int, image_size: int, control_hz: float, split: str, dr_mode: str
):
    """A ManagerBasedRLEnvCfg for the task (imports isaaclab; call after the app is launched)."""
    import isaaclab.envs.mdp as mdp
    import isaaclab.sim as sim_utils
    from isaaclab.assets import AssetBaseCfg, RigidObjectCfg
    from isaaclab.controllers import DifferentialIKControllerCfg
    from isaaclab.envs import ManagerBasedRLEnvCfg
    from isaaclab.envs.mdp.actions.actions_cfg import DifferentialInverseKinematicsActionCfg
    from isaaclab.managers import EventTermCfg, ObservationGroupCfg, ObservationTermCfg, SceneEntityCfg
    from isaaclab.scene import InteractiveSceneCfg
    from isaaclab.sensors import TiledCameraCfg
    from isaaclab.utils import configclass
    from isaaclab_assets.robots.franka import FRANKA_PANDA_HIGH_PD_CFG

    task = make_task(task_name, control_hz)
    physics_dt = 1.0 / (control_hz * 20)
    xyaxes = scene.camera_xyaxes(np.array(scene.CAMERA_POS), np.array(scene.CAMERA_LOOKAT))
    rot = np.stack([xyaxes[:3], xyaxes[3:], np.cross(xyaxes[:3], xyaxes[3:])], axis=1)
    quat = _matrix_to_quat_wxyz(rot)  # OpenGL convention, as MuJoCo cameras
    focal = 24.0  # mm; aperture chosen for the 42 deg square view of the D435i crop
    aperture = 2 * focal * math.tan(math.radians(scene.CAMERA_FOVY_DEG) / 2)

    @configclass
    class SceneCfg(InteractiveSceneCfg):
        robot = FRANKA_PANDA_HIGH_PD_CFG.replace(prim_path="{ENV_REGEX_NS}/Robot")
        table = AssetBaseCfg(
            prim_path="{ENV_REGEX_NS}/Table",
            spawn=sim_utils.CuboidCfg(size=(1.1, 1.4, 0.75), visual_material=sim_utils.PreviewSurfaceCfg()),
            init_state=AssetBaseCfg.InitialStateCfg(pos=(0.35, 0.0, -0.375)),
        )
        cube = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/Cube",
            spawn=sim_utils.CuboidCfg(
                size=(2 * CUBE_HALF_M,) * 3,
                rigid_props=sim_utils.RigidBodyPropertiesCfg(),
                mass_props=sim_utils.MassPropertiesCfg(mass=0.05),
                collision_props=sim_utils.CollisionPropertiesCfg(),
                visual_material=sim_utils.PreviewSurfaceCfg(diffuse_color=(0.2, 0.4, 0.85)),
            ),
            init_state=RigidObjectCfg.InitialStateCfg(pos=(0.5, 0.0, CUBE_HALF_M)),
        )
        light = AssetBaseCfg(prim_path="/World/light", spawn=sim_utils.DomeLightCfg(intensity=2000.0))
        camera = TiledCameraCfg(
            prim_path="{ENV_REGEX_NS}/Camera",
            offset=TiledCameraCfg.OffsetCfg(pos=scene.CAMERA_POS, rot=tuple(quat), convention="opengl"),
            data_types=["rgb"],
            spawn=sim_utils.PinholeCameraCfg(
                focal_length=focal, horizontal_aperture=aperture, vertical_aperture=aperture
            ),
            width=image_size,
            height=image_size,
        )

    @configclass
    class ActionsCfg:
        arm = DifferentialInverseKinematicsActionCfg(
            asset_name="robot",
            joint_names=["panda_joint.*"],
            body_name="panda_hand",
            controller=DifferentialIKControllerCfg(
                command_type="position", use_relative_mode=True, ik_method="dls"
            ),
            scale=task.action_scale_m,
            body_offset=DifferentialInverseKinematicsActionCfg.OffsetCfg(pos=(0.0, 0.0, TCP_OFFSET_M)),
        )
        if task.has_gripper:
            gripper = mdp.BinaryJointPositionActionCfg(
                asset_name="robot",
                joint_names=["panda_finger.*"],
                open_command_expr={"panda_finger_.*": 0.04},
                close_command_expr={"panda_finger_.*": 0.0},
            )

    @configclass
    class ObservationsCfg:
        @configclass
        class PolicyCfg(ObservationGroupCfg):
            image = ObservationTermCfg(
                func=mdp.image, params={"sensor_cfg": SceneEntityCfg("camera"), "normalize": False}
            )

            def __post_init__(self):
                self.concatenate_terms = False

        policy: PolicyCfg = PolicyCfg()

    # DR events: per-step appearance in train mode is an interval event at the control period;
    # eval mode samples at reset only; friction per episode at reset in both.
    appearance_mode = "interval" if dr_mode == "train" else "reset"
    interval = {"interval_range_s": (1.0 / control_hz, 1.0 / control_hz)} if dr_mode == "train" else {}

    @configclass
    class EventsCfg:
        reset_all = EventTermCfg(func=mdp.reset_scene_to_default, mode="reset")
        if dr_mode != "off":
            cube_friction = EventTermCfg(
                func=mdp.randomize_rigid_body_material,
                mode="reset",
                params={
                    "asset_cfg": SceneEntityCfg("cube"),
                    "static_friction_range": (0.5, 1.2),
                    "dynamic_friction_range": (0.5, 1.2),
                    "restitution_range": (0.0, 0.0),
                    "num_buckets": 64,
                },
            )
            cube_colour = EventTermCfg(
                func=mdp.randomize_visual_color,
                mode=appearance_mode,
                params={
                    "asset_cfg": SceneEntityCfg("cube"),
                    "colors": _colour_range(split),
                    "event_name": "cube_colour",
                },
                **interval,
            )
            robot_colour = EventTermCfg(
                func=mdp.randomize_visual_color,
                mode=appearance_mode,
                params={
                    "asset_cfg": SceneEntityCfg("robot"),
                    "colors": _colour_range(split),
                    "event_name": "robot_colour",
                },
                **interval,
            )

    @configclass
    class TwistEnvCfg(ManagerBasedRLEnvCfg):
        scene: SceneCfg = SceneCfg(num_envs=num_envs, env_spacing=2.5, replicate_physics=dr_mode == "off")
        observations: ObservationsCfg = ObservationsCfg()
        actions: ActionsCfg = ActionsCfg()
        events: EventsCfg = EventsCfg()
        rewards = None
        terminations = None

        def __post_init__(self):
            self.decimation = 20
            self.sim.dt = physics_dt
            self.episode_length_s = task.episode_steps / control_hz
            self.sim.render_interval = self.decimation

    return TwistEnvCfg()


def _colour_range(split: str) -> dict:
    """Disjoint colour families per split (the MuJoCo backend's texture families play this role)."""
    lo, hi = (0.0, 0.5) if split == "train" else (0.5, 1.0)
    return {"r": (lo, hi), "g": (0.0, 1.0), "b": (0.0, 1.0)}


def _matrix_to_quat_wxyz(rot: np.ndarray) -> np.ndarray:
    w = math.sqrt(max(0.0, 1.0 + np.trace(rot))) / 2.0
    x = math.copysign(
        math.sqrt(max(0.0, 1.0 + rot[0, 0] - rot[1, 1] - rot[2, 2])) / 2.0, rot[2, 1] - rot[1, 2]
    )
    y = math.copysign(
        math.sqrt(max(0.0, 1.0 - rot[0, 0] + rot[1, 1] - rot[2, 2])) / 2.0, rot[0, 2] - rot[2, 0]
    )
    z = math.copysign(
        math.sqrt(max(0.0, 1.0 - rot[0, 0] - rot[1, 1] + rot[2, 2])) / 2.0, rot[1, 0] - rot[0, 1]
    )
    return np.array([w, x, y, z])


class IsaacLabTwistEnv(gym.Env):
    """gymnasium view of one Isaac Lab environment (num_envs=1) with the TWIST obs contract.

    State, reward and success come from twist_sim.tasks on a TaskState read from the scene.
    """

    def __init__(
        self, task: str, split: str, dr_mode: str, image_size: int, control_hz: float = 10.0, **_
    ) -> None:
        from isaaclab.envs import ManagerBasedRLEnv

        self.task = make_task(task, control_hz)
        self._env = ManagerBasedRLEnv(build_env_cfg(task, 1, image_size, control_hz, split, dr_mode))
        self._rng: np.random.Generator | None = None
        self._goal = np.zeros(3)
        self._rest_z = CUBE_HALF_M
        self._t = 0
        self.observation_space = gym.spaces.Dict(
            {
                "state": gym.spaces.Box(-np.inf, np.inf, (self.task.state_dim,), np.float32),
                "image": gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.task.action_dim,), np.float32)

    def ee_position(self) -> np.ndarray:
        return (
            self._env.action_manager.get_term("arm")
            ._compute_frame_pose()[0][0]
            .cpu()
            .numpy()
            .astype(np.float64)
        )

    def goal_position(self) -> np.ndarray:
        return self._goal.copy()

    def set_goal(self, pos) -> None:
        self._goal = np.asarray(pos, dtype=np.float64).copy()

    def render_camera(self) -> np.ndarray:
        return self._env.scene["camera"].data.output["rgb"][0, ..., :3].cpu().numpy().astype(np.uint8)

    def task_state(self) -> TaskState:
        cube = self._env.scene["cube"].data
        pos = (cube.root_pos_w[0] - self._env.scene.env_origins[0]).cpu().numpy().astype(np.float64)
        s = TaskState(
            self.ee_position(), pos, cube.root_quat_w[0].cpu().numpy(), self._goal, cube_rest_z=self._rest_z
        )
        if self.task.has_gripper:
            robot = self._env.scene["robot"]
            ids, _ = robot.find_joints("panda_finger.*")
            s.finger_width = float(robot.data.joint_pos[0, ids].sum())
        return s

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
        init = self.task.sample_reset(self._rng)
        self._env.reset(seed=seed)
        import torch

        cube = self._env.scene["cube"]
        yaw = init["cube_yaw"]
        pose = torch.tensor(
            [[*init["cube_pos"], math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]], device=self._env.device
        )
        pose[:, :3] += self._env.scene.env_origins[:1]
        cube.write_root_pose_to_sim(pose)
        self._goal, self._rest_z, self._t = init["goal_pos"], float(init["cube_pos"][2]), 0
        return self._obs(), {"success": False, "dr": {}}

    def step(self, action):
        import torch

        a = self.task.clip_action(action)
        if self.task.has_gripper:
            a = np.r_[a[:3], -1.0 if a[3] > 0 else 1.0]  # binary action: negative closes
        self._env.step(torch.tensor(a[None], dtype=torch.float32, device=self._env.device))
        self._t += 1
        s = self.task_state()
        info = {"success": bool(self.task.success(s)), "dr": {}}
        return self._obs(s), self.task.reward(s), False, self._t >= self.task.episode_steps, info

    def _obs(self, s: TaskState | None = None) -> dict:
        return {"state": self.task.state_vector(s or self.task_state()), "image": self.render_camera()}

    def close(self) -> None:
        self._env.close()


def make_isaaclab_env(
    task: str, split: str, dr_mode: str, image_size: int, render_image: bool = True, **kwargs
) -> IsaacLabTwistEnv:
    """Launch Isaac Sim headless (with cameras) and build the env; ImportError without isaaclab."""
    AppLauncher = _require_isaaclab()
    if split not in SPLITS or dr_mode not in DR_MODES:
        raise ValueError(
            f"split must be one of {SPLITS} and dr_mode one of {DR_MODES}, got {split!r}, {dr_mode!r}"
        )
    AppLauncher(headless=True, enable_cameras=True)
    return IsaacLabTwistEnv(task, split, dr_mode, image_size, **kwargs)
