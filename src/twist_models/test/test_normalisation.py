"""State normalisation: fixed per-task scales, exact round trip to metres, saved in the bundle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from twist_models.bundle import read_bundle
from twist_models.config import ModelConfig, task_names, task_state_norm
from twist_models.networks import StateDecoder, StateEncoder, StateNorm, seeded_init
from twist_models.policy import BundleError, StudentPolicy
from twist_models.testing import make_debug_bundle
from twist_sim.tasks import WORKSPACE_HIGH, WORKSPACE_LOW, make_task

torch.set_num_threads(1)


def test_push_positions_map_the_workspace_to_unit_box():
    spec = make_task("block_push")
    offset, scale = task_state_norm("block_push", spec.state_layout)
    norm = StateNorm(spec.state_dim, offset, scale)
    state = torch.zeros(2, spec.state_dim)
    for name in ("ee_pos", "cube_pos", "goal_pos"):
        a, b = spec.state_layout[name]
        state[0, a:b] = torch.tensor(WORKSPACE_LOW)
        state[1, a:b] = torch.tensor(WORKSPACE_HIGH)
    normed = norm(state)
    for name in ("ee_pos", "cube_pos", "goal_pos"):
        a, b = spec.state_layout[name]
        torch.testing.assert_close(normed[0, a:b], -torch.ones(3))
        torch.testing.assert_close(normed[1, a:b], torch.ones(3))
    a, b = spec.state_layout["cube_quat"]
    assert offset[a:b] == [0.0] * 4 and scale[a:b] == [1.0] * 4
    # A 2 cm step in x is at least 5x larger than in metres.
    assert 0.02 / scale[spec.state_layout["ee_pos"][0]] > 5 * 0.02


def test_distracting_tasks_use_symlog_only():
    assert "cartpole_balance" in task_names() and "block_push" in task_names()
    offset, scale = task_state_norm("cartpole_balance", {"position": (0, 3), "velocity": (3, 5)})
    assert offset == [0.0] * 5 and scale == [1.0] * 5


def test_decoder_prediction_round_trip_in_metres():
    spec = make_task("block_push")
    offset, scale = task_state_norm("block_push", spec.state_layout)
    with seeded_init(0):
        dec = StateDecoder(16, spec.state_dim, 32, 2, offset, scale)
    feat = torch.randn(4, 5, 16, generator=torch.Generator().manual_seed(0))
    metres = dec.predict(feat)
    # The decoder's own prediction, in metres, has zero loss: normalise and de-normalise agree.
    assert dec.loss(feat, metres).abs().max() < 1e-8
    state = torch.rand(7, spec.state_dim, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(dec.norm.inverse(dec.norm(state)), state)
    # The encoder sees the same normalised input as the decoder's target.
    enc = StateEncoder(spec.state_dim, 32, 2, offset, scale)
    torch.testing.assert_close(enc.norm(state), dec.norm(state))
    # Normalisation is config, not weights: the tensor files keep their keys.
    assert not any("offset" in k or "scale" in k for k in dec.state_dict())


def test_model_config_validates_normalisation():
    with pytest.raises(ValueError, match="state_scale"):
        ModelConfig(state_offset=[0.0, 0.0], state_scale=[1.0])
    with pytest.raises(ValueError, match="state_scale"):
        ModelConfig(state_offset=[0.0], state_scale=[0.0])
    with pytest.raises(ValueError, match="state_dim"):
        StateNorm(3, [0.0], [1.0])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_debug_bundle(tmp_path_factory.mktemp("n") / "bundle", task="block_push", seed=0)


def test_bundle_saves_normalisation_and_belief_is_in_metres(bundle):
    spec_task = make_task("block_push")
    offset, scale = task_state_norm("block_push", spec_task.state_layout)
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    assert meta["format_version"] == 2
    assert meta["model"]["state_offset"] == offset and meta["model"]["state_scale"] == scale
    spec, _ = read_bundle(bundle)
    assert spec.model.state_offset == offset and spec.model.state_scale == scale
    policy = StudentPolicy.load(bundle)
    policy.step(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    belief = policy.belief()
    feat = torch.as_tensor(policy.latent())[None]
    with torch.no_grad():
        raw = policy.decoder(feat)[0]
    want = (torch.sign(raw) * torch.expm1(raw.abs())).numpy() * np.array(scale) + np.array(offset)
    for name, (a, b) in spec.state_layout.items():
        np.testing.assert_allclose(belief[name], want[a:b], rtol=1e-5, atol=1e-6)


def _rewrite(src, dst, mutate):
    import shutil

    shutil.copytree(src, dst)
    meta = yaml.safe_load((dst / "bundle.yaml").read_text())
    mutate(meta)
    (dst / "bundle.yaml").write_text(yaml.safe_dump(meta))
    return dst


def test_old_format_and_bad_normalisation_are_refused(bundle, tmp_path):
    old = _rewrite(bundle, tmp_path / "v1", lambda m: m.update(format_version=1))
    with pytest.raises(BundleError, match="format_version 1 predates the state normalisation"):
        read_bundle(old)

    def short(meta):
        meta["model"] = dict(meta["model"], state_offset=[0.0], state_scale=[1.0])

    with pytest.raises(BundleError, match="state_offset/state_scale have 1 entries"):
        read_bundle(_rewrite(bundle, tmp_path / "short", short))

    def negative(meta):
        meta["model"] = dict(meta["model"], state_scale=[-1.0] * len(meta["model"]["state_scale"]))

    with pytest.raises(BundleError, match="state_scale"):
        read_bundle(_rewrite(bundle, tmp_path / "neg", negative))


def test_identity_normalisation_is_plain_symlog():
    model = dataclasses.replace(ModelConfig(hidden=32, layers=1))
    enc = StateEncoder(5, model.hidden, model.layers, model.state_offset, model.state_scale)
    x = torch.randn(3, 5)
    torch.testing.assert_close(enc.norm(x), x)
