"""twist-render-replay: a teacher snapshot's matching dataset D comes back image for image from its
replay (the simulator is deterministic), is refused when the replay diverges, continues when
killed, and feeds the student as this teacher's data."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml
from twist_models.checkpoint import write_yaml
from twist_models.config import load_preset
from twist_models.distill import distil
from twist_models.replay_render import REPLAY_SOURCE, render_replay
from twist_models.snapshot import read_replay, snapshot, write_replay
from twist_models.train_teacher import collect_episode, episode_seed, train

pytest.importorskip("twist_sim.dataset")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def block_teacher(tmp_path_factory):
    """A debug block-push teacher run (two episodes in D, with images) and its snapshot (none)."""
    tmp = tmp_path_factory.mktemp("replay")
    train("block_push", load_preset("debug", {"teacher": {"env_steps": 300}}), tmp / "run", progress=False)
    snapshot(tmp / "run", tmp / "snap")
    return tmp / "run", tmp / "snap"


def test_block_push_D_comes_back_image_for_image(block_teacher, tmp_path):
    from twist_sim.dataset import EpisodeDataset

    run, snap = block_teacher
    counts = render_replay(snap, tmp_path / "D", progress=False)
    assert counts["episodes"] == 2 and counts["steps"] == 300 and counts["max_state_diff"] == 0.0
    original, rendered = EpisodeDataset(run / "dataset"), EpisodeDataset(tmp_path / "D")
    for i in range(2):
        a, b = original.episode(i), rendered.episode(i)
        for key in ("state", "image", "action", "reward", "is_first"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"episode {i} {key}")
    teacher = yaml.safe_load((snap / "run.yaml").read_text())
    entry = rendered.entries[0]
    assert entry["source"] == REPLAY_SOURCE and entry["teacher_run"] == str(snap.resolve())
    assert entry["teacher_updates"] == teacher["updates"]
    # Run again: complete already, nothing appended.
    assert render_replay(snap, tmp_path / "D", progress=False)["episodes"] == 2
    # A snapshot has no D of its own: the rendered D is accepted as this teacher's data.
    out = distil(snap, load_preset("debug", {"distill": {"steps": 1}}), tmp_path / "student", progress=False,
                 data=[tmp_path / "D"])  # fmt: skip
    assert out["updates"] == 1


def test_a_killed_render_continues_and_a_diverging_replay_is_refused(block_teacher, tmp_path):
    from twist_sim.dataset import EpisodeDataset

    _, snap = block_teacher
    one = tmp_path / "one"  # a snapshot whose replay holds only the first episode: a "killed" render
    shutil.copytree(snap, one)
    episodes = read_replay(snap / "replay.npz")
    write_replay(one / "replay.npz", episodes[:1])
    render_replay(one, tmp_path / "D", progress=False)
    shutil.copy(snap / "replay.npz", one / "replay.npz")
    assert render_replay(one, tmp_path / "D", progress=False)["episodes"] == 2
    np.testing.assert_array_equal(
        EpisodeDataset(tmp_path / "D").episode(1)["state"], episodes[1]["state"].astype(np.float32)
    )
    # Another teacher's (or checkpoint's) episodes are not mixed into it.
    run = yaml.safe_load((one / "run.yaml").read_text())
    write_yaml(one / "run.yaml", {**run, "updates": run["updates"] + 1})
    with pytest.raises(ValueError, match="another teacher or seed"):
        render_replay(one, tmp_path / "D", progress=False)
    # An action that is not the one recorded: the states part from the recording.
    bad = tmp_path / "bad"
    shutil.copytree(snap, bad)
    tampered = [dict(e) for e in episodes]
    tampered[0]["action"] = tampered[0]["action"].copy()
    tampered[0]["action"][5] = -tampered[0]["action"][5] + 0.5
    write_replay(bad / "replay.npz", tampered)
    with pytest.raises(ValueError, match="episode 0 diverged"):
        render_replay(bad, tmp_path / "D_bad", progress=False)
    assert not (tmp_path / "D_bad" / "manifest.json").exists()  # nothing written for it


def test_a_diverging_episode_is_truncated_where_it_leaves_the_recording(block_teacher, tmp_path):
    """--diverged truncate (another CPU's rounding): the episode is kept up to its last matching
    step, cut short there, every image its own state's; the others whole; the summary names it."""
    from twist_sim.dataset import EpisodeDataset

    run, snap = block_teacher
    episodes = read_replay(snap / "replay.npz")
    bad = tmp_path / "bad"
    shutil.copytree(snap, bad)
    tampered = [dict(e) for e in episodes]
    tampered[0]["action"] = tampered[0]["action"].copy()
    tampered[0]["action"][5] = -tampered[0]["action"][5] + 0.5  # state 5 is where it leaves
    write_replay(bad / "replay.npz", tampered)
    counts = render_replay(bad, tmp_path / "D", progress=False, diverged="truncate")
    assert counts["truncated"] == [{"episode": 0, "seed": episode_seed(0, 0), "step": 5, "of": 151}]
    assert counts["episodes"] == 2 and counts["steps"] == 4 + 150 and counts["max_state_diff"] == 0.0
    original, rendered = EpisodeDataset(run / "dataset"), EpisodeDataset(tmp_path / "D")
    cut, whole = rendered.episode(0), rendered.episode(1)
    for key in ("state", "image", "reward", "is_first"):
        np.testing.assert_array_equal(cut[key], original.episode(0)[key][:5], err_msg=key)
        np.testing.assert_array_equal(whole[key], original.episode(1)[key], err_msg=key)
    assert cut["is_last"].tolist() == [False] * 4 + [True] and not cut["is_terminal"].any()
    # A replay that leaves the recording at its first step is another simulator: refused even so.
    tampered[1]["action"] = tampered[1]["action"].copy()
    tampered[1]["action"][1] = -tampered[1]["action"][1] + 0.5
    write_replay(bad / "replay.npz", tampered)
    with pytest.raises(ValueError, match="episode 1 diverged"):
        render_replay(bad, tmp_path / "D2", progress=False, diverged="truncate")
    with pytest.raises(ValueError, match="diverged must be one of"):
        render_replay(bad, tmp_path / "D3", progress=False, diverged="skip")


def test_distracting_control_episode_comes_back_image_for_image(tmp_path):
    """cartpole_balance: an episode collected as a teacher run collects episode 0 (random prefill),
    recorded as a snapshot's replay, renders back to the same states, rewards and images."""
    from twist_sim.dataset import EpisodeDataset
    from twist_sim.experts import RandomPolicy
    from twist_sim.preprocess import PreprocessSpec

    from twist_sim import make_env

    env = make_env("cartpole_balance", split="train", dr_mode="train", image_size=64, render_image=True)
    policy = RandomPolicy(env.unwrapped.task, np.random.default_rng(3))
    episode = collect_episode(env, None, episode_seed(0, 0), policy, lambda: None, PreprocessSpec(size=64))
    env.close()
    run = tmp_path / "teacher"
    run.mkdir()
    write_yaml(run / "run.yaml", {"task": "cartpole_balance", "backend": "mujoco", "updates": 0,
                                  "preset": {"seed": 0, "model": {"image_size": 64}}})  # fmt: skip
    write_replay(
        run / "replay.npz",
        [{k: episode[k] for k in ("state", "action", "reward", "is_first", "is_terminal")}],
    )
    counts = render_replay(run, tmp_path / "D", progress=False)
    assert counts == {"episodes": 1, "steps": 500, "max_state_diff": 0.0, "truncated": []}
    rendered = EpisodeDataset(tmp_path / "D").episode(0)
    for key in ("state", "image", "action", "reward"):
        np.testing.assert_array_equal(rendered[key], episode[key], err_msg=key)
    assert rendered["image"][1:].std(axis=0).mean() > 1.0  # the distractions change from step to step
