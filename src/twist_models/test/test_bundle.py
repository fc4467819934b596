"""Policy bundle: round trip gives identical outputs; bad bundles are refused with a clear error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from twist_models.bundle import FILES, read_bundle
from twist_models.policy import BundleError, StudentPolicy
from twist_models.testing import make_debug_bundle

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_debug_bundle(tmp_path_factory.mktemp("b") / "bundle", task="block_push", seed=0)


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(n)]


def _copy(bundle, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(bundle, out)
    return out


def _rewrite_yaml(path, **changes):
    meta = yaml.safe_load((path / "bundle.yaml").read_text())
    meta.update(changes)
    (path / "bundle.yaml").write_text(yaml.safe_dump(meta))


def test_round_trip_identical_actions_and_beliefs(bundle, tmp_path):
    a, b = StudentPolicy.load(bundle), StudentPolicy.load(bundle)
    for img in _images(5):
        np.testing.assert_array_equal(a.step(img), b.step(img))
        for key, value in a.belief().items():
            np.testing.assert_array_equal(value, b.belief()[key])
    # reset restores the start-of-episode behaviour exactly
    first = _images(1)[0]
    a.reset()
    c = StudentPolicy.load(bundle)
    np.testing.assert_array_equal(a.step(first), c.step(first))


def test_spec_and_action_contract(bundle):
    policy = StudentPolicy.load(bundle)
    assert policy.spec.task == "block_push"
    assert policy.spec.action_dim == 3 and policy.spec.image_size == 64
    assert policy.spec.preprocess.size == 64 and policy.spec.control_hz == 10.0
    action = policy.step(_images(1)[0])
    assert action.dtype == np.float32 and action.shape == (3,)
    assert np.all(np.abs(action) <= 1.0)
    belief = policy.belief()
    assert set(belief) == {"ee_pos", "cube_pos", "cube_quat", "goal_pos", "cube_goal_dist"}
    assert belief["cube_pos"].shape == (3,)


def test_belief_before_step_is_an_error(bundle):
    with pytest.raises(RuntimeError):
        StudentPolicy.load(bundle).belief()


def test_tampered_tensor_file_is_refused(bundle, tmp_path):
    out = _copy(bundle, tmp_path)
    tensors = load_file(str(out / "teacher_actor.safetensors"))
    key = next(iter(tensors))
    tensors[key] = tensors[key] + 1e-3
    save_file(tensors, str(out / "teacher_actor.safetensors"))
    with pytest.raises(BundleError, match="teacher_actor.safetensors: sha256"):
        StudentPolicy.load(out)


def test_wrong_action_size_is_refused(bundle, tmp_path):
    out = _copy(bundle, tmp_path)
    _rewrite_yaml(out, action_dim=4)
    with pytest.raises(BundleError, match="action_dim=4"):
        StudentPolicy.load(out)
    with pytest.raises(BundleError, match="action_dim"):
        StudentPolicy.load(bundle, action_dim=4)


def test_wrong_image_size_is_refused(bundle, tmp_path):
    out = _copy(bundle, tmp_path)
    _rewrite_yaml(out, image_size=84)
    with pytest.raises(BundleError, match="image_size 84"):
        StudentPolicy.load(out)
    with pytest.raises(BundleError, match="image_size"):
        StudentPolicy.load(bundle, image_size=96)


def test_missing_file_and_wrong_task_are_refused(bundle, tmp_path):
    out = _copy(bundle, tmp_path)
    (out / FILES[0]).unlink()
    with pytest.raises(BundleError, match="student.safetensors: missing"):
        StudentPolicy.load(out)
    with pytest.raises(BundleError, match="task"):
        StudentPolicy.load(bundle, task="block_lift")
    with pytest.raises(BundleError, match="no bundle.yaml"):
        StudentPolicy.load(tmp_path)


def test_lift_bundle_has_gripper_action(tmp_path):
    spec, tensors = read_bundle(make_debug_bundle(tmp_path / "lift", task="block_lift"))
    assert spec.action_dim == 4 and set(tensors) == set(FILES)
    assert "grasped" in spec.state_layout


def test_an_export_stopped_between_its_two_moves_is_mended(tmp_path, monkeypatch):
    """write_bundle moves the old bundle to .<name>.old, then the new one in. Stopped between the
    two, the next call puts the old one back first: if that call fails too, the old bundle is
    where it was; if it succeeds, the new one replaces it and nothing is left beside it."""
    import twist_models.bundle as bundle_module

    out = make_debug_bundle(tmp_path / "bundle", task="block_push", seed=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    hidden = tmp_path / ".bundle.old"
    out.rename(hidden)  # the state a stop between the two moves leaves

    def failing_save(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(bundle_module, "save_file", failing_save)
        with pytest.raises(OSError, match="disk full"):
            make_debug_bundle(out, task="block_push", seed=1)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and not hidden.exists()

    out.rename(hidden)
    make_debug_bundle(out, task="block_push", seed=1)
    read_bundle(out)
    assert (out / FILES[0]).read_bytes() != before[FILES[0]] and not hidden.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
