"""Baselines: each learns on a fixed batch, runs on the debug preset, and resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from twist_models.baselines.agents import METHODS, ImagePolicy, build_agent, get_method
from twist_models.baselines.asym_sac import AsymmetricSAC, AsymSACConfig, random_shift
from twist_models.baselines.replay import EpisodeReplay
from twist_models.baselines.train import load_sac_config, main, train
from twist_models.config import load_preset
from twist_models.dreamer import Dreamer, to_torch

torch.set_num_threads(1)
STATE_DIM, ACTION_DIM = 6, 3


def _replay(seed: int = 0) -> EpisodeReplay:
    rng = np.random.default_rng(seed)
    replay = EpisodeReplay(np.random.default_rng(seed + 1))
    for _ in range(2):
        t = 16
        replay.add({
            "state": rng.normal(size=(t + 1, STATE_DIM)).astype(np.float32),
            "image": rng.integers(0, 256, (t + 1, 64, 64, 3), dtype=np.uint8),
            "action": rng.uniform(-1, 1, (t + 1, ACTION_DIM)).astype(np.float32),
            "reward": rng.uniform(size=t + 1).astype(np.float32),
            "is_first": np.r_[True, np.zeros(t, bool)],
            "is_terminal": np.zeros(t + 1, bool),
        })  # fmt: skip
    return replay


@pytest.mark.parametrize("name", sorted(METHODS))
def test_loss_decreases_on_a_fixed_batch(name):
    preset, sac = load_preset("debug"), load_sac_config("debug")
    method = get_method(name)
    agent = build_agent(method, STATE_DIM, ACTION_DIM, preset, sac, torch.device("cpu"))
    replay = _replay()
    if method.kind == "dreamer":
        batch, key = to_torch(replay.sample_sequences(2, 8), torch.device("cpu")), "wm/loss"
    else:
        batch, key = (
            {k: torch.as_tensor(v) for k, v in replay.sample_transitions(8).items()},
            "sac/critic_loss",
        )
    losses = [agent.update(batch)[key] for _ in range(25)]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def test_methods_compose_the_project_dreamer():
    preset, sac = load_preset("debug"), AsymSACConfig()
    dr = build_agent(get_method("dreamer_dr"), STATE_DIM, ACTION_DIM, preset, sac, torch.device("cpu"))
    recon = build_agent(get_method("state_recon"), STATE_DIM, ACTION_DIM, preset, sac, torch.device("cpu"))
    assert isinstance(dr, Dreamer) and (dr.wm.obs, dr.wm.target) == ("image", "image")
    assert isinstance(recon, Dreamer) and (recon.wm.obs, recon.wm.target) == ("image", "state")
    assert get_method("dreamer_nodr").dr_mode == "off" and get_method("dreamer_dr").dr_mode == "train"
    with pytest.raises(ValueError, match="method"):
        get_method("dreamer_xx")


def test_random_shift_is_a_crop_of_the_padded_image():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(5, 3, 16, 16, generator=gen)
    assert torch.equal(random_shift(images, 0, gen), images)
    shifted = random_shift(images, 2, gen)
    assert shifted.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    for i in range(5):
        crops = [padded[i, :, r : r + 16, c : c + 16] for r in range(5) for c in range(5)]
        assert any(torch.equal(shifted[i], crop) for crop in crops)


def test_asym_sac_critic_sees_state_and_actor_sees_images():
    cfg = load_sac_config("debug")
    agent = AsymmetricSAC(STATE_DIM, ACTION_DIM, 64, cfg, seed=0)
    batch = {k: torch.as_tensor(v) for k, v in _replay().sample_transitions(4).items()}
    agent.critic_loss(batch).backward()
    assert all(p.grad is None for p in agent.actor.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.critic.parameters())
    # A different privileged state changes Q; the actor's action depends on the image only.
    q1, _ = agent.critic(batch["state"], batch["action"])
    q1b, _ = agent.critic(batch["state"] + 1.0, batch["action"])
    assert not torch.allclose(q1, q1b)
    action = agent.act(batch["image"], explore=False)
    assert action.shape == (4, ACTION_DIM) and action.abs().max() <= 1.0


def test_asym_sac_config_names_the_bad_field():
    with pytest.raises(ValueError, match="batch_size"):
        AsymSACConfig(batch_size=0)
    with pytest.raises(ValueError, match="tau"):
        AsymSACConfig(tau=1.5)


def test_image_policy_is_deterministic_in_evaluation():
    agent = build_agent(get_method("dreamer_dr"), STATE_DIM, ACTION_DIM, load_preset("debug"), AsymSACConfig(),
                        torch.device("cpu"))  # fmt: skip
    obs = {"image": np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)}
    policy = ImagePolicy(agent, explore=False)
    a = policy.act(obs)
    policy.reset()
    assert np.array_equal(a, policy.act(obs)) and a.dtype == np.float32


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_baseline_trains_on_debug_and_resumes(name, tmp_path):
    preset = load_preset("debug", {"device": "cpu", "teacher": {"env_steps": 150}})
    sac = load_sac_config("debug", {"env_steps": 150})
    out = tmp_path / name
    first = train(name, "block_push", preset, sac, out, progress=False)
    assert first == {"env_steps": 150, "updates": 0, "episodes": 1}
    preset = load_preset("debug", {"device": "cpu", "teacher": {"env_steps": 300}})
    sac = load_sac_config("debug", {"env_steps": 300})
    second = train(name, "block_push", preset, sac, out, progress=False)
    # Resumed from the checkpoint: counters continue, no episode collected twice.
    assert second == {"env_steps": 300, "updates": 6, "episodes": 2}
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert meta["method"] == name and meta["env_steps"] == 300 and meta["compute"]["wall_s"] > 0
    evals = [json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines()]
    assert [e["env_steps"] for e in evals] == [150, 300]
    assert evals[1]["wall_s"] >= evals[0]["wall_s"]
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tb").iterdir())


def test_time_budget_stops_at_a_checkpoint_and_the_run_continues(tmp_path):
    preset = load_preset("debug", {"device": "cpu", "teacher": {"env_steps": 300}})
    out = tmp_path / "dreamer_dr"
    # A budget of 0 minutes stops the 300-step run at its first checkpoint, one episode in.
    stopped = train("dreamer_dr", "block_push", preset, AsymSACConfig(), out, progress=False, max_minutes=0)
    assert stopped == {"env_steps": 150, "updates": 0, "episodes": 1}
    assert yaml.safe_load((out / "run.yaml").read_text())["env_steps"] == 150
    # It continues only under its own seed (its episodes and replay sampling derive from it).
    other_seed = load_preset("debug", {"device": "cpu", "seed": 5, "teacher": {"env_steps": 300}})
    with pytest.raises(ValueError, match="run of seed 0; it resumes only with that seed"):
        train("dreamer_dr", "block_push", other_seed, AsymSACConfig(), out, progress=False)
    # The same command without a budget carries it on to the end, as an uninterrupted run does.
    assert train("dreamer_dr", "block_push", preset, AsymSACConfig(), out, progress=False) == {
        "env_steps": 300,
        "updates": 6,
        "episodes": 2,
    }


def test_cli_rejects_a_negative_time_budget(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--method", "dreamer_dr", "--out", str(tmp_path / "x"), "--max-minutes", "-1"])
    assert "--max-minutes must be >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["dreamer_dr", "asym_sac"])
def test_a_baseline_resume_keeps_the_runs_env_steps_and_expert_episodes(method, tmp_path, monkeypatch):
    """A resume without --env-steps goes on to the run's own target (a run given --env-steps
    49500 at its start does not stop at the preset's), with its own expert episodes; the
    command line's win."""
    import twist_models.baselines.train as baseline_train
    from twist_models.checkpoint import write_yaml

    seen: list = []
    monkeypatch.setattr(
        baseline_train,
        "train",
        lambda m, task, preset, sac, *a, **k: seen.append((preset.teacher, sac)) or {},
    )
    out = tmp_path / "run"
    base = ["--method", method, "--preset", "debug", "--out", str(out)]
    baseline_train.main(base)  # a new run: the preset's
    preset_teacher, preset_sac = seen[-1]
    out.mkdir()
    write_yaml(
        out / "run.yaml",
        {"preset": {"teacher": {"env_steps": 4321, "expert_episodes": 7}}, "asym_sac": {"env_steps": 1234}},
    )
    baseline_train.main(base)
    teacher, sac = seen[-1]
    want = 1234 if method == "asym_sac" else 4321
    assert (
        want not in (preset_teacher.env_steps, preset_sac.env_steps) and preset_teacher.expert_episodes != 7
    )
    assert teacher.expert_episodes == 7
    assert (sac.env_steps if method == "asym_sac" else teacher.env_steps) == want
    baseline_train.main([*base, "--env-steps", "99", "--expert-episodes", "2"])
    teacher, sac = seen[-1]
    assert teacher.expert_episodes == 2
    assert (sac.env_steps if method == "asym_sac" else teacher.env_steps) == 99


def test_twist_eval_measures_a_baseline_run_on_the_chosen_episodes(tmp_path, capsys):
    from twist_models.baselines.train import evaluate_agent, load_baseline
    from twist_models.evaluate import main as eval_main

    preset = load_preset("debug", {"device": "cpu", "teacher": {"env_steps": 150}})
    out = tmp_path / "dreamer_dr"
    train("dreamer_dr", "block_push", preset, AsymSACConfig(), out, progress=False)
    result_path = tmp_path / "eval.json"
    eval_main(["--baseline", str(out), "--episodes", "2", "--seed", "2000000", "--json", str(result_path)])
    result = json.loads(result_path.read_text())
    assert result["method"] == "dreamer_dr" and result["task"] == "block_push" and result["env_steps"] == 150
    assert result["split"] == "heldout" and result["seed"] == 2_000_000 and len(result["returns"]) == 2
    # The same episodes and the same deterministic policy as evaluating the loaded agent directly.
    agent, meta = load_baseline(out)
    direct = evaluate_agent(agent, "block_push", 2, meta["image_size"], "heldout", seed=2_000_000)
    assert result["returns"] == pytest.approx(direct["returns"])
    # --compare-teacher belongs to students only.
    with pytest.raises(SystemExit):
        eval_main(["--baseline", str(out), "--compare-teacher", str(out)])
    assert "--compare-teacher needs --bundle" in capsys.readouterr().err


def test_sigterm_ends_the_episode_in_hand_checkpoints_and_the_run_continues(tmp_path, monkeypatch):
    """`kill PID` on a baseline run: it finishes the episode it is in, checkpoints at its end (long
    before the next regular checkpoint) and returns; the same command continues to the counters of
    a run that never stopped, and the signal handlers from before are back."""
    import os
    import signal

    from twist_models.baselines import train as train_module

    real_collect = train_module.collect_episode
    calls = {"n": 0}

    def collect(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # mid-run: the second episode
            os.kill(os.getpid(), signal.SIGTERM)
        return real_collect(*args, **kwargs)

    preset = load_preset(
        "debug", {"device": "cpu", "teacher": {"env_steps": 450, "checkpoint_every": 10_000}}
    )
    straight = train(
        "dreamer_dr", "block_push", preset, AsymSACConfig(), tmp_path / "straight", progress=False
    )
    monkeypatch.setattr(train_module, "collect_episode", collect)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "killed"
    stopped = train("dreamer_dr", "block_push", preset, AsymSACConfig(), out, progress=False)
    assert stopped["env_steps"] == 300 and stopped["episodes"] == 2
    assert torch.load(out / "checkpoint.pt", weights_only=False)["env_steps"] == 300
    assert yaml.safe_load((out / "run.yaml").read_text())["env_steps"] == 300
    assert signal.getsignal(signal.SIGTERM) is before
    monkeypatch.setattr(train_module, "collect_episode", real_collect)
    assert train("dreamer_dr", "block_push", preset, AsymSACConfig(), out, progress=False) == straight
    assert straight == {"env_steps": 450, "updates": 12, "episodes": 3}
