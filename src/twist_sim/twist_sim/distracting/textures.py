"""Procedural appearance families for the Distracting Control tasks.

The Distracting Control Suite (Stone et al., 2021) plays DAVIS videos in the background. Those
videos cannot be downloaded here, so backgrounds are procedural textures instead. Training and
held-out splits are disjoint twice over: they use different pattern generators and their
colours come from non-overlapping hue intervals, so no held-out image can be produced by the
training distribution.

Every function takes an explicit ``np.random.Generator``; nothing touches global RNG state.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np

# Half-open hue intervals in [0, 1): training colours never share a hue with held-out ones.
HUE_RANGES: dict[str, tuple[float, float]] = {"train": (0.0, 0.5), "heldout": (0.5, 1.0)}


def sample_colour(rng: np.random.Generator, split: str) -> np.ndarray:
    """One RGB colour in [0, 1]^3 whose hue lies in the split's hue interval. Returns float64 (3,)."""
    lo, hi = HUE_RANGES[split]
    hue = rng.uniform(lo, hi)
    sat = rng.uniform(0.35, 1.0)
    val = rng.uniform(0.35, 1.0)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val))


def _two_colours(rng: np.random.Generator, split: str) -> tuple[np.ndarray, np.ndarray]:
    return sample_colour(rng, split), sample_colour(rng, split)


def _mix(mask: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """mask: float (H, W) in [0, 1] -> float (H, W, 3) blending c1 (mask=0) into c2 (mask=1)."""
    return (1.0 - mask)[..., None] * c1 + mask[..., None] * c2


def checker(rng: np.random.Generator, size: int, split: str) -> np.ndarray:
    cells = int(rng.integers(2, 9))
    yy, xx = np.mgrid[0:size, 0:size] * cells // size
    return _mix(((yy + xx) % 2).astype(np.float64), *_two_colours(rng, split))


def stripes(rng: np.random.Generator, size: int, split: str) -> np.ndarray:
    angle = rng.uniform(0.0, np.pi)
    period = rng.uniform(0.1, 0.4) * size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    return _mix((np.floor(phase) % 2).astype(np.float64), *_two_colours(rng, split))


def value_noise(rng: np.random.Generator, size: int, split: str) -> np.ndarray:
    """Smooth noise: a coarse random grid upsampled bilinearly, like clouds or foliage."""
    grid = int(rng.integers(3, 9))
    coarse = rng.uniform(0.0, 1.0, size=(grid + 1, grid + 1))
    t = np.linspace(0.0, grid, size, endpoint=False)
    i = t.astype(int)
    f = t - i
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    mask = rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]
    return _mix(mask, *_two_colours(rng, split))


def dots(rng: np.random.Generator, size: int, split: str) -> np.ndarray:
    count = int(rng.integers(4, 16))
    centres = rng.uniform(0, size, size=(count, 2))
    radii = rng.uniform(0.04, 0.15, size=count) * size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    d2 = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    mask = (d2 < radii**2).any(axis=-1).astype(np.float64)
    return _mix(mask, *_two_colours(rng, split))


Pattern = Callable[[np.random.Generator, int, str], np.ndarray]

# Disjoint pattern families per split (checked by the tests).
PATTERNS: dict[str, dict[str, Pattern]] = {
    "train": {"checker": checker, "stripes": stripes},
    "heldout": {"value_noise": value_noise, "dots": dots},
}


def sample_texture(rng: np.random.Generator, size: int, split: str) -> tuple[str, np.ndarray]:
    """A square texture from the split's family.

    Returns (pattern name, uint8 (size, size, 3)).
    """
    if split not in PATTERNS:
        raise ValueError(f"split must be one of {sorted(PATTERNS)}, got {split!r}")
    names = sorted(PATTERNS[split])
    name = names[int(rng.integers(len(names)))]
    image = PATTERNS[split][name](rng, size, split)
    return name, np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
