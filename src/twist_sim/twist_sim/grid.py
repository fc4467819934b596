"""`twist-sim-grid`: a PNG of training-split and held-out-split frames for both tasks.

Rows: block_push train, block_push heldout, block_lift train, block_lift heldout. Each row shows
frames from several episodes (scripted expert, DR in "train" mode for the training split and
"eval" mode for the held-out split), so a person can check framing and appearance families.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from twist_sim import make_env
from twist_sim.experts import ScriptedExpert


def frames(task: str, split: str, columns: int, image_size: int, seed: int) -> list[np.ndarray]:
    """`columns` images (image_size, image_size, 3): a few frames from each of several episodes."""
    dr_mode = "train" if split == "train" else "eval"
    env = make_env(task, split=split, dr_mode=dr_mode, image_size=image_size)
    expert = ScriptedExpert(env.unwrapped.task)
    out, steps = [], (0, 50, 110)
    episode = 0
    while len(out) < columns:
        obs, _ = env.reset(seed=seed + episode)
        for t in range(max(steps) + 1):
            if t in steps and len(out) < columns:
                out.append(obs["image"])
            obs, *_ = env.step(expert.act(obs["state"]))
        episode += 1
    env.close()
    return out


def make_grid(columns: int = 9, image_size: int = 64, scale: int = 2, seed: int = 0) -> np.ndarray:
    """uint8 (4 * side, columns * side, 3) with side = image_size * scale + 2 (white gutter)."""
    rows = []
    for task in ("block_push", "block_lift"):
        for split in ("train", "heldout"):
            imgs = frames(task, split, columns, image_size, seed)
            tiles = [
                np.pad(
                    np.kron(im, np.ones((scale, scale, 1), np.uint8)),
                    ((1, 1), (1, 1), (0, 0)),
                    constant_values=255,
                )
                for im in imgs
            ]
            rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/sim_grid.png"), help="PNG to write")
    parser.add_argument("--columns", type=int, default=9, help="frames per row")
    parser.add_argument("--image-size", type=int, default=64, help="rendered image side in pixels")
    parser.add_argument("--scale", type=int, default=2, help="pixel upscaling for viewing")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    grid = make_grid(args.columns, args.image_size, args.scale, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out)
    print(f"wrote {args.out} (rows: push train, push heldout, lift train, lift heldout)")


if __name__ == "__main__":
    main()
