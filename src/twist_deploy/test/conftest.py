"""Shared fixtures: loopback-only DDS, one ROS domain per test (this package's range 30-49),
one real debug policy bundle per session."""

import itertools
import os

import pytest
import torch

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)

_DOMAINS = itertools.count(30)


@pytest.fixture
def domain_id() -> int:
    domain = next(_DOMAINS)
    assert domain <= 49, "twist_deploy tests own ROS domains 30-49"
    return domain


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    from twist_models.testing import make_debug_bundle

    return make_debug_bundle(tmp_path_factory.mktemp("bundle") / "block_push", task="block_push", seed=0)
