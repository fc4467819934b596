"""Dreamer: an RSSM world model plus an actor-critic trained on imagined rollouts.

One class for every Dreamer of the project, composed by what the encoder sees and what the
decoder reconstructs:

    teacher (paper)          Dreamer(obs="state", target="state", ...)
    Dreamer w/ DR, w/o DR    Dreamer(obs="image", target="image", ...)
    Dreamer State Recon      Dreamer(obs="image", target="state", ...)

Batches are dicts of tensors shaped (batch, time, ...) with the dataset's keys (state,
image uint8, action, reward, is_first, is_terminal). The actor learns by backpropagating
lambda-returns through the learned dynamics (DreamerV2's choice for continuous control),
divided by the DreamerV3 percentile return scale, plus an entropy bonus; the critic regresses
symlog lambda-returns bootstrapped from a slow (EMA) critic.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .config import ModelConfig, TeacherConfig
from .networks import (
    MLP,
    Actor,
    ConvDecoder,
    ConvEncoder,
    StateDecoder,
    StateEncoder,
    bernoulli_nll,
    restore_generator,
    seeded_init,  # fmt: skip
    symexp,
    symlog,
)
from .rssm import RSSM, State, kl_balance, select_starts

KINDS = ("state", "image")


class WorldModel(nn.Module):
    """Encoder (obs) -> RSSM -> decoder (target), reward and continue heads."""

    def __init__(self, obs: str, target: str, state_dim: int, action_dim: int, model: ModelConfig):
        super().__init__()
        for name, kind in (("obs", obs), ("target", target)):
            if kind not in KINDS:
                raise ValueError(f"WorldModel {name} must be one of {KINDS}, got {kind!r}")
        self.obs, self.target = obs, target
        if obs == "state":
            self.encoder = StateEncoder(
                state_dim, model.hidden, model.layers, model.state_offset, model.state_scale
            )
        else:
            self.encoder = ConvEncoder(model.cnn_depth, model.image_size)
        self.rssm = RSSM(model.deter, model.stoch, model.classes, model.hidden, action_dim,
                         self.encoder.out_dim, model.unimix)  # fmt: skip
        feat = self.rssm.feat_dim
        if target == "state":
            self.decoder = StateDecoder(
                feat, state_dim, model.hidden, model.layers, model.state_offset, model.state_scale
            )
        else:
            self.decoder = ConvDecoder(feat, model.cnn_depth)
        self.reward = MLP(feat, 1, model.hidden, 2)
        self.cont = MLP(feat, 1, model.hidden, 2)

    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, E) embedding of what this model observes."""
        return self.encoder(batch[self.obs])

    def loss(self, batch: dict[str, torch.Tensor], cfg: TeacherConfig, generator: torch.Generator):
        """Returns (scalar loss, posterior states (B, T, ...), metrics)."""
        post, prior = self.rssm.observe(
            self.embed(batch), batch["action"], batch["is_first"], generator=generator
        )
        feat = self.rssm.feature(post)
        recon = self.decoder.loss(feat, batch[self.target])
        reward = (self.reward(feat).squeeze(-1) - symlog(batch["reward"])).pow(2)
        cont = bernoulli_nll(self.cont(feat).squeeze(-1), 1.0 - batch["is_terminal"].float())
        kl_loss, kl = kl_balance(post["logits"], prior["logits"], cfg.kl_free, cfg.kl_dyn, cfg.kl_rep)
        loss = (cfg.recon_weight * recon + cfg.reward_weight * reward + cont + kl_loss).mean()
        metrics = {"wm/loss": loss, "wm/recon": recon.mean(), "wm/reward": reward.mean(), "wm/kl": kl.mean()}
        return loss, post, metrics


class ActorCritic(nn.Module):
    """Actor and critic on latent features; the slow critic and return scale are buffers/modules
    here so that one state_dict captures everything a resumed run needs."""

    def __init__(self, feat_dim: int, action_dim: int, model: ModelConfig):
        super().__init__()
        self.actor = Actor(feat_dim, action_dim, model.hidden, model.layers)
        self.critic = MLP(feat_dim, 1, model.hidden, model.layers)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.register_buffer("return_range", torch.zeros(2))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        # Lowest and highest real reward seen (TeacherConfig.value_bound). Not in the state_dict:
        # the trainers refill it from their replay (observe_rewards) when a run resumes, so
        # checkpoints from before it load unchanged.
        self.register_buffer("reward_seen", torch.tensor([float("inf"), float("-inf")]), persistent=False)

    def observe_rewards(self, reward: torch.Tensor | np.ndarray) -> None:
        """Widen the range of real rewards seen to include `reward` (any shape)."""
        reward = torch.as_tensor(reward, dtype=torch.float32, device=self.reward_seen.device)
        if reward.numel():
            self.reward_seen[0] = torch.minimum(self.reward_seen[0], reward.min())
            self.reward_seen[1] = torch.maximum(self.reward_seen[1], reward.max())

    def value_range(self, cfg: TeacherConfig) -> tuple[float, float] | None:
        """(lo, hi) of the discounted returns the rewards seen allow, or None (no bound: off,
        or no reward seen yet)."""
        if not cfg.value_bound or not torch.isfinite(self.reward_seen).all():
            return None
        lo, hi = self.reward_seen.tolist()
        return min(lo, 0.0) / (1.0 - cfg.gamma), max(hi, 0.0) / (1.0 - cfg.gamma)

    def bootstrap(self, feat: torch.Tensor, bound: tuple[float, float] | None) -> torch.Tensor:
        """The slow critic's values of feat, clamped to bound where there is one."""
        value = symexp(self.slow_critic(feat).squeeze(-1))
        return value if bound is None else value.clamp(*bound)

    def lambda_returns(self, reward: torch.Tensor, value: torch.Tensor, disc: torch.Tensor, lam: float,
                       keep: torch.Tensor | None = None):  # fmt: skip
        """reward, disc (H, N) for steps 1..H; value (H + 1, N) for steps 0..H -> returns (H, N).

        keep (H, N) bool, optional: False where there is no transition into step i + 1 (a new
        episode starts there); the return at step i is then its value v_i, and the recursion
        restarts from it."""
        out, last = [], value[-1]
        for i in reversed(range(reward.shape[0])):
            last = reward[i] + disc[i] * ((1 - lam) * value[i + 1] + lam * last)
            if keep is not None:
                last = torch.where(keep[i], last, value[i])
            out.append(last)
        return torch.stack(out[::-1], 0)

    def loss(self, wm: WorldModel, start: State, cfg: TeacherConfig, generator: torch.Generator):
        """Imagine H steps from every start (N, ...). Returns (actor loss, critic loss, metrics)."""

        raws: list[torch.Tensor] = []

        def policy(feat: torch.Tensor) -> torch.Tensor:
            action, raw, _ = self.actor.sample(feat, generator)
            raws.append(raw)
            return action if cfg.actor_grad == "dynamics" else action.detach()

        with torch.set_grad_enabled(cfg.actor_grad == "dynamics"):
            states, _ = wm.rssm.imagine(start, policy, cfg.horizon, generator=generator)
            feat = wm.rssm.feature(states)
            reward = symexp(wm.reward(feat[1:]).squeeze(-1))
            disc = cfg.gamma * torch.sigmoid(wm.cont(feat[1:]).squeeze(-1))
            bound = self.value_range(cfg)
            value = self.bootstrap(feat, bound)
            returns = self.lambda_returns(reward, value, disc, cfg.lam)
        weight = torch.cumprod(torch.cat([torch.ones_like(disc[:1]), disc[:-1]], 0), 0).detach()

        lo, hi = torch.quantile(returns.detach().flatten(), torch.tensor([0.05, 0.95], device=feat.device))
        first = self.updates == 0
        decay = cfg.return_decay
        self.return_range.copy_(torch.where(first, torch.stack([lo, hi]),
                                            decay * self.return_range + (1 - decay) * torch.stack([lo, hi])))  # fmt: skip
        scale = (self.return_range[1] - self.return_range[0]).clamp(min=1.0)
        logp, entropy = self.actor.log_prob(feat[:-1].detach(), torch.stack(raws).detach())
        if cfg.actor_grad == "dynamics":
            objective = returns / scale
        else:
            baseline = symexp(self.critic(feat[:-1].detach()).squeeze(-1)).detach()
            objective = logp * ((returns - baseline) / scale).detach()
        actor_loss = -(weight * (objective + cfg.entropy * entropy)).mean()

        pred = self.critic(feat[:-1].detach()).squeeze(-1)
        target = returns.detach() if bound is None else returns.detach().clamp(*bound)
        critic_loss = (weight * (pred - symlog(target)).pow(2)).mean()
        metrics = {"ac/return": returns.mean(), "ac/entropy": entropy.mean(), "ac/scale": scale,
                   "ac/actor_loss": actor_loss, "ac/critic_loss": critic_loss}  # fmt: skip
        if bound is not None:
            metrics["ac/value_bound_hi"] = torch.tensor(bound[1])
        return actor_loss, critic_loss, metrics

    def replay_returns(self, feat: torch.Tensor, reward: torch.Tensor, is_first: torch.Tensor,
                       is_terminal: torch.Tensor, cfg: TeacherConfig) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Lambda-returns of replayed real rewards, bootstrapped with the slow critic.

        feat (B, T, F) posterior features of the batch; reward, is_first, is_terminal (B, T) in
        the dataset convention (reward[t] and is_terminal[t] arrive with observation t).
        R_t = r_{t+1} + gamma c_{t+1} ((1 - lam) v_{t+1} + lam R_{t+1}), R_{T-1} = v_{T-1}, with
        c = 1 - is_terminal and v the slow critic. Returns (returns (B, T - 1), mask (B, T - 1)):
        mask is 0 where observation t + 1 starts a new episode (no real transition from t).
        """
        keep = ~is_first[:, 1:]
        with torch.no_grad():
            bound = self.value_range(cfg)
            value = self.bootstrap(feat, bound)
            disc = cfg.gamma * (1.0 - is_terminal[:, 1:].float())
            # Time-major for lambda_returns: step i of it is the transition t -> t + 1.
            returns = self.lambda_returns(reward[:, 1:].T, value.T, disc.T, cfg.lam, keep.T).T
            if bound is not None:
                returns = returns.clamp(*bound)
        return returns, keep.float()

    def replay_critic_loss(self, feat: torch.Tensor, batch: dict[str, torch.Tensor], cfg: TeacherConfig):
        """The critic on real posterior states against replay_returns (DreamerV3's repval loss)."""
        returns, mask = self.replay_returns(feat, batch["reward"].float(), batch["is_first"].bool(),
                                            batch["is_terminal"].bool(), cfg)  # fmt: skip
        pred = self.critic(feat[:, :-1]).squeeze(-1)
        return (mask * (pred - symlog(returns)).pow(2)).sum() / mask.sum().clamp(min=1.0)

    def update_slow_critic(self, cfg: TeacherConfig) -> None:
        self.updates += 1
        if int(self.updates) % cfg.slow_critic_every == 0:
            with torch.no_grad():
                for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters(), strict=True):
                    slow.lerp_(fast, cfg.slow_critic_mix)


class Dreamer(nn.Module):
    """World model + actor-critic + their optimisers and RNG: one trainable agent.

    obs / target: "state" or "image" (see the module docstring).
    """

    def __init__(self, obs: str, target: str, state_dim: int, action_dim: int, model: ModelConfig,
                 train: TeacherConfig, seed: int = 0, device: torch.device | str = "cpu"):  # fmt: skip
        super().__init__()
        self.cfg, self.model_cfg = train, model
        self.state_dim, self.action_dim = state_dim, action_dim
        self.device = torch.device(device)
        with seeded_init(seed):
            self.wm = WorldModel(obs, target, state_dim, action_dim, model)
            self.ac = ActorCritic(self.wm.rssm.feat_dim, action_dim, model)
        self.to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.wm_opt = torch.optim.Adam(self.wm.parameters(), lr=train.model_lr, eps=1e-8)
        self.actor_opt = torch.optim.Adam(self.ac.actor.parameters(), lr=train.actor_lr, eps=1e-5)
        self.critic_opt = torch.optim.Adam(self.ac.critic.parameters(), lr=train.critic_lr, eps=1e-5)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One world-model step, then one actor-critic step on imagination from its posteriors."""
        self.ac.observe_rewards(batch["reward"])
        wm_loss, post, metrics = self.wm.loss(batch, self.cfg, self.generator)
        _step(self.wm_opt, wm_loss, self.wm.parameters(), self.cfg.grad_clip)

        start = select_starts({k: v.detach() for k, v in post.items()}, self.cfg.imag_starts, self.generator)
        actor_loss, critic_loss, ac_metrics = self.ac.loss(self.wm, start, self.cfg, self.generator)
        actor_params = list(self.ac.actor.parameters())
        # Gradients only for the actor: the world model is not updated by the actor loss.
        grads = torch.autograd.grad(actor_loss, actor_params, allow_unused=True)
        for p, g in zip(actor_params, grads, strict=True):
            p.grad = g if g is not None else torch.zeros_like(p)
        nn.utils.clip_grad_norm_(actor_params, self.cfg.grad_clip)
        self.actor_opt.step()
        self.actor_opt.zero_grad(set_to_none=True)
        if self.cfg.repval > 0:
            feat = self.wm.rssm.feature({k: v.detach() for k, v in post.items()})
            repval_loss = self.ac.replay_critic_loss(feat, batch, self.cfg)
            critic_loss = critic_loss + self.cfg.repval * repval_loss
            ac_metrics["ac/repval_loss"] = repval_loss
        _step(self.critic_opt, critic_loss, self.ac.critic.parameters(), self.cfg.grad_clip)
        self.ac.update_slow_critic(self.cfg)
        metrics.update(ac_metrics)
        return {k: float(v.detach()) for k, v in metrics.items()}

    @torch.no_grad()
    def act(self, obs: torch.Tensor, carry: tuple[State, torch.Tensor] | None, explore: bool):
        """Filter one observation and pick an action.

        obs (N, obs_dim) float32 state or (N, 64, 64, 3) uint8 image; carry is the
        (latent state, previous action) returned by the previous call, None at episode start.
        Returns (action (N, A), carry).
        """
        n = obs.shape[0]
        if carry is None:
            carry = (
                self.wm.rssm.initial(n, self.device),
                torch.zeros(n, self.action_dim, device=self.device),
            )
        is_first = torch.zeros(n, dtype=torch.bool, device=self.device)
        state, prev = carry
        post, _ = self.wm.rssm.obs_step(state, prev, self.wm.encoder(obs), is_first, generator=self.generator,
                                        sample=explore)  # fmt: skip
        feat = self.wm.rssm.feature(post)
        action = self.ac.actor.sample(feat, self.generator)[0] if explore else self.ac.actor.mode(feat)
        return action, (post, action)

    def training_state(self) -> dict:
        """Everything a resumed run needs, as plain tensors and dicts (torch.save-able)."""
        return {"agent": self.state_dict(), "wm_opt": self.wm_opt.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "generator": self.generator.get_state()}  # fmt: skip

    def load_training_state(self, state: dict) -> None:
        self.load_state_dict(state["agent"])
        self.wm_opt.load_state_dict(state["wm_opt"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        restore_generator(self.generator, state["generator"])


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(list(params), clip)
    opt.step()


def to_torch(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """Numpy (B, T, ...) batch from the SequenceSampler -> tensors. Each sequence starts from
    the zero state, so its first step is marked is_first (this also zeroes its action)."""
    out = {k: torch.as_tensor(np.asarray(v), device=device) for k, v in batch.items()}
    out["is_first"] = out["is_first"].clone()
    out["is_first"][:, 0] = True
    return out
