"""Asymmetric SAC (Pinto et al., "Asymmetric Actor Critic for Image-Based Robot Learning", 2018).

Model-free soft actor-critic whose actor sees only images and whose critic sees the privileged
simulator state: the critic is thrown away at deployment, so it may use anything the
simulator knows. The actor's images get DrQ's random-shift augmentation (Kostrikov et al.,
2020): pad by `image_pad` pixels (edge replicate) and crop back at a random offset. Twin Q
critics with Polyak-averaged targets, a tanh-squashed Gaussian actor and automatic entropy
tuning towards -|A| (Haarnoja et al., 2018).

Batches are dicts of tensors: image, next_image uint8 (B, H, W, 3); state, next_state
float32 (B, S); action (B, A) in [-1, 1]; reward (B,); not_done (B,) float (0 at terminal
steps; the tasks here never terminate, so episode ends are time limits and bootstrap).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..networks import MLP, restore_generator


@dataclass
class AsymSACConfig:
    """Asymmetric SAC hyper-parameters (DrQ's values for DMC unless noted).

    env_steps: environment steps to collect; prefill: uniform-random steps before updates.
    train_every: env steps per gradient update.
    batch_size: transitions per update.
    actor_lr, critic_lr, alpha_lr: Adam learning rates.
    gamma: discount; tau: Polyak factor of the target critics.
    init_temperature: initial entropy weight alpha.
    hidden, layers: MLP sizes of the actor head and the critics.
    cnn_depth: channels of each conv layer of the actor's image encoder.
    feature_dim: size of the image embedding the actor head reads.
    image_pad: random-shift augmentation padding in pixels (DrQ: 4).
    actor_update_every, target_update_every: in updates (DrQ: 2 and 2).
    eval_every, eval_episodes, checkpoint_every: in env steps.
    """

    env_steps: int = 500_000
    prefill: int = 1_000
    train_every: int = 1
    batch_size: int = 128
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    alpha_lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.01
    init_temperature: float = 0.1
    hidden: int = 1024
    layers: int = 2
    cnn_depth: int = 32
    feature_dim: int = 50
    image_pad: int = 4
    actor_update_every: int = 2
    target_update_every: int = 2
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 5_000

    def __post_init__(self) -> None:
        for name in ("env_steps", "train_every", "batch_size", "actor_lr", "critic_lr", "alpha_lr",
                     "init_temperature", "hidden", "layers", "cnn_depth", "feature_dim",
                     "actor_update_every", "target_update_every", "eval_every", "eval_episodes",
                     "checkpoint_every"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"AsymSACConfig.{name} must be > 0, got {value!r}")
        for name in ("prefill", "image_pad"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"AsymSACConfig.{name} must be an int >= 0, got {value!r}")
        for name in ("gamma", "tau"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 < value <= 1.0:
                raise ValueError(f"AsymSACConfig.{name} must be in (0, 1], got {value!r}")


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """DrQ random shift: (B, C, H, W) float -> same shape, each image shifted by up to `pad` px."""
    if pad == 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    shifts = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device=images.device)
    rows = torch.arange(h, device=images.device)[None, :] + shifts[:, :1]  # (B, H)
    cols = torch.arange(w, device=images.device)[None, :] + shifts[:, 1:]  # (B, W)
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class ImageEncoder(nn.Module):
    """DrQ/SAC-AE conv encoder: uint8 (B, H, W, 3) -> (B, feature_dim) in [-1, 1]."""

    def __init__(self, image_size: int, depth: int, feature_dim: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, depth, 3, stride=2), nn.ReLU(),
            nn.Conv2d(depth, depth, 3), nn.ReLU(),
            nn.Conv2d(depth, depth, 3), nn.ReLU(),
            nn.Conv2d(depth, depth, 3), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, image_size, image_size)).shape[-1]
        self.head = nn.Sequential(nn.Linear(flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(images))


def to_chw(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-0.5, 0.5]."""
    return images.permute(0, 3, 1, 2).float() / 255.0 - 0.5


class ImageActor(nn.Module):
    """Tanh-squashed Gaussian policy on images. forward: (B, 3, H, W) float -> (action, log_prob)."""

    LOG_STD_RANGE = (-10.0, 2.0)

    def __init__(self, image_size: int, action_dim: int, cfg: AsymSACConfig):
        super().__init__()
        self.encoder = ImageEncoder(image_size, cfg.cnn_depth, cfg.feature_dim)
        self.head = MLP(cfg.feature_dim, 2 * action_dim, cfg.hidden, cfg.layers)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None, deterministic: bool = False):
        mean, log_std = self.head(self.encoder(images)).chunk(2, dim=-1)
        lo, hi = self.LOG_STD_RANGE
        log_std = lo + 0.5 * (hi - lo) * (torch.tanh(log_std) + 1.0)
        if deterministic:
            return torch.tanh(mean), None
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        pre = mean + noise * log_std.exp()
        action = torch.tanh(pre)
        gauss = -0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        # Change of variables through tanh, in the numerically stable softplus form.
        log_prob = (gauss - 2.0 * (math.log(2.0) - pre - F.softplus(-2.0 * pre))).sum(-1)
        return action, log_prob


class StateCritic(nn.Module):
    """Twin Q on privileged state: (B, S), (B, A) -> two (B,) values."""

    def __init__(self, state_dim: int, action_dim: int, cfg: AsymSACConfig):
        super().__init__()
        self.q1 = MLP(state_dim + action_dim, 1, cfg.hidden, cfg.layers)
        self.q2 = MLP(state_dim + action_dim, 1, cfg.hidden, cfg.layers)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([state, action], -1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class AsymmetricSAC(nn.Module):
    """Actor, twin critic, target critic, temperature and their optimisers: one trainable agent."""

    def __init__(self, state_dim: int, action_dim: int, image_size: int, cfg: AsymSACConfig,
                 seed: int = 0, device: torch.device | str = "cpu"):  # fmt: skip
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.device = torch.device(device)
        self.actor = ImageActor(image_size, action_dim, cfg)
        self.critic = StateCritic(state_dim, action_dim, cfg)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.init_temperature)))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.target_entropy = -float(action_dim)
        self.to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Soft Bellman error of both critics against the target critic (scalar)."""
        with torch.no_grad():
            next_images = random_shift(to_chw(batch["next_image"]), self.cfg.image_pad, self.generator)
            next_action, next_log_prob = self.actor(next_images, self.generator)
            q1_t, q2_t = self.critic_target(batch["next_state"], next_action)
            soft_v = torch.min(q1_t, q2_t) - self.alpha * next_log_prob
            target = batch["reward"] + self.cfg.gamma * batch["not_done"] * soft_v
        q1, q2 = self.critic(batch["state"], batch["action"])
        return F.mse_loss(q1, target) + F.mse_loss(q2, target)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One critic step; every `actor_update_every` updates an actor and temperature step."""
        metrics = {}
        critic_loss = self.critic_loss(batch)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        metrics["sac/critic_loss"] = float(critic_loss.detach())

        if int(self.updates) % self.cfg.actor_update_every == 0:
            images = random_shift(to_chw(batch["image"]), self.cfg.image_pad, self.generator)
            action, log_prob = self.actor(images, self.generator)
            q1, q2 = self.critic(batch["state"], action)
            actor_loss = (self.alpha.detach() * log_prob - torch.min(q1, q2)).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            # The actor step leaves critic gradients behind; they must not leak into the next step.
            self.critic_opt.zero_grad(set_to_none=True)
            alpha_loss = (self.alpha * (-log_prob.detach() - self.target_entropy)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
            metrics.update({"sac/actor_loss": float(actor_loss.detach()), "sac/alpha": float(self.alpha.detach()),
                            "sac/entropy": float(-log_prob.detach().mean())})  # fmt: skip

        if int(self.updates) % self.cfg.target_update_every == 0:
            with torch.no_grad():
                for target, online in zip(
                    self.critic_target.parameters(), self.critic.parameters(), strict=True
                ):
                    target.lerp_(online, self.cfg.tau)
        self.updates += 1
        return metrics

    @torch.no_grad()
    def act(self, image: torch.Tensor, explore: bool) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> action (N, A) in [-1, 1] (no augmentation when acting)."""
        action, _ = self.actor(to_chw(image), self.generator, deterministic=not explore)
        return action

    def training_state(self) -> dict:
        return {"agent": self.state_dict(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict(),
                "generator": self.generator.get_state()}  # fmt: skip

    def load_training_state(self, state: dict) -> None:
        self.load_state_dict(state["agent"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        restore_generator(self.generator, state["generator"])
