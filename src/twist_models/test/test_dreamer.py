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
