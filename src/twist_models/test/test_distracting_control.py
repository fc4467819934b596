"""Distracting Control tasks: spec conformance, determinism, disjoint splits, per-step distractions."""

from __future__ import annotations

import numpy as np
import pytest
from twist_sim.distracting import DISTRACTING_TASKS, gym_id, make_distracting_env, register_envs
from twist_sim.distracting.textures import HUE_RANGES, PATTERNS, sample_colour, sample_texture


@pytest.fixture(scope="module", params=sorted(DISTRACTING_TASKS))
def task(request):
    return request.param


def test_spec_conformance(task):
    env = make_distracting_env(task, split="train", dr_mode="train", image_size=32)
    try:
        obs, info = env.reset(seed=0)
        spec = env.unwrapped.task
        assert env.observation_space.contains(obs)
        assert obs["state"].dtype == np.float32 and obs["state"].shape == (spec.state_dim,)
        assert obs["image"].dtype == np.uint8 and obs["image"].shape == (32, 32, 3)
        assert spec.episode_steps == 500 and spec.action_repeat == 2
        slices = sorted(spec.state_layout.values())
        assert slices[0][0] == 0 and slices[-1][1] == spec.state_dim
        assert all(a[1] == b[0] for a, b in zip(slices, slices[1:], strict=False))
        assert info["success"] is False and info["dr"]["split"] == "train"
        obs, reward, terminated, truncated, info = env.step(np.full(spec.action_dim, 5.0, np.float32))
        assert np.isfinite(reward) and terminated is False and truncated is False
        with pytest.raises(ValueError, match="finite"):
            env.step(np.full(spec.action_dim, np.nan))
        with pytest.raises(ValueError, match="shape"):
            env.step(np.zeros(spec.action_dim + 1))
    finally:
        env.close()


def test_truncates_after_episode_steps():
    env = make_distracting_env("cartpole_balance", dr_mode="off", render_image=False)
    env.reset(seed=0)
    for i in range(env.unwrapped.task.episode_steps):
        _, _, terminated, truncated, _ = env.step(np.zeros(1))
        assert terminated is False and truncated == (i == env.unwrapped.task.episode_steps - 1)
    env.close()


def test_same_seed_same_episode_and_images():
    runs = []
    for _ in range(2):
        env = make_distracting_env("cup_catch", split="heldout", dr_mode="train", image_size=32)
        obs, _ = env.reset(seed=3)
        frames, states = [obs["image"]], [obs["state"]]
        for _ in range(3):
            obs, *_ = env.step(np.array([0.3, -0.2]))
            frames.append(obs["image"])
            states.append(obs["state"])
        runs.append((np.stack(frames), np.stack(states)))
        env.close()
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_train_and_heldout_families_are_disjoint():
    assert not set(PATTERNS["train"]) & set(PATTERNS["heldout"])
    (a0, a1), (b0, b1) = HUE_RANGES["train"], HUE_RANGES["heldout"]
    assert a1 <= b0 or b1 <= a0
    rng = np.random.default_rng(0)
    import colorsys

    for split, (lo, hi) in HUE_RANGES.items():
        hues = [colorsys.rgb_to_hsv(*sample_colour(rng, split))[0] for _ in range(200)]
        assert all(lo - 1e-9 <= h < hi + 1e-9 for h in hues)
        names = {sample_texture(rng, 16, split)[0] for _ in range(30)}
        assert names == set(PATTERNS[split])
    env = make_distracting_env("finger_turn_easy", split="heldout", dr_mode="eval", image_size=32)
    _, info = env.reset(seed=0)
    assert info["dr"]["background"] in PATTERNS["heldout"] and info["dr"]["floor"] in PATTERNS["heldout"]
    env.close()


def test_distractions_change_every_step_in_train_mode_only():
    colours = {}
    for mode in ("train", "eval", "off"):
        env = make_distracting_env("walker_walk", split="train", dr_mode=mode, image_size=32)
        env.reset(seed=1)
        seen = [env.unwrapped._physics.model.mat_rgba.copy()]
        cams = []
        for _ in range(3):
            _, _, _, _, info = env.step(np.zeros(6))
            seen.append(env.unwrapped._physics.model.mat_rgba.copy())
            cams.append(info["dr"].get("camera_offset_m"))
        colours[mode] = (seen, cams)
        env.close()
    seen, cams = colours["train"]
    assert all(not np.array_equal(a, b) for a, b in zip(seen, seen[1:], strict=False))
    assert cams[0] != cams[1]
    seen, cams = colours["eval"]
    assert all(np.array_equal(seen[0], s) for s in seen) and cams[0] == cams[1]
    seen, _ = colours["off"]
    assert all(np.array_equal(seen[0], s) for s in seen)


def test_train_and_heldout_images_differ():
    a = make_distracting_env("cheetah_run", split="train", dr_mode="train", image_size=32)
    b = make_distracting_env("cheetah_run", split="heldout", dr_mode="eval", image_size=32)
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    assert not np.array_equal(oa["image"], ob["image"])
    a.close()
    b.close()


def test_renders_without_shadows_reflections_or_multisampling():
    """The block scenes' cheap rendering (docs/baselines.md: a 64 x 64 frame 40 ms -> 4 ms here):
    forcing the shadow and reflection flags on changes no pixel, since nothing casts or reflects."""
    env = make_distracting_env("cartpole_balance", split="train", dr_mode="eval", image_size=32)
    env.reset(seed=3)
    physics, cam = env.unwrapped._physics, env.unwrapped.camera_id
    assert physics.model.vis.quality.offsamples == 0
    plain = physics.render(32, 32, camera_id=cam)
    forced = physics.render(32, 32, camera_id=cam, render_flag_overrides={"shadow": True, "reflection": True})
    assert np.array_equal(plain, forced) and plain.std() > 0
    env.close()


def test_gymnasium_registration():
    import gymnasium as gym

    register_envs()
    env = gym.make(gym_id("cup_catch"), split="heldout", dr_mode="eval", image_size=32)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (32, 32, 3) and gym_id("cup_catch") == "TwistDistractingCupCatch-v0"
    env.close()
