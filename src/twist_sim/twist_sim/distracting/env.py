"""Distracting Control tasks: DeepMind Control Suite domains under appearance distractions.

The six tasks of TWIST's Table I, each a gymnasium env with the block tasks' contract
(docs/contracts.md): ``obs = {"state": float32[S], "image": uint8[H, W, 3]}``, ``split`` in
{"train", "heldout"}, ``dr_mode`` in {"train", "eval", "off"}, ``info["dr"]`` holds the
distraction parameters in use, ``truncated`` after ``episode_steps``, ``terminated`` always
False. The privileged state is the suite's proprioceptive observation dict flattened in its
own key order; ``task.state_layout`` names each key's slice. DMC has no success criterion, so
``info["success"]`` is always False.

Distractions follow the Distracting Control Suite (Stone et al., 2021): background (skybox
and floor) textures, body colours and camera pose. ``dr_mode="train"`` resamples textures and
colours every control step and moves the camera by a bounded random walk; ``"eval"`` samples
everything once at reset; ``"off"`` renders the suite's nominal appearance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import mujoco
import numpy as np

from twist_sim.distracting.compat import load_suite
from twist_sim.distracting.textures import sample_colour, sample_texture

# task id -> (dm_control domain, task). Action repeat 2 for every task, as DreamerV2 on DMC.
DISTRACTING_TASKS: dict[str, tuple[str, str]] = {
    "cup_catch": ("ball_in_cup", "catch"),
    "cartpole_balance": ("cartpole", "balance"),
    "cheetah_run": ("cheetah", "run"),
    "hopper_stand": ("hopper", "stand"),
    "walker_walk": ("walker", "walk"),
    "finger_turn_easy": ("finger", "turn_easy"),
}
SPLITS = ("train", "heldout")
DR_MODES = ("train", "eval", "off")
SUITE_EPISODE_CONTROL_STEPS = 1000
# Materials the suite's tasks swap in and out (highlights on reward); the floor and the
# translucent sites keep their nominal look so only "objects" change colour.
_FIXED_MATERIALS = ("grid", "site")
_SKYBOX_FACE = 128
_FLOOR_SIZE = 64


@dataclass(frozen=True)
class DistractingTaskSpec:
    """The part of twist_sim.tasks.TaskSpec a training pipeline reads, for a DMC task."""

    name: str
    action_dim: int
    state_dim: int
    episode_steps: int
    control_hz: float
    action_repeat: int
    state_layout: dict[str, tuple[int, int]] = field(default_factory=dict)
    has_gripper: bool = False
    has_success: bool = False


@dataclass(frozen=True)
class DistractionConfig:
    """Strength of each distraction.

    camera_offset_m: half-width of the per-episode uniform camera position offset, metres.
    camera_angle_rad: half-width of the per-episode camera rotation about each axis, radians.
    camera_walk_m: per-step standard deviation of the camera random walk (train mode), metres.
    camera_walk_rad: per-step standard deviation of the rotational random walk, radians.
    """

    camera_offset_m: float = 0.10
    camera_angle_rad: float = 0.08
    camera_walk_m: float = 0.01
    camera_walk_rad: float = 0.008

    def __post_init__(self) -> None:
        for name in ("camera_offset_m", "camera_angle_rad", "camera_walk_m", "camera_walk_rad"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"DistractionConfig.{name} must be finite and >= 0, got {value!r}")


def _skybox_xml(face: int) -> str:
    # The suite's 800 px skybox would cost ~11 MB of GPU upload per step; 128 px per face is
    # more than a 64 px camera image can resolve.
    return (
        '<mujoco><asset><texture name="skybox" type="skybox" builtin="gradient" rgb1=".4 .6 .8" '
        f'rgb2="0 0 0" width="{face}" height="{face}"/></asset></mujoco>'
    )


def _rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) from small roll, pitch, yaw angles (3,)."""
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, angles, "xyz")
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    return mat.reshape(3, 3)


class DistractingControlEnv(gym.Env):
    """One DMC task with distractions. See the module docstring for the contract."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        task: str,
        split: str = "train",
        dr_mode: str = "train",
        image_size: int = 64,
        render_image: bool = True,
        action_repeat: int = 2,
        camera_id: int = 0,
        distractions: DistractionConfig | None = None,
    ) -> None:
        if task not in DISTRACTING_TASKS:
            raise ValueError(f"task must be one of {sorted(DISTRACTING_TASKS)}, got {task!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if dr_mode not in DR_MODES:
            raise ValueError(f"dr_mode must be one of {DR_MODES}, got {dr_mode!r}")
        if not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
        if not isinstance(action_repeat, int) or action_repeat < 1:
            raise ValueError(f"action_repeat must be an int >= 1, got {action_repeat!r}")
        self.split, self.dr_mode, self.image_size = split, dr_mode, image_size
        self.render_image, self.action_repeat, self.camera_id = render_image, action_repeat, camera_id
        self.distractions = distractions or DistractionConfig()

        suite = load_suite()
        domain_name, task_name = DISTRACTING_TASKS[task]
        # The episode length is ours (truncation), so the suite's own time limit is lifted.
        self._dm = suite.load(domain_name, task_name, task_kwargs={"time_limit": float("inf")})
        domain = __import__(f"dm_control.suite.{domain_name}", fromlist=["get_model_and_assets"])
        xml, assets = domain.get_model_and_assets()
        materials = assets["./common/materials.xml"].replace(
            b'width="300" height="300"', f'width="{_FLOOR_SIZE}" height="{_FLOOR_SIZE}"'.encode()
        )
        assets = dict(
            assets,
            **{
                "./common/skybox.xml": _skybox_xml(_SKYBOX_FACE).encode(),
                "./common/materials.xml": materials,
            },
        )
        self._dm.physics.reload_from_xml_string(xml.decode() if isinstance(xml, bytes) else xml, assets)
        self._physics = self._dm.physics
        model = self._physics.model
        # Rendered as the block scenes are (mujoco_scene.py): no shadow maps, no floor reflection,
        # no multisampling. Software EGL renders a 64 x 64 cartpole frame in 4 ms instead of 40 ms
        # (docs/baselines.md); the distractions are untouched and only the cart's floor shadow is lost.
        # Set before the first render, which creates the GL context with these sizes.
        model.vis.quality.shadowsize = 0
        model.vis.quality.offsamples = 0
        model.mat_reflectance[:] = 0.0
        self._skybox_id = mujoco.mj_name2id(model.ptr, mujoco.mjtObj.mjOBJ_TEXTURE, "skybox")
        self._floor_id = mujoco.mj_name2id(model.ptr, mujoco.mjtObj.mjOBJ_TEXTURE, "grid")
        self._nominal_tex = np.array(model.tex_data, copy=True)
        self._nominal_mat_rgba = np.array(model.mat_rgba, copy=True)
        names = [mujoco.mj_id2name(model.ptr, mujoco.mjtObj.mjOBJ_MATERIAL, i) for i in range(model.nmat)]
        self._coloured_mats = [i for i, n in enumerate(names) if n not in _FIXED_MATERIALS]

        spec = self._dm.observation_spec()
        layout, start = {}, 0
        for key, arr in spec.items():
            size = int(np.prod(arr.shape))
            layout[key] = (start, start + size)
            start += size
        action_dim = int(self._dm.action_spec().shape[0])
        self.task = DistractingTaskSpec(
            name=task,
            action_dim=action_dim,
            state_dim=start,
            episode_steps=SUITE_EPISODE_CONTROL_STEPS // action_repeat,
            control_hz=1.0 / (self._dm.control_timestep() * action_repeat),
            action_repeat=action_repeat,
            state_layout=layout,
        )
        self.observation_space = gym.spaces.Dict(
            {
                "state": gym.spaces.Box(-np.inf, np.inf, (start,), np.float32),
                "image": gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32)
        self._rng = np.random.default_rng()
        self._steps = 0
        self._dr: dict = {}
        self._cam_pos = np.zeros(3)
        self._cam_angles = np.zeros(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        # The suite task draws its initial state from a RandomState; derive it from our Generator.
        self._dm.task._random = np.random.RandomState(int(self._rng.integers(2**31 - 1)))
        time_step = self._dm.reset()
        self._steps = 0
        self._sample_camera_offset()
        self._sample_appearance()
        return self._observation(time_step.observation), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (self.task.action_dim,):
            raise ValueError(f"action must have shape ({self.task.action_dim},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        action = np.clip(action, -1.0, 1.0)
        reward = 0.0
        for _ in range(self.action_repeat):
            time_step = self._dm.step(action)
            reward += float(time_step.reward or 0.0)
        self._steps += 1
        if self.dr_mode == "train":
            self._walk_camera()
            self._sample_appearance()
        truncated = self._steps >= self.task.episode_steps
        return self._observation(time_step.observation), reward, False, truncated, self._info()

    def render_camera(self) -> np.ndarray:
        """The current camera image uint8 (image_size, image_size, 3), without stepping."""
        data = self._physics.data
        pos, mat = data.cam_xpos[self.camera_id].copy(), data.cam_xmat[self.camera_id].copy()
        if self.dr_mode != "off":
            # Perturb the already-computed camera frame for this render only, so the jitter
            # works for fixed and body-tracking cameras alike and never touches the dynamics.
            rot = _rotation(self._cam_angles)
            data.cam_xpos[self.camera_id] = pos + self._cam_pos
            data.cam_xmat[self.camera_id] = (rot @ mat.reshape(3, 3)).reshape(9)
        try:
            return self._physics.render(self.image_size, self.image_size, camera_id=self.camera_id)
        finally:
            data.cam_xpos[self.camera_id], data.cam_xmat[self.camera_id] = pos, mat

    def _observation(self, dm_obs) -> dict[str, np.ndarray]:
        state = np.concatenate([np.asarray(v, dtype=np.float32).reshape(-1) for v in dm_obs.values()])
        if self.render_image:
            image = np.ascontiguousarray(self.render_camera())
        else:
            image = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        return {"state": state, "image": image}

    def _info(self) -> dict:
        return {"success": False, "dr": dict(self._dr)}

    def _sample_camera_offset(self) -> None:
        cfg = self.distractions
        if self.dr_mode == "off":
            self._cam_pos, self._cam_angles = np.zeros(3), np.zeros(3)
            return
        self._cam_pos = self._rng.uniform(-cfg.camera_offset_m, cfg.camera_offset_m, 3)
        self._cam_angles = self._rng.uniform(-cfg.camera_angle_rad, cfg.camera_angle_rad, 3)

    def _walk_camera(self) -> None:
        """Bounded random walk: the camera drifts each step but never leaves its episode range."""
        cfg = self.distractions
        self._cam_pos = np.clip(
            self._cam_pos + self._rng.normal(0.0, cfg.camera_walk_m, 3),
            -cfg.camera_offset_m,
            cfg.camera_offset_m,
        )
        self._cam_angles = np.clip(
            self._cam_angles + self._rng.normal(0.0, cfg.camera_walk_rad, 3),
            -cfg.camera_angle_rad,
            cfg.camera_angle_rad,
        )

    def _sample_appearance(self) -> None:
        model = self._physics.model
        if self.dr_mode == "off":
            model.tex_data[:] = self._nominal_tex
            model.mat_rgba[:] = self._nominal_mat_rgba
            self._dr = {"mode": "off"}
        else:
            sky_pattern = self._write_texture(self._skybox_id, faces=6)
            floor_pattern = self._write_texture(self._floor_id, faces=1)
            for i in self._coloured_mats:
                model.mat_rgba[i, :3] = sample_colour(self._rng, self.split)
            self._dr = {
                "mode": self.dr_mode,
                "split": self.split,
                "background": sky_pattern,
                "floor": floor_pattern,
                "camera_offset_m": self._cam_pos.round(4).tolist(),
                "camera_angles_rad": self._cam_angles.round(4).tolist(),
            }
        self._upload_textures()

    def _write_texture(self, tex_id: int, faces: int) -> str:
        """Fill texture tex_id (faces stacked vertically, as MuJoCo stores cube maps) with one pattern."""
        model = self._physics.model
        width, height = int(model.tex_width[tex_id]), int(model.tex_height[tex_id])
        channels, adr = int(model.tex_nchannel[tex_id]), int(model.tex_adr[tex_id])
        pattern, face = sample_texture(self._rng, width, self.split)
        image = np.tile(face, (height // width, 1, 1)) if faces > 1 else face[:height]
        if channels == 4:
            image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        model.tex_data[adr : adr + width * height * channels] = image.reshape(-1)
        return pattern

    def _upload_textures(self) -> None:
        if not self.render_image:
            return
        contexts = self._physics.contexts  # created on first use
        with contexts.gl.make_current() as ctx:
            for tex_id in (self._skybox_id, self._floor_id):
                ctx.call(mujoco.mjr_uploadTexture, self._physics.model.ptr, contexts.mujoco.ptr, tex_id)

    def close(self) -> None:
        self._physics.free()
