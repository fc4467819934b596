"""The tanh-squashed Normal actor: bounded actions, exact score, saturation-aware entropy."""

from __future__ import annotations

import torch
from twist_models.networks import Actor, seeded_init

torch.set_num_threads(1)


def _actor(seed: int = 0) -> Actor:
    with seeded_init(seed):
        return Actor(8, 3, 16, 2)


def test_mode_sample_and_log_prob():
    actor = _actor()
    feat = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    loc, std = actor(feat)
    torch.testing.assert_close(actor.mode(feat), torch.tanh(loc))
    assert ((std >= actor.min_std) & (std <= 1.0)).all()
    action, raw, _ = actor.sample(feat, torch.Generator().manual_seed(1))
    torch.testing.assert_close(action, torch.tanh(raw))
    assert (action.abs() < 1).all()
    logp, _ = actor.log_prob(feat, raw)
    torch.testing.assert_close(logp, torch.distributions.Normal(loc, std).log_prob(raw).sum(-1))


def test_entropy_jacobian_matches_autograd_and_penalises_saturation():
    raw = torch.linspace(-6, 6, 25)
    u = raw.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.tanh(u).sum(), u)
    torch.testing.assert_close(Actor._log_jacobian(raw), torch.log(grad), atol=1e-4, rtol=1e-4)
    std = torch.full((1, 1), 0.5)
    centred = Actor.entropy(std, torch.zeros(1, 1))
    saturated = Actor.entropy(std, torch.full((1, 1), 4.0))
    assert saturated < centred - 5.0
    # Maximising the entropy pulls a saturated location back towards zero.
    loc = torch.full((1, 1), 4.0, requires_grad=True)
    (g,) = torch.autograd.grad(Actor.entropy(std, loc + std * 0.1).sum(), loc)
    assert g.item() < -1.0


def test_entropy_bonus_alone_unsaturates_the_actor():
    actor = _actor()
    with torch.no_grad():
        actor.mlp.net[-1].bias[:3] = 5.0  # pre-tanh means far in saturation
    feat = torch.randn(64, 8, generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(actor.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(3)
    before = actor.mode(feat).abs().mean()
    for _ in range(100):
        _, raw, _ = actor.sample(feat, gen)
        _, entropy = actor.log_prob(feat, raw.detach())
        opt.zero_grad()
        (-entropy.mean()).backward()
        opt.step()
    assert before > 0.99 and actor.mode(feat).abs().mean() < 0.5
