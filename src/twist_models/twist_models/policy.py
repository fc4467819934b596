"""StudentPolicy: the deployable TWIST policy, ROS-free.

    policy = StudentPolicy.load(bundle_dir, device="cpu")   # BundleError on any mismatch
    policy.reset()
    action = policy.step(image)     # raw RGB uint8 (H, W, 3) -> float32 (action_dim,) in [-1, 1]
    belief = policy.belief()        # the teacher's state decoder on the student's latent, in
                                    # metres (de-normalised with the bundle's model config)

The student RSSM filters images into the teacher's latent space; the teacher's actor acts on
it. Deterministic: the mode of z and of the actor. `step` preprocesses with the bundle's own
spec (twist_sim.preprocess), so the robot and evaluation feed raw camera images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from twist_sim.preprocess import preprocess_image

from .bundle import BundleError, BundleSpec, build_networks, read_bundle

__all__ = ["BundleError", "BundleSpec", "StudentPolicy"]


class StudentPolicy:
    def __init__(self, spec: BundleSpec, tensors: dict[str, dict[str, torch.Tensor]], device: str = "cpu"):
        self.spec = spec
        self.device = torch.device(device)
        student, actor, decoder = build_networks(spec)
        for module, name in ((student, "student.safetensors"), (actor, "teacher_actor.safetensors"),
                             (decoder, "teacher_state_decoder.safetensors")):  # fmt: skip
            module.load_state_dict(tensors[name], strict=True)
            module.to(self.device).eval().requires_grad_(False)
        self.student, self.actor, self.decoder = student, actor, decoder
        self.reset()

    @classmethod
    def load(cls, bundle_dir: str | Path, device: str = "cpu", *, task: str | None = None,
             action_dim: int | None = None, image_size: int | None = None) -> StudentPolicy:  # fmt: skip
        """Load and validate a bundle; optional expectations (task, action_dim, image_size) the
        caller's robot or env imposes are checked too. Raises BundleError naming the mismatch."""
        spec, tensors = read_bundle(Path(bundle_dir))
        for name, want in (("task", task), ("action_dim", action_dim), ("image_size", image_size)):
            if want is not None and getattr(spec, name) != want:
                raise BundleError(f"bundle {name} is {getattr(spec, name)!r}, expected {want!r}")
        return cls(spec, tensors, device)

    def reset(self) -> None:
        """Start a new episode: zero latent state and previous action."""
        self._state = self.student.rssm.initial(1, self.device)
        self._prev = torch.zeros(1, self.spec.action_dim, device=self.device)
        self._first = torch.ones(1, dtype=torch.bool, device=self.device)
        self._stepped = False

    @torch.inference_mode()  # no autograd bookkeeping: about 1 ms of a 4-5 ms step on a 2-core CPU
    def step(self, image: np.ndarray) -> np.ndarray:
        """Raw RGB uint8 (H, W, 3) -> action float32 (action_dim,) in [-1, 1]."""
        pixels = preprocess_image(image, self.spec.preprocess)
        obs = torch.tensor(pixels, device=self.device)[None]
        embed = self.student.encoder(obs)
        self._state, _ = self.student.rssm.obs_step(self._state, self._prev, embed, self._first, sample=False)
        action = self.actor.mode(self.student.rssm.feature(self._state))
        self._prev = action
        self._first = torch.zeros_like(self._first)
        self._stepped = True
        return action[0].cpu().numpy().astype(np.float32)

    def executed(self, action: np.ndarray) -> None:
        """The action the environment executed after the last step(), where it was not the
        policy's own (another controller acted, e.g. the teacher in a mixed DAgger rollout): the
        next step() filters this one instead."""
        if not self._stepped:
            raise RuntimeError("executed() needs a step() since reset()")
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != (self.spec.action_dim,) or not np.all(np.isfinite(action)):
            raise ValueError(f"executed action must be {self.spec.action_dim} finite numbers, got {action!r}")
        self._prev = torch.as_tensor(action, device=self.device)[None]

    @torch.inference_mode()
    def belief(self) -> dict[str, np.ndarray]:
        """The teacher's state decoder applied to the current student latent, split by the
        bundle's state layout: {"ee_pos": float32[3], "cube_pos": float32[3], ...}."""
        if not self._stepped:
            raise RuntimeError("belief() needs at least one step() since reset()")
        state = self.decoder.predict(self.student.rssm.feature(self._state))[0].cpu().numpy()
        return {name: state[a:b].astype(np.float32) for name, (a, b) in self.spec.state_layout.items()}

    def latent(self) -> np.ndarray:
        """The current latent feature (deter + stoch * classes,), e.g. for logging."""
        return self.student.rssm.feature(self._state)[0].cpu().numpy()
