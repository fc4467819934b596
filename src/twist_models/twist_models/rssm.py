"""Recurrent state-space model (DreamerV2/V3): GRU state h, categorical stochastic state z.

    h_t = f(h_{t-1}, z_{t-1}, a_{t-1})          deterministic path (GRU)
    prior      p(z_t | h_t)                     `prior`, used by `img_step` / `imagine`
    posterior  q(z_t | h_t, e_t)                `posterior`, used by `obs_step` / `observe`

A latent state is a dict of tensors: "h" (..., deter), "z" (..., stoch, classes) one-hot
sample with straight-through gradients, "logits" (..., stoch, classes) log-probabilities of
the distribution z came from (after the 1% uniform mix). Action convention (Dreamer):
action[t] is the action that led to observation t, zeros at t = 0.

Sampling uses Gumbel-max on explicit uniform noise, so two models fed the same noise draw the
same z from the same distribution: TWIST's teacher and student share it, making identical
models give identical rollouts (the distillation loss is then exactly zero).
"""

from __future__ import annotations

import torch
from torch import nn

from .networks import dense

State = dict[str, torch.Tensor]


class RSSM(nn.Module):
    def __init__(self, deter: int, stoch: int, classes: int, hidden: int, action_dim: int,
                 embed_dim: int, unimix: float = 0.01):  # fmt: skip
        super().__init__()
        self.deter, self.stoch, self.classes = deter, stoch, classes
        self.action_dim, self.embed_dim, self.unimix = action_dim, embed_dim, unimix
        self.img_in = dense(stoch * classes + action_dim, hidden)
        self.gru = nn.GRUCell(hidden, deter)
        self.prior_net = nn.Sequential(dense(deter, hidden), nn.Linear(hidden, stoch * classes))
        self.post_net = nn.Sequential(dense(deter + embed_dim, hidden), nn.Linear(hidden, stoch * classes))

    @property
    def feat_dim(self) -> int:
        return self.deter + self.stoch * self.classes

    def initial(self, batch: int, device: torch.device | str = "cpu") -> State:
        """The all-zero state every episode starts from. -> h (batch, deter), z/logits (batch, S, C)."""
        zeros = torch.zeros(batch, self.stoch, self.classes, device=device)
        return {"h": torch.zeros(batch, self.deter, device=device), "z": zeros, "logits": zeros}

    def feature(self, state: State) -> torch.Tensor:
        """(..., deter + stoch * classes): what heads, decoders and the actor see."""
        return torch.cat([state["h"], state["z"].flatten(-2)], -1)

    def _log_probs(self, raw: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(raw.unflatten(-1, (self.stoch, self.classes)), -1)
        return torch.log((1.0 - self.unimix) * probs + self.unimix / self.classes)

    def prior(self, h: torch.Tensor) -> torch.Tensor:
        """p(z | h): (..., deter) -> log-probs (..., stoch, classes)."""
        return self._log_probs(self.prior_net(h))

    def posterior(self, h: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        """q(z | h, e): (..., deter), (..., embed) -> log-probs (..., stoch, classes)."""
        return self._log_probs(self.post_net(torch.cat([h, embed], -1)))

    def sample(self, logits: torch.Tensor, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """Straight-through one-hot sample. noise: uniform (..., S, C) or None (drawn here)."""
        if noise is None:
            noise = self.noise(logits.shape[:-2], logits.device, generator)
        gumbel = -torch.log(-torch.log(noise))
        onehot = nn.functional.one_hot((logits + gumbel).argmax(-1), self.classes).to(logits.dtype)
        probs = logits.exp()
        return onehot + probs - probs.detach()

    def noise(self, shape: tuple | torch.Size, device, generator: torch.Generator | None = None):
        """Uniform noise in (0, 1) for `sample`: shape + (stoch, classes)."""
        u = torch.rand(*shape, self.stoch, self.classes, generator=generator, device=device)
        return u.clamp(1e-6, 1.0 - 1e-6)

    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(logits.argmax(-1), self.classes).to(logits.dtype)

    def _recur(self, state: State, action: torch.Tensor) -> torch.Tensor:
        x = self.img_in(torch.cat([state["z"].flatten(-2), action], -1))
        return self.gru(x, state["h"])

    def img_step(self, state: State, action: torch.Tensor, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, sample: bool = True) -> State:  # fmt: skip
        """One prior step: h' = f(h, z, a); z' ~ p(z' | h'). (N, ...) -> (N, ...)."""
        h = self._recur(state, action)
        logits = self.prior(h)
        z = self.sample(logits, noise, generator) if sample else self.mode(logits)
        return {"h": h, "z": z, "logits": logits}

    def obs_step(self, state: State, action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor,
                 noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 sample: bool = True) -> tuple[State, State]:  # fmt: skip
        """One filtering step. Returns (posterior state, prior state), each (N, ...).

        is_first (N,) bool resets state and action to zero where an episode starts.
        """
        keep = (~is_first).to(embed.dtype)
        state = {k: v * keep.view(-1, *([1] * (v.dim() - 1))) for k, v in state.items()}
        h = self._recur(state, action * keep[:, None])
        prior_logits = self.prior(h)
        post_logits = self.posterior(h, embed)
        z = self.sample(post_logits, noise, generator) if sample else self.mode(post_logits)
        return {"h": h, "z": z, "logits": post_logits}, {"h": h, "logits": prior_logits}

    def observe(self, embed: torch.Tensor, action: torch.Tensor, is_first: torch.Tensor,
                state: State | None = None, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[State, State]:  # fmt: skip
        """Filter a sequence. embed (B, T, E), action (B, T, A), is_first (B, T), noise (B, T, S, C).

        Returns (posterior, prior), dicts of (B, T, ...) tensors; the prior has "h" and "logits".
        """
        batch, length = embed.shape[:2]
        if state is None:
            state = self.initial(batch, embed.device)
        if noise is None:
            noise = self.noise((batch, length), embed.device, generator)
        posts = []
        for t in range(length):
            keep = (~is_first[:, t]).to(embed.dtype)
            state = {k: v * keep.view(-1, *([1] * (v.dim() - 1))) for k, v in state.items()}
            h = self._recur(state, action[:, t] * keep[:, None])
            logits = self.posterior(h, embed[:, t])
            state = {"h": h, "z": self.sample(logits, noise[:, t]), "logits": logits}
            posts.append(state)
        post = _stack(posts, 1)
        # The prior does not feed the recurrence: one batched call over all steps is cheaper.
        return post, {"h": post["h"], "logits": self.prior(post["h"])}

    def imagine(self, start: State, policy, horizon: int, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[State, torch.Tensor]:  # fmt: skip
        """Roll the prior forward from `start` (N, ...) for `horizon` steps.

        policy: a callable feature (N, F) -> action (N, A), or a tensor of actions (H, N, A)
        to replay. noise: uniform (H, N, S, C) or None. Returns (states stacked (H + 1, N, ...)
        including the start, actions (H, N, A)).
        """
        if noise is None:
            noise = self.noise((horizon, start["h"].shape[0]), start["h"].device, generator)
        states, actions, state = [start], [], start
        for i in range(horizon):
            action = policy[i] if isinstance(policy, torch.Tensor) else policy(self.feature(state).detach())
            state = self.img_step(state, action, noise[i])
            states.append(state)
            actions.append(action)
        return _stack(states, 0), torch.stack(actions, 0)


def select_starts(states: State, count: int, generator: torch.Generator) -> State:
    """Flatten (B, T, ...) states to (B * T, ...) and keep `count` of them at random (0 = all)."""
    flat = {k: v.flatten(0, 1) for k, v in states.items()}
    total = next(iter(flat.values())).shape[0]
    if count <= 0 or count >= total:
        return flat
    index = torch.randperm(total, generator=generator, device=generator.device)[:count]
    return {k: v[index] for k, v in flat.items()}


def _stack(states: list[State], dim: int) -> State:
    return {k: torch.stack([s[k] for s in states], dim) for k in states[0]}


def categorical_kl(lhs: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """KL[lhs || rhs] of categoricals given log-probs (..., S, C) -> (...), summed over S."""
    return (lhs.exp() * (lhs - rhs)).sum((-2, -1))


def kl_balance(post: torch.Tensor, prior: torch.Tensor, free: float, dyn: float, rep: float):
    """DreamerV3 KL balancing with free bits. Log-probs (B, T, S, C) -> (loss (B, T), KL (B, T)).

    dyn trains the prior towards the (fixed) posterior; rep trains the posterior towards the
    (fixed) prior; below `free` nats neither term gives gradient.
    """
    dyn_kl = categorical_kl(post.detach(), prior)
    rep_kl = categorical_kl(post, prior.detach())
    loss = dyn * dyn_kl.clamp(min=free) + rep * rep_kl.clamp(min=free)
    return loss, dyn_kl.detach()
