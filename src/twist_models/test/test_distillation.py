"""TWIST distillation (Eq. 3, Eq. 4): zero iff identical, KL direction, frozen teacher, actions."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from twist_models.checkpoint import atomic_torch_save
from twist_models.config import DistillConfig, load_preset
from twist_models.dreamer import Dreamer, to_torch
from twist_models.rssm import categorical_kl
from twist_models.student import (
    Distiller,
    Student,
    belief_distil_loss,
    distil_loss,
    imagined_distil_loss,
    random_conv,
    teacher_imagine,
)

torch.set_num_threads(1)
STATE_DIM, ACTION_DIM, B, T = 14, 3, 3, 6


@pytest.fixture(scope="module")
def preset():
    return load_preset("debug")


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    batch = {
        "state": rng.normal(size=(B, T, STATE_DIM)).astype(np.float32),
        "image": rng.integers(0, 256, (B, T, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (B, T, ACTION_DIM)).astype(np.float32),
        "is_first": np.zeros((B, T), bool),
    }
    return to_torch(batch, torch.device("cpu"))


POSITIONS = [slice(0, 3), slice(3, 6)]  # ee_pos, cube_pos as in the block tasks' layout


def make_pair(preset, seed=0, distill: DistillConfig | None = None, positions=None):
    torch.manual_seed(seed)
    teacher = Dreamer("state", "state", STATE_DIM, ACTION_DIM, preset.model, preset.teacher, seed=seed)
    student = Student(ACTION_DIM, preset.model)
    return Distiller(teacher, student, distill or preset.distill, seed=seed, positions=positions)


def test_categorical_kl_is_the_papers_direction_and_non_negative():
    p = torch.log(torch.tensor([[[0.7, 0.2, 0.1]]]))
    q = torch.log(torch.tensor([[[0.1, 0.3, 0.6]]]))
    by_hand = sum(a * np.log(a / b) for a, b in zip([0.7, 0.2, 0.1], [0.1, 0.3, 0.6], strict=True))
    assert categorical_kl(p, q).item() == pytest.approx(by_hand, rel=1e-5)
    assert categorical_kl(p, q).item() != pytest.approx(categorical_kl(q, p).item(), rel=1e-2)
    logits = torch.randn(50, 4, 5).log_softmax(-1)
    other = torch.randn(50, 4, 5).log_softmax(-1)
    assert (categorical_kl(logits, other) >= 0).all()
    assert torch.allclose(categorical_kl(logits, logits), torch.zeros(50), atol=1e-6)


def _states(rssm, embed, action, is_first, noise):
    return rssm.observe(embed, action, is_first, noise=noise)


def test_distil_loss_zero_for_identical_models_positive_otherwise(preset):
    d = make_pair(preset)
    rssm_t = d.teacher.wm.rssm
    rssm_s = copy.deepcopy(rssm_t)
    batch = make_batch()
    embed = d.teacher.wm.encoder(batch["state"])
    noise = rssm_t.noise((B, T), "cpu", torch.Generator().manual_seed(0))
    t_post, t_prior = _states(rssm_t, embed, batch["action"], batch["is_first"], noise)
    s_post, s_prior = _states(rssm_s, embed, batch["action"], batch["is_first"], noise)
    loss, metrics = distil_loss(t_post, t_prior, s_post, s_prior, preset.distill)
    assert loss.item() == 0.0
    # Eq. 4 on identical models with the same actions and noise is zero too.
    start = {k: v[:, -1] for k, v in t_post.items()}
    t_im, actions = teacher_imagine(d.teacher, start, 4, 0.3, rssm_t.noise((4, B), "cpu"), torch.Generator())
    s_im, _ = rssm_s.imagine(
        start, actions, 4, noise=rssm_t.noise((4, B), "cpu", torch.Generator().manual_seed(1))
    )
    s_im_same, _ = rssm_s.imagine(start, actions, 4, noise=None, generator=torch.Generator().manual_seed(1))
    assert imagined_distil_loss(s_im, s_im_same, preset.distill)[0].item() == 0.0

    with torch.no_grad():
        for p in rssm_s.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    s_post, s_prior = _states(rssm_s, embed, batch["action"], batch["is_first"], noise)
    loss, metrics = distil_loss(t_post, t_prior, s_post, s_prior, preset.distill)
    assert loss.item() > 0
    for key in ("distil/h", "distil/prior_kl", "distil/post_kl"):
        assert metrics[key].item() > 0
    # the loss's KL terms are KL[student || teacher]
    expected = categorical_kl(s_prior["logits"], t_prior["logits"]).mean()
    assert metrics["distil/prior_kl"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_step_updates_student_only_and_teacher_stays_bit_identical(preset):
    d = make_pair(preset)
    teacher_before = {k: v.clone() for k, v in d.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in d.student.state_dict().items()}
    metrics = d.update(make_batch())
    assert np.isfinite(metrics["distil/loss"]) and metrics["distil/loss"] > 0
    for k, v in d.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
    assert all(p.grad is None and not p.requires_grad for p in d.teacher.parameters())
    assert not d.teacher.training
    changed = [k for k, v in d.student.state_dict().items() if not torch.equal(v, student_before[k])]
    assert any(k.startswith("encoder.") for k in changed) and any(k.startswith("rssm.") for k in changed)


def _recorded_student_actions(d: Distiller, batch):
    seen = []
    original = d.student.rssm.img_step

    def spy(state, action, *args, **kwargs):
        seen.append(action.detach().clone())
        return original(state, action, *args, **kwargs)

    d.student.rssm.img_step = spy
    try:
        _, _, extras = d.loss(batch)
    finally:
        del d.student.rssm.img_step
    return torch.stack(seen), extras


def test_student_replays_exactly_the_teachers_imagined_actions(preset):
    d = make_pair(preset)
    seen, extras = _recorded_student_actions(d, make_batch())
    assert seen.shape == (preset.distill.horizon, B * T, ACTION_DIM)
    assert torch.equal(seen, extras["teacher_actions"])


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_action_noise_on_and_off(preset, noise):
    d = make_pair(preset, distill=DistillConfig(**{**preset.distill.__dict__, "action_noise": noise}))
    rssm = d.teacher.wm.rssm
    start = rssm.initial(256)
    start["h"] = torch.randn(256, rssm.deter, generator=torch.Generator().manual_seed(0))
    states, actions = teacher_imagine(
        d.teacher, start, 3, noise, rssm.noise((3, 256), "cpu"), torch.Generator()
    )
    mode = d.teacher.ac.actor.mode(rssm.feature(states))[:-1]
    deviation = actions - mode
    if noise == 0.0:
        # Equal up to float32 rounding: MKL's AVX2 SGEMM blocks a 256-row batch differently
        # from the 768 rows recomputed here (scripts/mkl_cpu_dispatch.c).
        torch.testing.assert_close(actions, mode, rtol=0, atol=1e-6)
    else:
        inside = mode.abs() < 0.5  # away from the clip at +-1 the deviation is the raw Gaussian
        assert deviation[inside].std().item() == pytest.approx(noise, rel=0.15)
        assert actions.abs().max().item() <= 1.0


def test_no_imagine_flag_drops_eq4(preset):
    d = make_pair(preset, distill=DistillConfig(**{**preset.distill.__dict__, "imagine": False}))
    _, metrics, extras = d.loss(make_batch())
    assert "imagine/h" not in metrics and extras == {}
    d2 = make_pair(preset)
    _, metrics2, _ = d2.loss(make_batch())
    assert metrics2["imagine/h"].item() >= 0 and metrics2["imagine/prior_kl"].item() >= 0


def test_shapes(preset):
    d = make_pair(preset)
    m = preset.model
    batch = make_batch()
    post, prior = d.student.rssm.observe(
        d.student.encoder(batch["image"]), batch["action"], batch["is_first"]
    )
    assert post["h"].shape == (B, T, m.deter)
    assert post["z"].shape == post["logits"].shape == prior["logits"].shape == (B, T, m.stoch, m.classes)
    assert torch.allclose(post["z"].sum(-1), torch.ones(B, T, m.stoch))
    assert d.student.rssm.feature(post).shape == (B, T, m.deter + m.stoch * m.classes)
    assert d.student.rssm.feat_dim == d.teacher.wm.rssm.feat_dim


def test_same_seed_same_losses_and_checkpoint_round_trip(preset, tmp_path):
    batches = [make_batch(i) for i in range(3)]
    a, b = make_pair(preset, seed=3), make_pair(preset, seed=3)
    la = [a.update(x)["distil/loss"] for x in batches[:2]]
    lb = [b.update(x)["distil/loss"] for x in batches[:2]]
    assert la == lb
    atomic_torch_save(a.training_state(), tmp_path / "ckpt.pt")
    c = make_pair(preset, seed=99)
    c.teacher.load_state_dict(a.teacher.state_dict())  # the teacher comes from its own run
    c.load_training_state(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    assert a.update(batches[2]) == c.update(batches[2])


def test_resume_takes_the_configured_learning_rate(preset):
    """A resumed distillation keeps Adam's moments but runs at the (possibly changed) config rate."""
    import dataclasses

    d = make_pair(preset)
    d.update(make_batch())
    faster = dataclasses.replace(preset.distill, lr=3 * preset.distill.lr)
    resumed = make_pair(preset, distill=faster)
    resumed.load_training_state(d.training_state())
    assert [g["lr"] for g in resumed.opt.param_groups] == [faster.lr]
    moments = next(iter(d.opt.state.values()))["exp_avg"]
    assert torch.equal(next(iter(resumed.opt.state.values()))["exp_avg"], moments)


def test_belief_term_is_the_decoded_position_error_in_cm(preset):
    """Not in the paper: ee 1 cm off and cube 2 cm off give 1 + 4 cm^2, a 1.5 cm mean error and a
    sqrt(5) cm error of the cube relative to the end effector (a decoder that reads h[:STATE_DIM])."""
    d = make_pair(preset)
    d.teacher.wm.decoder.predict = lambda feat: feat[..., :STATE_DIM]
    t_post = d.teacher.wm.rssm.initial(2)
    t_post["h"] = torch.randn(2, preset.model.deter)
    s_post = {k: v.clone() for k, v in t_post.items()}
    s_post["h"][:, 0] += 0.01  # ee x: 1 cm
    s_post["h"][:, 4] -= 0.02  # cube y: 2 cm
    term, metrics = belief_distil_loss(d.teacher, t_post, s_post, POSITIONS, grad=False)
    assert term.tolist() == pytest.approx([5.0, 5.0], rel=1e-4)
    assert metrics["belief/error_cm"].item() == pytest.approx(1.5, rel=1e-4)
    assert metrics["belief/relative_error_cm"].item() == pytest.approx(5**0.5, rel=1e-4)
    same, _ = belief_distil_loss(d.teacher, t_post, t_post, POSITIONS, grad=False)
    assert same.abs().max().item() == 0.0


def test_belief_term_only_with_its_weight_and_it_trains_the_student(preset):
    import dataclasses

    batch = make_batch()
    paper, _, _ = make_pair(preset).loss(batch)
    logged, metrics, _ = make_pair(preset, positions=POSITIONS).loss(batch)
    assert logged.item() == paper.item()  # w_belief = 0: the paper's loss, the belief only logged
    assert {"belief/term_cm2", "belief/error_cm", "belief/relative_error_cm"} <= set(metrics)
    weighted = dataclasses.replace(preset.distill, w_belief=0.5)
    d = make_pair(preset, distill=weighted, positions=POSITIONS)
    loss, metrics, _ = d.loss(batch)
    expected = paper.item() + 0.5 * metrics["belief/term_cm2"].item()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    first = metrics["belief/term_cm2"].item()
    for _ in range(15):
        d.update(batch)
    assert d.loss(batch)[1]["belief/term_cm2"].item() < first
    assert all(p.grad is None for p in d.teacher.parameters())  # the decoder stays frozen
    with pytest.raises(ValueError, match="w_belief"):
        make_pair(preset, distill=weighted)  # no positions in the teacher's state


def test_random_conv_keeps_geometry_and_only_with_its_probability():
    """Not in the paper: a mid-grey frame with one bright pixel changes only within that pixel's
    3 x 3 neighbourhood (the geometry stays); p = 0 leaves every frame, p = 1 changes every one."""
    image = torch.full((2, 3, 16, 16, 3), 128, dtype=torch.uint8)
    image[..., 5, 9, :] = 255
    same = random_conv(image, 0.0, torch.Generator().manual_seed(0))
    assert same.dtype == torch.float32 and torch.equal(same, image.float())
    out = random_conv(image, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 255
    changed = (out - 127.5).abs() > 4.0  # mid-grey maps to itself (to within 128 / 255 - 0.5)
    rows, cols = torch.nonzero(changed.any(-1).any(0).any(0), as_tuple=True)
    assert rows.numel() > 0 and set(rows.tolist()) <= {4, 5, 6} and set(cols.tolist()) <= {8, 9, 10}
    per_frame = (out != image.float()).flatten(2).any(-1)
    assert per_frame.all()
    assert torch.equal(out, random_conv(image, 1.0, torch.Generator().manual_seed(0)))
    frames = torch.randint(
        0, 256, (40, 1, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    half = random_conv(frames, 0.5, torch.Generator().manual_seed(2))
    kept = (half == frames.float()).flatten(1).all(-1).float().mean().item()
    assert 0.2 < kept < 0.8


def test_augment_changes_only_the_students_input(preset):
    import dataclasses

    batch = make_batch()
    paper, paper_metrics, _ = make_pair(preset).loss(batch)
    augmented = dataclasses.replace(preset.distill, augment_p=1.0)
    loss, metrics, _ = make_pair(preset, distill=augmented).loss(batch)
    assert loss.item() != paper.item() and metrics["distil/h"].item() != paper_metrics["distil/h"].item()
    with pytest.raises(ValueError, match="augment_p"):
        DistillConfig(augment_p=1.5)
