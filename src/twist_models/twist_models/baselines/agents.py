"""The paper's baselines as agents, and thin policy adapters that evaluation drives.

Dreamer w/ DR, Dreamer w/o DR and Dreamer State Recon are the project's one Dreamer
(twist_models.dreamer) composed differently; Asymmetric SAC is baselines.asym_sac.

    method         encoder sees   decoder predicts   training images
    dreamer_dr     image          image              training-split DR, resampled every step
    dreamer_nodr   image          image              nominal appearance (DR off)
    state_recon    image          privileged state   training-split DR, resampled every step
    asym_sac       image (actor)  - (critic: state)  training-split DR, resampled every step
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Preset
from ..dreamer import Dreamer
from .asym_sac import AsymmetricSAC, AsymSACConfig


@dataclass(frozen=True)
class Method:
    """How one baseline is built and which appearance it trains on."""

    name: str
    kind: str  # "dreamer" or "asym_sac"
    obs: str
    target: str
    dr_mode: str


METHODS: dict[str, Method] = {
    "dreamer_dr": Method("dreamer_dr", "dreamer", "image", "image", "train"),
    "dreamer_nodr": Method("dreamer_nodr", "dreamer", "image", "image", "off"),
    "state_recon": Method("state_recon", "dreamer", "image", "state", "train"),
    "asym_sac": Method("asym_sac", "asym_sac", "image", "state", "train"),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


def build_agent(method: Method, state_dim: int, action_dim: int, preset: Preset, sac: AsymSACConfig,
                device: torch.device) -> Dreamer | AsymmetricSAC:  # fmt: skip
    if method.kind == "dreamer":
        return Dreamer(method.obs, method.target, state_dim, action_dim, preset.model, preset.teacher,
                       seed=preset.seed, device=device)  # fmt: skip
    return AsymmetricSAC(state_dim, action_dim, preset.model.image_size, sac, seed=preset.seed, device=device)


class ImagePolicy:
    """A baseline agent as `reset()` + `act(obs) -> action` on image observations.

    explore=False gives the deterministic action evaluation uses; True samples (collection).
    """

    def __init__(self, agent: Dreamer | AsymmetricSAC, explore: bool):
        self.agent, self.explore = agent, explore
        self.carry = None

    def reset(self) -> None:
        self.carry = None

    def act(self, obs: dict) -> np.ndarray:
        image = torch.as_tensor(obs["image"], device=self.agent.device)[None]
        if isinstance(self.agent, Dreamer):
            action, self.carry = self.agent.act(image, self.carry, explore=self.explore)
        else:
            action = self.agent.act(image, explore=self.explore)
        return action[0].cpu().numpy().astype(np.float32)
