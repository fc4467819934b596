"""TWIST: distil a frozen state teacher's world model into an image student (Eq. 3 and Eq. 4).

The student is an image encoder and an RSSM with the teacher's h and z sizes: no decoder, no
reward head, no actor-critic. Its latent state is trained to be the teacher's, so the
teacher's actor (and state decoder) work on it unchanged.

KL direction, as in the paper: KL[student || teacher], i.e. sum_z p_S(z) log(p_S(z) / p_T(z)).
It is mode-seeking for the student: the student is penalised for putting mass where the
teacher has none. The teacher's distribution is a constant (no gradient ever reaches it).

Teacher and student draw their stochastic states with the same uniform noise (see rssm.py),
so from identical distributions they draw identical z, and identical models give zero loss.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DistillConfig, ModelConfig
from .dreamer import Dreamer
from .networks import ConvEncoder, restore_generator, seeded_init
from .rssm import RSSM, State, categorical_kl, select_starts


class Student(nn.Module):
    """Image encoder + RSSM. The image (B, T, 64, 64, 3) uint8 is its only observation."""

    def __init__(self, action_dim: int, model: ModelConfig, seed: int = 0):
        super().__init__()
        with seeded_init(seed):
            self.encoder = ConvEncoder(model.cnn_depth, model.image_size)
            self.rssm = RSSM(model.deter, model.stoch, model.classes, model.hidden, action_dim,
                             self.encoder.out_dim, model.unimix)  # fmt: skip


def distil_loss(teacher_post: State, teacher_prior: State, student_post: State, student_prior: State,
                cfg: DistillConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """Eq. 3 on filtered sequences; every state is (B, T, ...). Returns (scalar, metrics).

    ||h_T - h_S||^2 + KL[p_S(z|h_S) || p_T(z|h_T)] + KL[q_S(z|h_S,o) || q_T(z|h_T,s)],
    summed over h and z, averaged over batch and time.
    """
    h = (teacher_post["h"] - student_post["h"]).pow(2).sum(-1)
    prior = categorical_kl(student_prior["logits"], teacher_prior["logits"])
    post = categorical_kl(student_post["logits"], teacher_post["logits"])
    loss = (cfg.w_h * h + cfg.w_prior * prior + cfg.w_post * post).mean()
    return loss, {"distil/h": h.mean(), "distil/prior_kl": prior.mean(), "distil/post_kl": post.mean()}


def teacher_imagine(teacher: Dreamer, start: State, horizon: int, action_noise: float, noise: torch.Tensor,
                    generator: torch.Generator) -> tuple[State, torch.Tensor]:  # fmt: skip
    """The teacher's imagined rollout under its actor's mode plus Gaussian action noise.

    start (N, ...); noise uniform (H, N, S, C). Returns (states (H + 1, N, ...), actions (H, N, A)).
    """

    def policy(feat: torch.Tensor) -> torch.Tensor:
        action = teacher.ac.actor.mode(feat)
        if action_noise > 0:
            jitter = torch.randn(action.shape, generator=generator, device=action.device)
            action = (action + action_noise * jitter).clamp(-1.0, 1.0)
        return action

    with torch.no_grad():
        return teacher.wm.rssm.imagine(start, policy, horizon, noise=noise)


def imagined_distil_loss(teacher_states: State, student_states: State, cfg: DistillConfig):
    """Eq. 4 on imagined steps 1..H of (H + 1, N, ...) rollouts: ||h_T - h_S||^2 + KL[p_S || p_T]."""
    h = (teacher_states["h"][1:] - student_states["h"][1:]).pow(2).sum(-1)
    prior = categorical_kl(student_states["logits"][1:], teacher_states["logits"][1:])
    loss = (cfg.w_imag_h * h + cfg.w_imag_prior * prior).mean()
    return loss, {"imagine/h": h.mean(), "imagine/prior_kl": prior.mean()}


def random_conv(image: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Not in the paper: network randomisation (Lee et al., ICLR 2020). With probability p each
    frame of uint8 (..., H, W, 3) passes through its own random 3 x 3 convolution (Xavier-normal
    weights mixing the colour channels and the neighbouring pixels) of the image centred on
    mid-grey, clipped to [0, 255]: new colours and textures with the geometry unchanged (zero
    padding, stride 1), so the cube stays where it was. Returns float in [0, 255] (what the
    encoder divides by 255)."""
    lead, (h, w, c) = image.shape[:-3], image.shape[-3:]
    frames = image.reshape(-1, h, w, c).permute(0, 3, 1, 2).float()
    centred = frames / 255.0 - 0.5
    n = frames.shape[0]
    std = (2.0 / (2 * 9 * c)) ** 0.5  # Xavier normal: fan_in = fan_out = 9 c
    weight = torch.randn((n * c, c, 3, 3), generator=generator, device=frames.device) * std
    mixed = torch.nn.functional.conv2d(centred.reshape(1, n * c, h, w), weight, padding=1, groups=n)
    mixed = ((mixed.reshape(n, c, h, w) + 0.5) * 255.0).clamp(0.0, 255.0)
    chosen = torch.rand((n, 1, 1, 1), generator=generator, device=frames.device) < p
    out = torch.where(chosen, mixed, frames)
    return out.permute(0, 2, 3, 1).reshape(*lead, h, w, c)


POSITIONS = ("ee_pos", "cube_pos")  # what the block teachers turn on (docs/models.md)


def position_slices(state_layout: dict) -> list[slice]:
    """The state's end effector and cube positions (metres), as slices; [] for tasks without them."""
    return [slice(*state_layout[name]) for name in POSITIONS if name in state_layout]


def belief_distil_loss(teacher: Dreamer, teacher_post: State, student_post: State, positions: list[slice],
                       grad: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """Not in the paper: the positions the teacher's frozen state decoder reads from the student's
    posterior against those it reads from its own, (B, T) squared error in cm^2 summed over the
    positions. Also the mean position error and, with both positions, the cube's error relative to
    the end effector (cm), as twist-eval's belief_error_m and belief_error_relative_m measure it."""
    decoder = teacher.wm.decoder
    with torch.no_grad():
        t_belief = decoder.predict(teacher.wm.rssm.feature(teacher_post))
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        s_belief = decoder.predict(teacher.wm.rssm.feature(student_post))
        errs = [(s_belief[..., sl] - t_belief[..., sl]) * 100.0 for sl in positions]  # cm
        term = sum(e.pow(2).sum(-1) for e in errs)
    metrics = {"belief/term_cm2": term.mean().detach(),
               "belief/error_cm": torch.stack([e.detach().norm(dim=-1) for e in errs]).mean()}  # fmt: skip
    if len(errs) == 2:
        metrics["belief/relative_error_cm"] = (errs[1] - errs[0]).detach().norm(dim=-1).mean()
    return term, metrics


class Distiller:
    """Trains `student` to reproduce the frozen `teacher`; owns the optimiser and the RNG."""

    def __init__(self, teacher: Dreamer, student: Student, cfg: DistillConfig, seed: int = 0,
                 device: torch.device | str = "cpu", positions: list[slice] | None = None):  # fmt: skip
        """positions: slices of the teacher's state (position_slices): the belief metrics are
        logged on them, and the belief term (cfg.w_belief > 0) trains on them."""
        self.teacher, self.student, self.cfg = teacher, student, cfg
        self.positions = list(positions or [])
        if cfg.w_belief > 0 and not self.positions:
            raise ValueError(
                f"distill.w_belief = {cfg.w_belief} needs a teacher state with {' and '.join(POSITIONS)} "
                "(the block tasks); this teacher's state has neither"
            )
        self.device = torch.device(device)
        teacher.requires_grad_(False).eval()
        self.student.to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.opt = torch.optim.Adam(student.parameters(), lr=cfg.lr, eps=1e-8)

    def loss(self, batch: dict[str, torch.Tensor]):
        """batch (B, T, ...) with state, image, action, is_first. Returns (scalar, metrics, extras)
        where extras holds the imagined actions fed to teacher and student (for inspection)."""
        rssm_t, rssm_s = self.teacher.wm.rssm, self.student.rssm
        b, t = batch["action"].shape[:2]
        noise = rssm_s.noise((b, t), self.device, self.generator)
        with torch.no_grad():
            t_post, t_prior = rssm_t.observe(self.teacher.wm.encoder(batch["state"]), batch["action"],
                                             batch["is_first"], noise=noise)  # fmt: skip
        image = batch["image"]
        if self.cfg.augment_p > 0:  # not in the paper; off by default, leaving the RNG stream as it was
            image = random_conv(image, self.cfg.augment_p, self.generator)
        s_post, s_prior = rssm_s.observe(self.student.encoder(image), batch["action"],
                                         batch["is_first"], noise=noise)  # fmt: skip
        loss, metrics = distil_loss(t_post, t_prior, s_post, s_prior, self.cfg)
        if self.positions:  # logged always; a term of the loss only with w_belief > 0
            term, belief_metrics = belief_distil_loss(self.teacher, t_post, s_post, self.positions,
                                                      grad=self.cfg.w_belief > 0)  # fmt: skip
            metrics.update(belief_metrics)
            if self.cfg.w_belief > 0:
                loss = loss + self.cfg.w_belief * term.mean()
        extras: dict[str, torch.Tensor] = {}
        if self.cfg.imagine:
            # The same random starts for both: the teacher's and the student's state at (b, t).
            state = self.generator.get_state()
            t_start = select_starts(t_post, self.cfg.imag_starts, self.generator)
            self.generator.set_state(state)
            s_start = select_starts(
                {k: v.detach() for k, v in s_post.items()}, self.cfg.imag_starts, self.generator
            )
            n = t_start["h"].shape[0]
            im_noise = rssm_s.noise((self.cfg.horizon, n), self.device, self.generator)
            t_states, actions = teacher_imagine(self.teacher, t_start, self.cfg.horizon, self.cfg.action_noise,
                                                im_noise, self.generator)  # fmt: skip
            s_states, s_actions = rssm_s.imagine(s_start, actions, self.cfg.horizon, noise=im_noise)
            im_loss, im_metrics = imagined_distil_loss(t_states, s_states, self.cfg)
            loss = loss + im_loss
            metrics.update(im_metrics)
            extras = {"teacher_actions": actions, "student_actions": s_actions}
        metrics["distil/loss"] = loss
        return loss, metrics, extras

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        loss, metrics, _ = self.loss(batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.student.parameters(), self.cfg.grad_clip)
        self.opt.step()
        return {k: float(v.detach()) for k, v in metrics.items()}

    def training_state(self) -> dict:
        return {"student": self.student.state_dict(), "opt": self.opt.state_dict(),
                "generator": self.generator.get_state()}  # fmt: skip

    def load_training_state(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.opt.load_state_dict(state["opt"])
        for group in self.opt.param_groups:  # the config's rate, so a resumed run can change it
            group["lr"] = self.cfg.lr
        restore_generator(self.generator, state["generator"])
