"""Domain randomisation: declarative distributions bound to MuJoCo model attributes.

A DR config (config/dr/*.yaml) lists parameters, each one a distribution bound to one model
attribute of one named element and resampled `every` step or episode. The texture bank holds
procedural textures from two disjoint families: the training split draws only from the
training family, the held-out split only from the held-out one. Both banks are baked into the
model once; a texture parameter only switches `mat_texid`, which is free at render time.

Modes: "train" resamples `every: step` parameters each step and `every: episode` ones at
reset; "eval" samples everything once at reset; "off" keeps the nominal model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import yaml

DR_MODES = ("train", "eval", "off")
SPLITS = ("train", "heldout")
# attribute -> (MuJoCo object type of `element`, value size or None for any, what the value means)
ATTRIBUTES = {
    "mat_texid": (mujoco.mjtObj.mjOBJ_MATERIAL, 1, "index into the split's texture bank"),
    "mat_rgba": (mujoco.mjtObj.mjOBJ_MATERIAL, 3, "RGB tint multiplied with the texture"),
    "light_diffuse": (mujoco.mjtObj.mjOBJ_LIGHT, 1, "scale of the nominal diffuse colour of every light"),
    "geom_friction": (mujoco.mjtObj.mjOBJ_GEOM, 1, "sliding friction coefficient"),
    "cam_pos": (mujoco.mjtObj.mjOBJ_CAMERA, 3, "offset in metres added to the nominal position"),
    "cam_euler": (
        mujoco.mjtObj.mjOBJ_CAMERA,
        3,
        "rotation offset in degrees (x, y, z) of the nominal camera",
    ),
}
DISTRIBUTIONS = ("uniform", "texture")
# Texture families: the training split is built only from the first generators, the held-out
# split only from the second, with separate seeds, so no held-out texture is seen in training.
FAMILIES = {"train": ("checker", "stripes", "noise"), "heldout": ("dots", "waves", "marble")}


@dataclass(frozen=True)
class DRParameter:
    """One randomised quantity.

    name: label used in info["dr"]. attribute: a key of ATTRIBUTES. element: model name of the
    material/light/geom/camera ("*" for every light). dist: "uniform" (low/high, scalar or list)
    or "texture" (uniform over the split's bank). every: "step" or "episode".
    """

    name: str
    attribute: str
    element: str
    dist: str
    every: str = "episode"
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.attribute not in ATTRIBUTES:
            raise ValueError(
                f"DRParameter.attribute must be one of {sorted(ATTRIBUTES)}, got {self.attribute!r}"
            )
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"DRParameter.dist must be one of {DISTRIBUTIONS}, got {self.dist!r}")
        if self.every not in ("step", "episode"):
            raise ValueError(f"DRParameter.every must be 'step' or 'episode', got {self.every!r}")
        if (self.dist == "texture") != (self.attribute == "mat_texid"):
            raise ValueError(
                f"DRParameter.dist 'texture' goes with attribute 'mat_texid' only, got {self.dist!r}"
            )
        if self.dist == "uniform":
            size = ATTRIBUTES[self.attribute][1]
            if len(self.low) != size or len(self.high) != size:
                raise ValueError(
                    f"DRParameter {self.name}: low/high need {size} values, got {self.low!r}, {self.high!r}"
                )
            if any(lo > hi for lo, hi in zip(self.low, self.high, strict=True)):
                raise ValueError(f"DRParameter {self.name}: low {self.low!r} exceeds high {self.high!r}")


@dataclass(frozen=True)
class DRConfig:
    """texture_size: side of each procedural texture in pixels. bank_per_split: textures per
    split. seeds: texture-bank seed of each split. parameters: what is randomised."""

    texture_size: int = 32
    bank_per_split: int = 24
    seeds: dict[str, int] = field(default_factory=lambda: {"train": 1, "heldout": 2})
    parameters: tuple[DRParameter, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.texture_size, int) and 4 <= self.texture_size <= 512):
            raise ValueError(f"DRConfig.texture_size must be an int in [4, 512], got {self.texture_size!r}")
        if not (isinstance(self.bank_per_split, int) and self.bank_per_split >= 1):
            raise ValueError(f"DRConfig.bank_per_split must be a positive int, got {self.bank_per_split!r}")
        if set(self.seeds) != set(SPLITS) or self.seeds["train"] == self.seeds["heldout"]:
            raise ValueError(f"DRConfig.seeds needs distinct 'train' and 'heldout' seeds, got {self.seeds!r}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> DRConfig:
        raw = yaml.safe_load(Path(path).read_text())
        params = []
        for p in raw.get("parameters", []):
            p = dict(p)
            for key in ("low", "high"):
                if key in p:
                    p[key] = tuple(float(v) for v in np.atleast_1d(p[key]))
            params.append(DRParameter(**p))
        return cls(
            texture_size=raw.get("texture_size", 32),
            bank_per_split=raw.get("bank_per_split", 24),
            seeds=dict(raw.get("seeds", {"train": 1, "heldout": 2})),
            parameters=tuple(params),
        )


def config_dir() -> Path:
    """The workspace config/ folder: $TWIST_CONFIG_DIR, else the nearest config/ above this module
    (found from an editable install and from a colcon install inside the workspace)."""
    if os.environ.get("TWIST_CONFIG_DIR"):
        return Path(os.environ["TWIST_CONFIG_DIR"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "config/dr/default.yaml").exists():
            return parent / "config"
    raise FileNotFoundError("workspace config/ not found; set TWIST_CONFIG_DIR or pass dr_config=<path>")


def _pattern(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One procedural texture, float (size, size) in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / size
    if kind == "checker":
        n = rng.integers(2, 9)
        return ((np.floor(x * n) + np.floor(y * n)) % 2).astype(float)
    if kind == "stripes":
        n, angle = rng.integers(2, 10), rng.uniform(0, np.pi)
        return (np.sin(2 * np.pi * n * (x * np.cos(angle) + y * np.sin(angle))) > 0).astype(float)
    if kind == "noise":
        cells = rng.integers(2, 9)
        coarse = rng.uniform(size=(cells, cells))
        return np.kron(coarse, np.ones((size // cells + 1, size // cells + 1)))[:size, :size]
    if kind == "dots":
        n, r = rng.integers(2, 7), rng.uniform(0.15, 0.4)
        fx, fy = (x * n) % 1 - 0.5, (y * n) % 1 - 0.5
        return (np.hypot(fx, fy) < r).astype(float)
    if kind == "waves":
        f1, f2 = rng.uniform(1, 5, size=2)
        return (
            0.5
            + 0.25 * np.sin(2 * np.pi * f1 * x + 3 * np.sin(2 * np.pi * f2 * y))
            + 0.25 * np.cos(2 * np.pi * f2 * x)
        )
    if kind == "marble":
        turb = rng.uniform(size=(4, 4))
        turb = np.kron(turb, np.ones((size // 4 + 1, size // 4 + 1)))[:size, :size]
        return 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(2, 6) * x + 4 * turb))
    raise ValueError(f"unknown texture kind {kind!r}")


def texture_bank(split: str, cfg: DRConfig) -> np.ndarray:
    """The split's textures: uint8 (bank_per_split, size, size, 3), deterministic in cfg.seeds."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = np.random.default_rng(cfg.seeds[split])
    kinds = FAMILIES[split]
    bank = np.empty((cfg.bank_per_split, cfg.texture_size, cfg.texture_size, 3), np.uint8)
    for i in range(cfg.bank_per_split):
        p = _pattern(kinds[i % len(kinds)], cfg.texture_size, rng)[..., None]
        c1, c2 = rng.uniform(0, 1, size=(2, 3))
        bank[i] = np.round(255 * (p * c1 + (1 - p) * c2)).astype(np.uint8)
    return bank


def install_texture_bank(model: mujoco.MjModel, cfg: DRConfig) -> None:
    """Write both splits' banks into the placeholder textures bank0.. of a freshly built model."""
    banks = np.concatenate([texture_bank(s, cfg) for s in SPLITS])
    for i, tex in enumerate(banks):
        tid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXTURE, f"bank{i}")
        adr, n = model.tex_adr[tid], tex.size
        model.tex_data[adr : adr + n] = tex.reshape(-1)


def _euler_quat(deg: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, np.deg2rad(deg), "xyz")
    return quat


class DomainRandomizer:
    """Applies a DRConfig to one model. All draws come from the Generator passed in."""

    def __init__(self, model: mujoco.MjModel, cfg: DRConfig, split: str, mode: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if mode not in DR_MODES:
            raise ValueError(f"dr_mode must be one of {DR_MODES}, got {mode!r}")
        self.model, self.cfg, self.split, self.mode = model, cfg, split, mode
        offset = SPLITS.index(split) * cfg.bank_per_split
        self._tex_ids = np.array(
            [
                mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXTURE, f"bank{offset + i}")
                for i in range(cfg.bank_per_split)
            ]
        )
        self._ids = {}
        for p in cfg.parameters:
            objtype = ATTRIBUTES[p.attribute][0]
            if p.element == "*":
                n = {mujoco.mjtObj.mjOBJ_LIGHT: model.nlight}[objtype]
                self._ids[p.name] = np.arange(n)
                continue
            oid = mujoco.mj_name2id(model, objtype, p.element)
            if oid < 0:
                raise ValueError(f"DR parameter {p.name}: no {objtype.name} named {p.element!r} in the model")
            self._ids[p.name] = np.array([oid])
        self._nominal = {
            "mat_texid": model.mat_texid.copy(),
            "mat_rgba": model.mat_rgba.copy(),
            "light_diffuse": model.light_diffuse.copy(),
            "geom_friction": model.geom_friction.copy(),
            "cam_pos": model.cam_pos.copy(),
            "cam_quat": model.cam_quat.copy(),
        }
        self.values: dict[str, list[float]] = {}

    def reset(self, rng: np.random.Generator) -> dict[str, list[float]]:
        """New episode: restore nominal values, then sample every parameter (unless mode is off)."""
        m, nom = self.model, self._nominal
        m.mat_texid[:] = nom["mat_texid"]
        m.mat_rgba[:] = nom["mat_rgba"]
        m.light_diffuse[:] = nom["light_diffuse"]
        m.geom_friction[:] = nom["geom_friction"]
        m.cam_pos[:] = nom["cam_pos"]
        m.cam_quat[:] = nom["cam_quat"]
        self.values = {}
        if self.mode != "off":
            for p in self.cfg.parameters:
                self._apply(p, rng)
        return dict(self.values)

    def step(self, rng: np.random.Generator) -> dict[str, list[float]]:
        """After a control step: resample the per-step parameters in train mode."""
        if self.mode == "train":
            for p in self.cfg.parameters:
                if p.every == "step":
                    self._apply(p, rng)
        return dict(self.values)

    def _apply(self, p: DRParameter, rng: np.random.Generator) -> None:
        m, ids = self.model, self._ids[p.name]
        if p.dist == "texture":
            value = np.array([rng.integers(self.cfg.bank_per_split)], dtype=float)
        else:
            value = rng.uniform(p.low, p.high)
        self.values[p.name] = value.tolist()
        if p.attribute == "mat_texid":
            m.mat_texid[ids, mujoco.mjtTextureRole.mjTEXROLE_RGB] = self._tex_ids[int(value[0])]
        elif p.attribute == "mat_rgba":
            m.mat_rgba[ids, :3] = value
        elif p.attribute == "light_diffuse":
            m.light_diffuse[ids] = self._nominal["light_diffuse"][ids] * value[0]
        elif p.attribute == "geom_friction":
            m.geom_friction[ids, 0] = value[0]
        elif p.attribute == "cam_pos":
            m.cam_pos[ids] = self._nominal["cam_pos"][ids] + value
        elif p.attribute == "cam_euler":
            for i in ids:
                mujoco.mju_mulQuat(m.cam_quat[i], self._nominal["cam_quat"][i], _euler_quat(value))
