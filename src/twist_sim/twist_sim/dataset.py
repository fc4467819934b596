"""The matching dataset D = {(s_t, o_t, a_t, r_t)}: one atomic npz per episode plus a manifest.

Layout: DIR/manifest.json + DIR/episodes/<index>.npz. An episode file is written to a temp file
in the same folder, fsynced and `os.replace`d into place; then the manifest is rewritten the same
way. Readers list only the episodes the manifest names, so a writer killed at any point leaves
a dataset whose reader sees whole episodes only. Keys and shapes: docs/contracts.md.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

REQUIRED_KEYS = ("state", "image", "action", "reward", "is_first", "is_last", "is_terminal")
OPTIONAL_KEYS = ("success",)
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def validate_episode(episode: dict) -> int:
    """Check keys, dtypes, shapes and finiteness; return T+1. Raises ValueError naming the field."""
    if not isinstance(episode, dict):
        raise ValueError(f"episode must be a dict of arrays, got {type(episode).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in episode]
    unknown = [k for k in episode if k not in REQUIRED_KEYS + OPTIONAL_KEYS]
    if missing or unknown:
        raise ValueError(
            f"episode keys: missing {missing}, unknown {unknown}; expected {list(REQUIRED_KEYS)}"
        )
    n = len(np.asarray(episode["state"]))
    if n < 2:
        raise ValueError(f"episode must hold at least 2 steps (reset + 1 step), got {n}")
    ndims = {
        "state": 2,
        "image": 4,
        "action": 2,
        "reward": 1,
        "is_first": 1,
        "is_last": 1,
        "is_terminal": 1,
        "success": 1,
    }
    for key, value in episode.items():
        a = np.asarray(value)
        if a.ndim != ndims[key] or a.shape[0] != n:
            raise ValueError(
                f"episode[{key!r}] has shape {a.shape}; expected {ndims[key]} dims with length {n}"
            )
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            bad = np.argwhere(~np.isfinite(a))[0].tolist()
            raise ValueError(f"episode[{key!r}] holds a non-finite value at index {bad}: {a[tuple(bad)]}")
    image = np.asarray(episode["image"])
    if image.dtype != np.uint8 or image.shape[-1] != 3:
        raise ValueError(f"episode['image'] must be uint8 (T+1, H, W, 3), got {image.dtype} {image.shape}")
    first, last = np.asarray(episode["is_first"], bool), np.asarray(episode["is_last"], bool)
    if not first[0] or first[1:].any():
        raise ValueError(f"episode['is_first'] must be True at t=0 only, got {first.nonzero()[0].tolist()}")
    if not last[-1] or last[:-1].any():
        raise ValueError(
            f"episode['is_last'] must be True at the final step only, got {last.nonzero()[0].tolist()}"
        )
    return n


def _read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.exists():
        return {"format": FORMAT_VERSION, "episodes": []}
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT_VERSION}")
    return manifest


def write_episode(directory: str | Path, episode: dict, metadata: dict | None = None) -> Path:
    """Append one episode atomically; returns the episode file. metadata (JSON) goes to the manifest."""
    n = validate_episode(episode)
    root = Path(directory)
    (root / "episodes").mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(root)
    index = len(manifest["episodes"])
    name = f"episodes/{index:06d}.npz"
    arrays = {k: np.asarray(v) for k, v in episode.items()}
    arrays["state"] = arrays["state"].astype(np.float32)
    arrays["action"] = arrays["action"].astype(np.float32)
    arrays["reward"] = arrays["reward"].astype(np.float32)
    for key in ("is_first", "is_last", "is_terminal", "success"):
        if key in arrays:
            arrays[key] = arrays[key].astype(bool)
    path = root / name
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    manifest["episodes"].append({"file": name, "length": n, **(metadata or {})})
    _atomic_write(root / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
    return path


class EpisodeDataset:
    """Read-only view of the whole episodes named in a dataset's manifest."""

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)
        if not self.root.is_dir():
            raise ValueError(f"dataset directory {self.root} does not exist")
        self.entries = _read_manifest(self.root)["episodes"]
        self.lengths = np.array([e["length"] for e in self.entries], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def num_steps(self) -> int:
        """Environment steps held (each episode contributes its T actions)."""
        return int((self.lengths - 1).sum())

    def episode(self, i: int, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Episode i; `keys` reads only those arrays (e.g. no images for a state replay)."""
        if not 0 <= i < len(self):
            raise IndexError(f"episode {i} out of range [0, {len(self)})")
        with np.load(self.root / self.entries[i]["file"]) as f:
            missing = [k for k in keys or () if k not in f.files]
            if missing:
                raise KeyError(f"episode {i} of {self.root} has no {missing}")
            return {k: f[k] for k in (keys or f.files)}


class SequenceSampler:
    """Uniform random windows of `length` consecutive steps from whole episodes.

    `dataset` is one EpisodeDataset or a list of them (e.g. a teacher's D plus more rollouts of
    that teacher), sampled as one. sample() -> dict of arrays shaped (batch, length, ...), e.g.
    image (B, L, H, W, 3) uint8, state (B, L, S) float32. Episodes are loaded once and kept in
    memory.
    """

    def __init__(
        self,
        dataset: EpisodeDataset | list[EpisodeDataset],
        length: int,
        batch_size: int,
        rng: np.random.Generator,
    ) -> None:
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"SequenceSampler.length must be a positive int, got {length!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SequenceSampler.batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"SequenceSampler.rng must be a numpy Generator, got {type(rng).__name__}")
        datasets = dataset if isinstance(dataset, list | tuple) else [dataset]
        usable = [(d, i) for d in datasets for i in range(len(d)) if d.lengths[i] >= length]
        if not usable:
            roots = ", ".join(f"{d.root} ({len(d)} episodes)" for d in datasets)
            raise ValueError(f"no episode holds {length} steps (datasets {roots})")
        self.length, self.batch_size, self.rng = length, batch_size, rng
        self.episodes = [d.episode(i) for d, i in usable]
        self.starts = np.array([len(ep["state"]) - length + 1 for ep in self.episodes])

    def sample(self) -> dict[str, np.ndarray]:
        # Weight episodes by their number of windows, so every window is equally likely.
        p = self.starts / self.starts.sum()
        which = self.rng.choice(len(self.episodes), size=self.batch_size, p=p)
        offsets = self.rng.integers(0, self.starts[which])
        keys = self.episodes[0].keys()
        return {
            k: np.stack(
                [self.episodes[e][k][o : o + self.length] for e, o in zip(which, offsets, strict=True)]
            )
            for k in keys
        }
