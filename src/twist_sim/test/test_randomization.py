"""Domain randomisation: per-step appearance in train mode, fixed within an episode in eval
mode, nominal when off; training and held-out texture families disjoint."""

import mujoco
import numpy as np
import pytest
from twist_sim.randomization import SPLITS, DRConfig, config_dir, texture_bank

from twist_sim import make_env


def frames(dr_mode: str, split: str = "train", steps: int = 6, seed: int = 0):
    env = make_env("block_push", split=split, dr_mode=dr_mode)
    zero = np.zeros(3, np.float32)
    obs, info = env.reset(seed=seed)
    images, drs, texids = (
        [obs["image"].astype(int)],
        [info["dr"]],
        [env.unwrapped.model.mat_texid[:, 1].copy()],
    )
    for _ in range(steps):
        obs, _, _, _, info = env.step(zero)
        images.append(obs["image"].astype(int))
        drs.append(info["dr"])
        texids.append(env.unwrapped.model.mat_texid[:, 1].copy())
    env.close()
    return np.stack(images), drs, np.stack(texids)


def test_train_mode_changes_the_image_every_step():
    images, drs, _ = frames("train")
    diffs = np.abs(np.diff(images, axis=0)).mean(axis=(1, 2, 3))
    assert np.all(diffs > 5.0), diffs
    assert all(a["light_brightness"] != b["light_brightness"] for a, b in zip(drs, drs[1:], strict=False))
    # Episode-level parameters stay put between steps.
    assert all(d["cube_friction"] == drs[0]["cube_friction"] for d in drs)
    assert all(d["camera_position"] == drs[0]["camera_position"] for d in drs)


def test_eval_mode_keeps_appearance_within_an_episode_and_changes_it_between_episodes():
    images, drs, _ = frames("eval", split="heldout")
    assert all(d == drs[0] for d in drs)
    # With a zero action the arm holds still: consecutive frames are (nearly) identical.
    diffs = np.abs(np.diff(images, axis=0)).mean(axis=(1, 2, 3))
    assert np.all(diffs < 0.5), diffs
    other, other_drs, _ = frames("eval", split="heldout", seed=1)
    assert other_drs[0] != drs[0]
    assert np.abs(other[0] - images[0]).mean() > 5.0


def test_off_mode_is_nominal():
    images, drs, texids = frames("off", steps=2)
    assert all(d == {} for d in drs) and np.all(texids == -1)
    assert np.abs(np.diff(images, axis=0)).mean() < 0.5


def test_training_and_heldout_texture_families_are_disjoint():
    cfg = DRConfig.from_yaml(config_dir() / "dr/default.yaml")
    train, held = (texture_bank(s, cfg).astype(float) for s in SPLITS)
    # No held-out texture equals, or is close to, any training texture.
    dist = np.sqrt(((train[:, None] - held[None]) ** 2).mean(axis=(2, 3, 4)))
    assert dist.min() > 10.0, dist.min()


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_only_shows_its_own_textures(split):
    env = make_env("block_push", split=split, dr_mode="train", render_image=False).unwrapped
    cfg = env.dr.cfg
    own = {f"bank{i + SPLITS.index(split) * cfg.bank_per_split}" for i in range(cfg.bank_per_split)}
    seen = set()
    env.reset(seed=0)
    for _ in range(30):
        env.step(np.zeros(3))
        for texid in env.model.mat_texid[:, 1]:
            if texid >= 0:
                seen.add(mujoco.mj_id2name(env.model, mujoco.mjtObj.mjOBJ_TEXTURE, texid))
    assert seen and seen <= own
    assert len(seen) > 10  # the whole bank is in use, not one texture
