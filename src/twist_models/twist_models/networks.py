"""Building blocks: LayerNorm-ELU MLPs, the DreamerV2 conv encoder/decoder, symlog, the actor.

Every hidden layer is Linear (no bias) -> LayerNorm -> ELU, as DreamerV3 normalises and the
TWIST paper's teacher uses ELU. Images enter as uint8 (..., 64, 64, 3) straight from
twist_sim.preprocess.preprocess_image; the float conversion happens here, once.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Deterministic parameter initialisation from `seed`, leaving torch's global RNG untouched
    (nn.Module initialisers only draw from the global generator)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# torch.Generator.get_state() sizes: Mersenne Twister on the CPU, Philox (seed + offset) on CUDA.
GENERATOR_STATE_BYTES = {"cpu": 5056, "cuda": 16}


def restore_generator(generator: torch.Generator, state: torch.Tensor) -> None:
    """generator.set_state(state), or, for a state saved on another device type (a CPU
    generator's Mersenne Twister state and a CUDA generator's Philox state differ in size), a
    reseed derived from the saved state: a run carried between CPU and GPU keeps its weights and
    optimisers and continues with a deterministic new sampling stream (bit-exact continuation
    needs the same device type anyway)."""
    other = {"cpu": GENERATOR_STATE_BYTES["cuda"], "cuda": GENERATOR_STATE_BYTES["cpu"]}.get(
        generator.device.type
    )
    if state.numel() == other:
        digest = hashlib.sha256(state.cpu().numpy().tobytes()).digest()
        generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    else:
        # set_state takes a CPU ByteTensor for every generator, also a CUDA one: a state loaded
        # with map_location="cuda" is on the GPU.
        generator.set_state(state.cpu())  # anything else that does not fit still fails loudly


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def dense(in_dim: int, out_dim: int) -> nn.Sequential:
    """One normalised hidden layer: Linear -> LayerNorm -> ELU."""
    return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.LayerNorm(out_dim), nn.ELU())


class MLP(nn.Module):
    """`layers` hidden layers of `hidden` units, then a linear output (if out_dim is given).

    (..., in_dim) -> (..., out_dim or hidden)
    """

    def __init__(self, in_dim: int, out_dim: int | None, hidden: int, layers: int):
        super().__init__()
        blocks = [dense(in_dim if i == 0 else hidden, hidden) for i in range(layers)]
        if out_dim is not None:
            blocks.append(nn.Linear(hidden, out_dim))
        self.net = nn.Sequential(*blocks)
        self.out_dim = out_dim if out_dim is not None else hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (N, C, H, W) feature map (DreamerV3's conv norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class StateNorm(nn.Module):
    """Fixed per-dimension affine normalisation of the privileged state: (x - offset) / scale.

    The privileged state is in metres: an end-effector step is 0.02 and the cube moves over
    ~0.15 around a constant ~0.5, which an MLP (and symlog, the identity near 0) barely sees.
    The offset and scale come from the model config (`ModelConfig.state_offset/state_scale`,
    derived from the task's workspace by `config.task_state_norm`), so they travel with every
    checkpoint and bundle; empty lists mean the identity (DreamerV3's plain symlog). They are
    non-persistent buffers: the config, not the tensor files, is their single source.
    """

    def __init__(self, state_dim: int, offset: list[float] | None = None, scale: list[float] | None = None):
        super().__init__()
        offset = list(offset) if offset else [0.0] * state_dim
        scale = list(scale) if scale else [1.0] * state_dim
        if len(offset) != state_dim or len(scale) != state_dim:
            raise ValueError(
                f"StateNorm: offset/scale have {len(offset)}/{len(scale)} entries, state_dim is {state_dim}"
            )
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32), persistent=False)
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32), persistent=False)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """(..., state_dim) metres -> (..., state_dim) normalised."""
        return (state - self.offset) / self.scale

    def inverse(self, normed: torch.Tensor) -> torch.Tensor:
        """(..., state_dim) normalised -> (..., state_dim) metres."""
        return normed * self.scale + self.offset


class StateEncoder(nn.Module):
    """Privileged state -> embedding. (..., state_dim) float32 -> (..., hidden).

    The input is normalised (`StateNorm`), then symlog-squashed so that features which leave
    their nominal range (or DMC proprioception, normalised by symlog alone) stay bounded.
    """

    def __init__(self, state_dim: int, hidden: int, layers: int, offset: list[float] | None = None,
                 scale: list[float] | None = None):  # fmt: skip
        super().__init__()
        self.norm = StateNorm(state_dim, offset, scale)
        self.mlp = MLP(state_dim, None, hidden, layers)
        self.out_dim = hidden

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.mlp(symlog(self.norm(state)))


class StateDecoder(nn.Module):
    """Latent feature -> predicted state, trained in symlog(normalised) space.

    (..., feat) -> (..., state_dim). `predict` returns the state in its own units (metres).
    """

    def __init__(self, feat_dim: int, state_dim: int, hidden: int, layers: int,
                 offset: list[float] | None = None, scale: list[float] | None = None):  # fmt: skip
        super().__init__()
        self.norm = StateNorm(state_dim, offset, scale)
        self.mlp = MLP(feat_dim, state_dim, hidden, layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """The prediction in symlog(normalised) space; `predict` gives the state."""
        return self.mlp(feat)

    def predict(self, feat: torch.Tensor) -> torch.Tensor:
        """(..., feat) -> (..., state_dim) in the state's own units (metres for the tasks)."""
        return self.norm.inverse(symexp(self.mlp(feat)))

    def loss(self, feat: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """(B, T, feat), (B, T, state_dim) -> (B, T) squared error."""
        return (self(feat) - symlog(self.norm(state))).pow(2).sum(-1)


class ConvEncoder(nn.Module):
    """DreamerV2 image encoder: 4 convs, kernel 4, stride 2, depth d, 2d, 4d, 8d.

    uint8 (..., 64, 64, 3) -> (..., 8d * 2 * 2)
    """

    def __init__(self, depth: int, image_size: int = 64):
        super().__init__()
        chans = [3, depth, 2 * depth, 4 * depth, 8 * depth]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 4, 2, bias=False), ChannelNorm(cout), nn.ELU()]
        self.net = nn.Sequential(*layers)
        side = image_size
        for _ in range(4):
            side = (side - 4) // 2 + 1
        self.out_dim = 8 * depth * side * side
        self.image_size = image_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        lead = image.shape[:-3]
        x = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.net(x).reshape(*lead, self.out_dim)


class ConvDecoder(nn.Module):
    """DreamerV2 image decoder: Linear to 32d, then transposed convs 5, 5, 6, 6 with stride 2.

    (..., feat) -> (..., 64, 64, 3) image in [-0.5, 0.5] (the encoder's input scale).
    """

    def __init__(self, feat_dim: int, depth: int):
        super().__init__()
        self.depth = depth
        self.fc = nn.Linear(feat_dim, 32 * depth)
        chans = [32 * depth, 4 * depth, 2 * depth, depth]
        layers: list[nn.Module] = []
        for cin, cout, k in zip(chans[:-1], chans[1:], (5, 5, 6), strict=True):
            layers += [nn.ConvTranspose2d(cin, cout, k, 2, bias=False), ChannelNorm(cout), nn.ELU()]
        layers.append(nn.ConvTranspose2d(depth, 3, 6, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.fc(feat.reshape(-1, feat.shape[-1])).reshape(-1, 32 * self.depth, 1, 1)
        return self.net(x).permute(0, 2, 3, 1).reshape(*lead, 64, 64, 3)

    def loss(self, feat: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(B, T, feat), uint8 (B, T, 64, 64, 3) -> (B, T) squared error."""
        target = image.float() / 255.0 - 0.5
        return (self(feat) - target).pow(2).sum((-3, -2, -1))


class Actor(nn.Module):
    """Continuous policy pi(a | feat): a tanh-squashed Normal, a = tanh(u), u ~ N(loc, std),
    std in [min_std, 1]. (..., feat) -> actions (..., action_dim) in (-1, 1).

    Why squashed rather than DreamerV3's Normal(tanh(loc), std) clipped to [-1, 1]: with the
    clipped Normal, once the best action is at a bound (e.g. "down" when the peg is on the
    table) REINFORCE drives the pre-tanh mean to +-4 within ~1K updates, tanh' ~ 0 freezes it
    there and the policy becomes a state-independent corner-seeking constant (measured on
    block push: 67-99% of pre-activations beyond +-2 at 7.5K-12K env steps). For the squashed
    Normal the score function has no tanh' factor, and its entropy includes the Jacobian
    term E[log(1 - tanh(u)^2)], which penalises saturation. The mode is tanh(loc), as before,
    so bundles and the student's use of the actor are unchanged.
    """

    def __init__(self, feat_dim: int, action_dim: int, hidden: int, layers: int, min_std: float = 0.1):
        super().__init__()
        self.mlp = MLP(feat_dim, 2 * action_dim, hidden, layers)
        self.action_dim = action_dim
        self.min_std = min_std

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loc of u (unbounded), std), each (..., action_dim)."""
        loc, std = self.mlp(feat).chunk(2, -1)
        return loc, (1.0 - self.min_std) * torch.sigmoid(std + 2.0) + self.min_std

    def mode(self, feat: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(feat)[0])

    def sample(self, feat: torch.Tensor, generator: torch.Generator | None = None):
        """Reparameterised sample. Returns (action tanh(u) (..., A), u (..., A) what `log_prob`
        scores, entropy estimate (...,))."""
        loc, std = self(feat)
        noise = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        raw = loc + std * noise
        return torch.tanh(raw), raw, self.entropy(std, raw)

    @staticmethod
    def _log_jacobian(raw: torch.Tensor) -> torch.Tensor:
        """log(1 - tanh(u)^2), computed stably: 2 (log 2 - u - softplus(-2u))."""
        return 2.0 * (math.log(2.0) - raw - F.softplus(-2.0 * raw))

    @classmethod
    def entropy(cls, std: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """One-sample estimate of the squashed entropy: H(N(loc, std)) + log|da/du| at u = raw.
        Differentiable in std and (through a reparameterised raw) in loc."""
        gaussian = 0.5 + 0.5 * torch.log(2 * torch.pi * std.pow(2))
        return (gaussian + cls._log_jacobian(raw)).sum(-1)

    def log_prob(self, feat: torch.Tensor, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For REINFORCE: (log N(raw | loc, std) (...,), entropy estimate (...,)). The score of
        u equals that of a = tanh(u) (the Jacobian does not depend on the parameters). The
        entropy is evaluated at u' = loc + std * eps with the sample's eps, so its Jacobian
        term pulls loc back from saturation."""
        loc, std = self(feat)
        logp = torch.distributions.Normal(loc, std).log_prob(raw).sum(-1)
        eps = ((raw - loc) / std).detach()
        return logp, self.entropy(std, loc + std * eps)


def bernoulli_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")
