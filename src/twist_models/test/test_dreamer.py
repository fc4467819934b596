"""RSSM and Dreamer: shapes, KL balancing, learning on a fixed batch, composition, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from twist_models.config import DistillConfig, ModelConfig, Preset, TeacherConfig, load_preset
from twist_models.dreamer import Dreamer, to_torch
from twist_models.rssm import kl_balance

torch.set_num_threads(1)
S, A, B, T = 14, 3, 4, 10


def batch(seed=0):
    rng = np.random.default_rng(seed)
    # A learnable toy: the state drifts by the action, the reward is minus the state's norm.
    state = np.cumsum(rng.uniform(-1, 1, (B, T, S)).astype(np.float32) * 0.1, axis=1)
    action = rng.uniform(-1, 1, (B, T, A)).astype(np.float32)
    return to_torch({"state": state, "image": rng.integers(0, 256, (B, T, 64, 64, 3), dtype=np.uint8),
                     "action": action, "reward": -np.linalg.norm(state, axis=-1).astype(np.float32),
                     "is_first": np.zeros((B, T), bool), "is_terminal": np.zeros((B, T), bool)},
                    torch.device("cpu"))  # fmt: skip


def test_world_model_loss_decreases_and_actor_critic_trains():
    p = load_preset("debug")
    agent = Dreamer("state", "state", S, A, p.model, p.teacher, seed=0)
    b = batch()
    actor_before = [x.clone() for x in agent.ac.actor.parameters()]
    first = agent.update(b)
    for _ in range(40):
        last = agent.update(b)
    assert last["wm/loss"] < 0.7 * first["wm/loss"]
    assert all(np.isfinite(v) for v in last.values())
    assert any(not torch.equal(a, c) for a, c in zip(actor_before, agent.ac.actor.parameters(), strict=True))
    assert int(agent.ac.updates) == 41


@pytest.mark.parametrize(("obs", "target"), [("state", "state"), ("image", "image"), ("image", "state")])
def test_compositions_update_and_act(obs, target):
    p = load_preset("debug")
    agent = Dreamer(obs, target, S, A, p.model, p.teacher, seed=0)
    metrics = agent.update(batch())
    assert np.isfinite(metrics["wm/recon"])
    b = batch()
    x = b[obs][:, 0]
    action, carry = agent.act(x, None, explore=True)
    assert action.shape == (B, A) and action.abs().max() <= 1.0
    action2, _ = agent.act(x, carry, explore=False)
    assert torch.equal(action2, agent.act(x, carry, explore=False)[0])  # mode is deterministic


def test_unknown_kind_is_refused():
    p = load_preset("debug")
    with pytest.raises(ValueError, match="obs must be one of"):
        Dreamer("pixels", "state", S, A, p.model, p.teacher)


def test_kl_balance_free_bits_and_gradient_split():
    post = torch.randn(2, 3, 4, 5, requires_grad=True)
    prior = torch.randn(2, 3, 4, 5, requires_grad=True)
    loss, kl = kl_balance(post.log_softmax(-1), prior.log_softmax(-1), free=0.0, dyn=0.5, rep=0.1)
    assert (kl >= 0).all() and loss.shape == (2, 3)
    loss.sum().backward()
    assert post.grad.abs().sum() > 0 and prior.grad.abs().sum() > 0
    # below the free bits nothing is trained
    loss, _ = kl_balance(post.log_softmax(-1), post.log_softmax(-1), free=1.0, dyn=0.5, rep=0.1)
    assert torch.allclose(loss, torch.full((2, 3), 0.6))


def test_same_seed_same_updates():
    p = load_preset("debug")
    torch.manual_seed(0)
    a = Dreamer("state", "state", S, A, p.model, p.teacher, seed=5)
    torch.manual_seed(0)
    c = Dreamer("state", "state", S, A, p.model, p.teacher, seed=5)
    assert [a.update(batch(i)) for i in range(2)] == [c.update(batch(i)) for i in range(2)]


def test_configs_validate_and_presets_load():
    with pytest.raises(ValueError, match="ModelConfig.deter"):
        ModelConfig(deter=0)
    with pytest.raises(ValueError, match="TeacherConfig.gamma"):
        TeacherConfig(gamma=1.5)
    with pytest.raises(ValueError, match="DistillConfig.action_noise"):
        DistillConfig(action_noise=-0.1)
    with pytest.raises(ValueError, match="unknown TeacherConfig field"):
        Preset.from_dict({"teacher": {"lr": 1}})
    paper = load_preset("paper")
    assert (paper.model.hidden, paper.model.layers, paper.model.stoch, paper.model.classes) == (
        512,
        3,
        32,
        32,
    )
    assert (paper.distill.seq_len, paper.distill.horizon, paper.teacher.env_steps) == (50, 15, 500_000)
    for name in ("debug", "cpu"):
        assert load_preset(name).name == name


def test_training_state_of_another_device_type_loads_with_a_deterministic_reseed():
    """A CUDA generator's state (16 bytes of Philox) does not fit a CPU generator (5056 bytes):
    a checkpoint carried from a GPU keeps weights and optimisers and reseeds from the saved state."""
    p = load_preset("debug")
    trained = Dreamer("state", "state", S, A, p.model, p.teacher, seed=0)
    trained.update(batch())
    state = trained.training_state()
    same = Dreamer("state", "state", S, A, p.model, p.teacher, seed=1)
    same.load_training_state(state)  # same device type: the exact stream
    assert torch.equal(torch.rand(4, generator=same.generator), torch.rand(4, generator=trained.generator))
    foreign = {**state, "generator": torch.arange(16, dtype=torch.uint8)}
    a = Dreamer("state", "state", S, A, p.model, p.teacher, seed=1)
    b = Dreamer("state", "state", S, A, p.model, p.teacher, seed=2)
    a.load_training_state(foreign)
    b.load_training_state(foreign)
    for key, value in trained.state_dict().items():
        assert torch.equal(a.state_dict()[key], value), key
    assert a.wm_opt.state_dict()["state"][0]["step"] == trained.wm_opt.state_dict()["state"][0]["step"]
    assert torch.equal(torch.rand(4, generator=a.generator), torch.rand(4, generator=b.generator))
    other = {**state, "generator": torch.arange(1, 17, dtype=torch.uint8)}
    b.load_training_state(other)
    a.load_training_state(foreign)
    assert not torch.equal(torch.rand(4, generator=a.generator), torch.rand(4, generator=b.generator))
    # A state that fits neither device type (a torn checkpoint) is still an error, not a reseed.
    with pytest.raises(RuntimeError):
        a.load_training_state({**state, "generator": torch.arange(7, dtype=torch.uint8)})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI has none)")
def test_training_state_saved_on_cuda_resumes_on_cuda_with_the_same_stream(tmp_path):
    """torch.load(map_location="cuda") puts the saved RNG state on the GPU, and
    Generator.set_state takes a CPU ByteTensor: every resume on CUDA failed until
    restore_generator passed the CPU copy (found by benchmarks/gpu_check.sh)."""
    p = load_preset("debug")
    trained = Dreamer("state", "state", S, A, p.model, p.teacher, seed=0, device="cuda")
    trained.update({k: v.cuda() for k, v in batch().items()})
    torch.save(trained.training_state(), tmp_path / "checkpoint.pt")
    resumed = Dreamer("state", "state", S, A, p.model, p.teacher, seed=1, device="cuda")
    resumed.load_training_state(
        torch.load(tmp_path / "checkpoint.pt", map_location="cuda", weights_only=True)
    )
    for key, value in trained.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    draw = {"size": (4,), "device": "cuda"}
    assert torch.equal(
        torch.rand(**draw, generator=resumed.generator), torch.rand(**draw, generator=trained.generator)
    )


def test_replay_returns_follow_the_recursion_and_cut_at_episode_starts():
    import dataclasses

    p = load_preset("debug")
    cfg = dataclasses.replace(p.teacher, gamma=0.9, lam=0.8)
    agent = Dreamer("state", "state", S, A, p.model, cfg, seed=0)
    rng = np.random.default_rng(3)
    feat = torch.as_tensor(rng.normal(size=(2, 6, agent.wm.rssm.feat_dim)), dtype=torch.float32)
    reward = torch.as_tensor(rng.normal(size=(2, 6)), dtype=torch.float32)
    is_first = torch.zeros(2, 6, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[1, 3] = True  # sequence 1: a new episode starts at observation 3
    is_terminal = torch.zeros(2, 6, dtype=torch.bool)
    is_terminal[0, 4] = True  # sequence 0: observation 4 is terminal
    returns, mask = agent.ac.replay_returns(feat, reward, is_first, is_terminal, cfg)
    from twist_models.networks import symexp

    v = symexp(agent.ac.slow_critic(feat).squeeze(-1)).detach().numpy()
    r, first, term = reward.numpy(), is_first.numpy(), is_terminal.numpy()
    for b in range(2):
        last = v[b, 5]
        want = np.zeros(5)
        for t in reversed(range(5)):
            if first[b, t + 1]:
                last = v[b, t]
            else:
                c = 0.0 if term[b, t + 1] else 1.0
                last = r[b, t + 1] + 0.9 * c * (0.2 * v[b, t + 1] + 0.8 * last)
            want[t] = last
        np.testing.assert_allclose(returns[b].numpy(), want, rtol=1e-5, atol=1e-5)
    assert mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 1, 1]]


def test_replay_critic_loss_pulls_values_to_the_real_returns():
    """A critic that overvalues every state (as an imagination-only critic can, docs/models.md)
    is pulled to the value of the replayed rewards: -1 per step at gamma 0.5 is worth -2."""
    import dataclasses

    p = load_preset("debug")
    cfg = dataclasses.replace(p.teacher, gamma=0.5, lam=0.95, slow_critic_mix=0.1)
    agent = Dreamer("state", "state", S, A, p.model, cfg, seed=0)
    rng = np.random.default_rng(0)
    feat = torch.as_tensor(rng.normal(size=(8, 12, agent.wm.rssm.feat_dim)), dtype=torch.float32)
    real = {"reward": -torch.ones(8, 12), "is_first": torch.zeros(8, 12, dtype=torch.bool),
            "is_terminal": torch.zeros(8, 12, dtype=torch.bool)}  # fmt: skip
    real["is_first"][:, 0] = True
    opt = torch.optim.Adam(agent.ac.critic.parameters(), lr=3e-3)
    with torch.no_grad():  # start far too high: symexp(3) = 19
        agent.ac.critic.net[-1].bias.fill_(3.0)
        agent.ac.slow_critic.load_state_dict(agent.ac.critic.state_dict())
    from twist_models.networks import symexp

    before = float(symexp(agent.ac.critic(feat)).mean())
    for _ in range(300):
        loss = agent.ac.replay_critic_loss(feat, real, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        agent.ac.update_slow_critic(cfg)
    after = float(symexp(agent.ac.critic(feat)).mean())
    assert abs(after + 2.0) < 0.3 < abs(before + 2.0), (before, after)


def test_update_with_replay_critic_loss_reports_it():
    import dataclasses

    p = load_preset("debug")
    plain = Dreamer("state", "state", S, A, p.model, dataclasses.replace(p.teacher, repval=0.0), seed=0)
    grounded = Dreamer("state", "state", S, A, p.model, dataclasses.replace(p.teacher, repval=0.3), seed=0)
    m0, m1 = plain.update(batch()), grounded.update(batch())
    assert "ac/repval_loss" not in m0 and np.isfinite(m1["ac/repval_loss"])
    # The world model and the actor step before the critic: identical up to there.
    assert m0["wm/loss"] == m1["wm/loss"] and m0["ac/actor_loss"] == m1["ac/actor_loss"]
    with pytest.raises(ValueError, match="repval"):
        TeacherConfig(repval=-1.0)


def test_value_bound_is_the_discounted_range_of_the_rewards_seen():
    import dataclasses

    p = load_preset("debug")
    cfg = dataclasses.replace(p.teacher, gamma=0.99, value_bound=True)
    agent = Dreamer("state", "state", S, A, p.model, cfg, seed=0)
    assert agent.ac.value_range(cfg) is None  # nothing seen yet: no bound
    agent.ac.observe_rewards(np.array([0.5, 3.0, -0.7], np.float32))
    agent.ac.observe_rewards(np.zeros(0, np.float32))  # an empty episode changes nothing
    lo, hi = agent.ac.value_range(cfg)
    assert lo == pytest.approx(-70.0, rel=1e-5) and hi == pytest.approx(300.0, rel=1e-5)
    # Rewards all positive: an episode can still end at once and pay nothing (lo = 0).
    agent.ac.reward_seen.copy_(torch.tensor([0.5, 2.0]))
    assert agent.ac.value_range(cfg) == pytest.approx((0.0, 200.0))
    assert agent.ac.value_range(dataclasses.replace(cfg, value_bound=False)) is None
    # Not in the checkpoint: runs from before it resume, the trainer refills it from replay.
    assert not any("reward_seen" in k for k in agent.state_dict())


@pytest.mark.parametrize("value_bound", [False, True])
def test_value_bound_keeps_a_runaway_critic_within_what_episodes_can_pay(value_bound):
    """A slow critic far above any return (symexp(12) = 162,755 where -1..1 per step at gamma 0.9
    pays at most 10): with value_bound its bootstraps and the critic's targets, imagined and
    replayed, stay within [-10, 10]; without it they follow the critic."""
    import dataclasses

    p = load_preset("debug")
    cfg = dataclasses.replace(p.teacher, gamma=0.9, value_bound=value_bound)
    agent = Dreamer("state", "state", S, A, p.model, cfg, seed=0)
    with torch.no_grad():
        agent.ac.slow_critic.net[-1].bias.fill_(12.0)
    b = batch()
    b["reward"] = torch.linspace(-1.0, 1.0, B * T).reshape(B, T)
    agent.ac.observe_rewards(b["reward"])
    feat = torch.as_tensor(np.random.default_rng(1).normal(size=(B, T, agent.wm.rssm.feat_dim)),
                           dtype=torch.float32)  # fmt: skip
    returns, _ = agent.ac.replay_returns(feat, b["reward"], b["is_first"], b["is_terminal"], cfg)
    metrics = agent.update(b)
    if value_bound:
        assert returns.abs().max() <= 10.0 + 1e-4
        assert metrics["ac/value_bound_hi"] == pytest.approx(10.0)
        assert abs(metrics["ac/return"]) <= 10.0 + 1e-4
    else:
        assert returns.max() > 1e4 and metrics["ac/return"] > 1e4
        assert "ac/value_bound_hi" not in metrics
