"""The policy bundles shipped under bundles/ (what README's first command runs) load, act on their
task's own camera images, stay within the 20 MB the project allows them, and carry the training
provenance and held-out evaluation that docs/results.md quotes.

A bundle replaced by hand (a torn copy, a student of another task, a missing run.yaml) must fail
here, not in the demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from twist_models.policy import StudentPolicy

from twist_sim import make_env

ROOT = Path(__file__).resolve().parents[3]
BUNDLES = sorted(p.parent for p in (ROOT / "bundles").glob("*/bundle.yaml"))
SIZE_LIMIT = 20 * 2**20  # issue 7: the shipped bundles together

torch.set_num_threads(1)


def test_the_block_push_bundle_is_shipped_and_small():
    assert "block_push" in {p.name for p in BUNDLES}
    total = sum(f.stat().st_size for b in BUNDLES for f in b.rglob("*") if f.is_file())
    assert 0 < total <= SIZE_LIMIT, f"bundles/ holds {total / 2**20:.1f} MB, more than 20 MB"


@pytest.mark.parametrize("bundle", BUNDLES, ids=[p.name for p in BUNDLES])
def test_shipped_bundle_acts_on_its_task_images(bundle):
    policy = StudentPolicy.load(bundle, task=bundle.name)  # validates hashes, sizes and shapes
    env = make_env(policy.spec.task, split="heldout", dr_mode="eval", image_size=policy.spec.image_size)
    try:
        obs, _ = env.reset(seed=0)
        policy.reset()
        actions = []
        for _ in range(5):
            action = policy.step(obs["image"])
            actions.append(action)
            obs, *_ = env.step(action)
    finally:
        env.close()
    actions = np.stack(actions)
    assert actions.shape == (5, policy.spec.action_dim) and np.isfinite(actions).all()
    assert np.abs(actions).max() <= 1.0
    belief = policy.belief()
    assert set(belief) == set(policy.spec.state_layout) and all(np.isfinite(v).all() for v in belief.values())


@pytest.mark.parametrize("bundle", BUNDLES, ids=[p.name for p in BUNDLES])
def test_shipped_bundle_keeps_its_provenance(bundle):
    meta = yaml.safe_load((bundle / "bundle.yaml").read_text())
    provenance = meta["provenance"]
    training = bundle / "training"
    teacher = yaml.safe_load((training / "teacher_run.yaml").read_text())
    student = yaml.safe_load((training / "student_run.yaml").read_text())
    assert teacher["task"] == student["task"] == meta["task"] == bundle.name
    assert teacher["env_steps"] == provenance["teacher_env_steps"]
    assert student["updates"] == provenance["student_updates"] > 0
    assert student["dataset_steps"] == provenance["student_data_steps"]
    heldout = json.loads((training / "heldout_eval.json").read_text())
    assert heldout["split"] == "heldout" and len(heldout["returns"]) == heldout["episodes"] > 0
