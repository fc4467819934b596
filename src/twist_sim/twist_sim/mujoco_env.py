"""MuJoCo backend: the TWIST block tasks on a simulated Franka Panda (gymnasium API).

Control: each step commands target = measured end-effector position + clip(action) * 2 cm,
clipped to the workspace box. One damped-least-squares differential-IK step on the 7 arm
joints (position and a fixed pointing-down orientation, with a null-space pull towards the
home posture) turns it into joint targets, clamped inside the Panda's joint limits; joint
position servos track them over `control period / physics_dt` physics substeps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

from twist_sim import mujoco_scene as scene
from twist_sim.randomization import (
    DR_MODES,
    SPLITS,
    DomainRandomizer,
    DRConfig,
    config_dir,
    install_texture_bank,
)
from twist_sim.tasks import (
    HOME_EE_POS,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    TaskState,
    make_task,
)

# Pinch point: the cube centre must be reachable without the fingertips hitting the table.
LIFT_MIN_Z = 0.025
JOINT_LIMIT_MARGIN = 0.02  # rad kept clear of each Panda joint limit
# Site frame pointing down, fingers opening along world y (columns: site x, y, z axes in world).
EE_DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
IK_ITERATIONS = 2
# The Panda "ready" posture in this model's joint conventions (link6/link7 carry the offsets).
HOME_GUESS = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 0.0, 0.0])


@dataclass(frozen=True)
class EnvConfig:
    """task: "block_push" | "block_lift". split: appearance family "train" | "heldout".
    dr_mode: "train" | "eval" | "off". image_size: side of the square RGB image.
    render_image: False skips rendering (image is then all zeros; for state-only use).
    control_hz: control rate shared with the robot. physics_dt: seconds per physics substep.
    dr_config: DR YAML path (None: config/dr/default.yaml). ik_damping: DLS damping (m)."""

    task: str = "block_push"
    split: str = "train"
    dr_mode: str = "train"
    image_size: int = 64
    render_image: bool = True
    control_hz: float = 10.0
    physics_dt: float = 0.0025
    dr_config: str | None = None
    ik_damping: float = 0.05

    def __post_init__(self) -> None:
        make_task(self.task, self.control_hz)  # validates task and control_hz
        if self.split not in SPLITS:
            raise ValueError(f"EnvConfig.split must be one of {SPLITS}, got {self.split!r}")
        if self.dr_mode not in DR_MODES:
            raise ValueError(f"EnvConfig.dr_mode must be one of {DR_MODES}, got {self.dr_mode!r}")
        if not (isinstance(self.image_size, int) and 16 <= self.image_size <= 480):
            raise ValueError(f"EnvConfig.image_size must be an int in [16, 480], got {self.image_size!r}")
        if not (0.0005 <= self.physics_dt <= 0.01):
            raise ValueError(f"EnvConfig.physics_dt must be in [0.0005, 0.01] s, got {self.physics_dt!r}")
        if abs(self.substeps * self.physics_dt * self.control_hz - 1.0) > 1e-6:
            raise ValueError(
                f"EnvConfig.physics_dt={self.physics_dt!r} must divide the control period 1/{self.control_hz} s"
            )
        if not (0.0 < self.ik_damping < 1.0):
            raise ValueError(f"EnvConfig.ik_damping must be in (0, 1), got {self.ik_damping!r}")

    @property
    def substeps(self) -> int:
        return max(1, round(1.0 / (self.control_hz * self.physics_dt)))


class TwistMujocoEnv(gym.Env):
    """obs = {"state": float32[S], "image": uint8[H, W, 3]}; see docs/contracts.md."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, task: str = "block_push", render_mode: str | None = "rgb_array", **kwargs) -> None:
        self.cfg = EnvConfig(task=task, **kwargs)
        self.task = make_task(task, self.cfg.control_hz)
        self.render_mode = render_mode
        dr_path = Path(self.cfg.dr_config) if self.cfg.dr_config else config_dir() / "dr/default.yaml"
        dr_cfg = DRConfig.from_yaml(dr_path)
        xml = scene.build_mjcf(
            with_gripper=self.task.has_gripper,
            bank_size=2 * dr_cfg.bank_per_split,
            texture_size=dr_cfg.texture_size,
            timestep=self.cfg.physics_dt,
            image_size=self.cfg.image_size,
        )
        self.model = mujoco.MjModel.from_xml_string(xml)
        install_texture_bank(self.model, dr_cfg)
        self.data = mujoco.MjData(self.model)
        self.dr = DomainRandomizer(self.model, dr_cfg, self.cfg.split, self.cfg.dr_mode)

        m = self.model
        self._site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "ee")
        joints = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in scene.ARM_JOINTS]
        self._qadr = m.jnt_qposadr[joints]
        self._dadr = m.jnt_dofadr[joints]
        self._qlo = m.jnt_range[joints, 0] + JOINT_LIMIT_MARGIN
        self._qhi = m.jnt_range[joints, 1] - JOINT_LIMIT_MARGIN
        cube_joint = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "cube")
        self._cube_q = m.jnt_qposadr[cube_joint]
        self._cube_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "cube")
        self._goal_mocap = m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "goal")]
        self._camera = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, "front")
        if self.task.has_gripper:
            fingers = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in scene.FINGER_JOINTS]
            self._finger_q = m.jnt_qposadr[fingers]
            self._finger_bodies = (
                mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "panda0_leftfinger"),
                mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "panda0_rightfinger"),
            )
        self._ws_low = np.array(WORKSPACE_LOW)
        self._ws_high = np.array(WORKSPACE_HIGH)
        if self.task.has_gripper:
            self._ws_low[2] = LIFT_MIN_Z
        self._ik_data = mujoco.MjData(m)
        self._q_home = self._solve_home()

        size = self.cfg.image_size
        self.observation_space = gym.spaces.Dict(
            {
                "state": gym.spaces.Box(-np.inf, np.inf, (self.task.state_dim,), np.float32),
                "image": gym.spaces.Box(0, 255, (size, size, 3), np.uint8),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.task.action_dim,), np.float32)
        self._renderer: mujoco.Renderer | None = None
        self._task_rng: np.random.Generator | None = None
        self._dr_rng: np.random.Generator | None = None
        self._goal = np.zeros(3)
        self._rest_z = 0.0
        self._t = 0

    # --- contract helpers -------------------------------------------------------------------

    def ee_position(self) -> np.ndarray:
        return self.data.site_xpos[self._site].copy()

    def goal_position(self) -> np.ndarray:
        return self._goal.copy()

    def set_goal(self, pos) -> None:
        pos = np.asarray(pos, dtype=np.float64)
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise ValueError(f"goal must be 3 finite numbers, got {pos!r}")
        self._goal = pos.copy()
        self.data.mocap_pos[self._goal_mocap] = [pos[0], pos[1], 0.0]

    def render_camera(self) -> np.ndarray:
        """The camera image of the current state, uint8 (H, W, 3), without stepping."""
        if self._renderer is None:
            try:
                self._renderer = mujoco.Renderer(self.model, self.cfg.image_size, self.cfg.image_size)
            except mujoco.FatalError as err:
                raise RuntimeError(
                    f"MuJoCo could not create a headless GL context (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}): "
                    "set MUJOCO_GL=egl before anything imports mujoco (source scripts/env.sh, or import "
                    "twist_sim first), and install libegl1 libegl-mesa0 libgl1-mesa-dri"
                ) from err
        self._renderer.update_scene(self.data, camera=self._camera)
        return self._renderer.render().copy()

    def render(self) -> np.ndarray:
        return self.render_camera()

    def task_state(self) -> TaskState:
        d = self.data
        cube = d.qpos[self._cube_q : self._cube_q + 7]
        s = TaskState(
            ee_pos=self.ee_position(),
            cube_pos=cube[:3].copy(),
            cube_quat=cube[3:].copy(),
            goal_pos=self._goal,
        )
        s.cube_rest_z = self._rest_z
        if self.task.has_gripper:
            s.finger_width = float(d.qpos[self._finger_q].sum())
            s.grasped = self._grasped()
        return s

    # --- gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or self._task_rng is None:
            # Task layout and appearance draw from separate streams, so that the same seed
            # gives the same cube and goal whatever the DR mode.
            task_seq, dr_seq = np.random.SeedSequence(seed).spawn(2)
            self._task_rng, self._dr_rng = np.random.default_rng(task_seq), np.random.default_rng(dr_seq)
        init = self.task.sample_reset(self._task_rng)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._qadr] = self._q_home
        d.ctrl[:7] = self._q_home
        if self.task.has_gripper:
            d.qpos[self._finger_q] = 0.04
            d.ctrl[7:9] = 0.04
        quat = np.array([np.cos(init["cube_yaw"] / 2), 0.0, 0.0, np.sin(init["cube_yaw"] / 2)])
        d.qpos[self._cube_q : self._cube_q + 7] = np.concatenate([init["cube_pos"], quat])
        self._rest_z = float(init["cube_pos"][2])
        self.set_goal(init["goal_pos"])
        self._dr_values = self.dr.reset(self._dr_rng)
        mujoco.mj_forward(m, d)
        self._t = 0
        return self._observation(), self._info()

    def step(self, action):
        a = self.task.clip_action(action)
        if self._task_rng is None:
            raise RuntimeError("call reset() before step()")
        target = np.clip(self.ee_position() + a[:3] * self.task.action_scale_m, self._ws_low, self._ws_high)
        self.data.ctrl[:7] = self._ik(target)
        if self.task.has_gripper:
            self.data.ctrl[7:9] = 0.04 * (1.0 - a[3]) / 2.0  # -1 open (4 cm per finger), +1 closed
        mujoco.mj_step(self.model, self.data, nstep=self.cfg.substeps)
        self._t += 1
        self._dr_values = self.dr.step(self._dr_rng)
        s = self.task_state()
        truncated = self._t >= self.task.episode_steps
        return self._observation(s), self.task.reward(s), False, truncated, self._info(s)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- internals --------------------------------------------------------------------------

    def _observation(self, s: TaskState | None = None) -> dict[str, np.ndarray]:
        s = s or self.task_state()
        size = self.cfg.image_size
        image = self.render_camera() if self.cfg.render_image else np.zeros((size, size, 3), np.uint8)
        return {"state": self.task.state_vector(s), "image": image}

    def _info(self, s: TaskState | None = None) -> dict:
        s = s or self.task_state()
        return {"success": bool(self.task.success(s)), "dr": self._dr_values}

    def _grasped(self) -> bool:
        d, body = self.data, self.model.geom_bodyid
        touching = set()
        for g1, g2 in zip(d.contact.geom1[: d.ncon], d.contact.geom2[: d.ncon], strict=True):
            if g1 == self._cube_geom:
                touching.add(body[g2])
            elif g2 == self._cube_geom:
                touching.add(body[g1])
        return all(b in touching for b in self._finger_bodies)

    def _ik_delta(self, d: mujoco.MjData, target: np.ndarray, q: np.ndarray) -> np.ndarray:
        """One DLS step, (7,) joint delta, from the kinematics in `d` towards target."""
        m = self.model
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        mujoco.mj_jacSite(m, d, jacp, jacr, self._site)
        jac = np.vstack([jacp[:, self._dadr], jacr[:, self._dadr]])
        rot = d.site_xmat[self._site].reshape(3, 3)
        err_rot = 0.5 * np.cross(rot.T, EE_DOWN.T).sum(axis=0)
        err = np.concatenate([target - d.site_xpos[self._site], err_rot])
        dq = jac.T @ np.linalg.solve(jac @ jac.T + self.cfg.ik_damping**2 * np.eye(6), err)
        # The 7th degree of freedom drifts towards the home posture. The exact null-space
        # projector keeps this pull from moving the end effector.
        null = np.eye(7) - np.linalg.pinv(jac) @ jac
        return dq + null @ (0.1 * (self._q_home - q))

    def _ik(self, target: np.ndarray) -> np.ndarray:
        """Joint targets (7,) for an end-effector target: a few DLS iterations on a kinematic
        copy of the current state, clamped inside the joint limits at every iteration."""
        q = self.data.qpos[self._qadr].copy()
        d = self._ik_data
        d.qpos[:] = self.data.qpos
        for _ in range(IK_ITERATIONS):
            d.qpos[self._qadr] = q
            mujoco.mj_kinematics(self.model, d)
            mujoco.mj_comPos(self.model, d)
            q = np.clip(q + self._ik_delta(d, target, q), self._qlo, self._qhi)
        return q

    def _solve_home(self) -> np.ndarray:
        """Joint posture with the end effector at HOME_EE_POS pointing down (iterated DLS)."""
        m, d = self.model, self._ik_data
        q = HOME_GUESS.copy()
        for _ in range(300):
            self._q_home = q
            d.qpos[self._qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            q = np.clip(q + self._ik_delta(d, np.array(HOME_EE_POS), q), self._qlo, self._qhi)
        d.qpos[self._qadr] = q
        mujoco.mj_kinematics(m, d)
        err = np.linalg.norm(d.site_xpos[self._site] - HOME_EE_POS)
        if err > 1e-3:
            raise RuntimeError(f"home posture IK did not converge ({err:.4f} m off)")
        return q
