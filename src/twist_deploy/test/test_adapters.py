"""Each command adapter decodes back to the target it encoded (what the sim twin and a real
controller execute)."""

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from twist_sim.nodes import adapters

Q = np.array([1.0, 0.0, 0.0, 0.0])  # hand down


@pytest.mark.parametrize("interface", adapters.INTERFACES)
def test_roundtrip(interface):
    ee = np.array([0.5, -0.1, 0.2])
    delta = np.array([0.02, -0.01, 0.005])
    msg = adapters.encode(interface, ee + delta, delta, Q, Time(sec=1), "base", 10.0)
    assert isinstance(msg, adapters.MESSAGE_TYPES[interface])
    np.testing.assert_allclose(adapters.decode(interface, msg, ee, 10.0), ee + delta, atol=1e-12)


def test_multipanda_layout_has_rotation_matrix():
    msg = adapters.encode("multipanda", np.zeros(3), np.zeros(3), Q, Time(), "base", 10.0)
    rot = np.array(msg.data[3:]).reshape(3, 3)
    np.testing.assert_allclose(rot, np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)


def test_quat_matrix_matches_axis_angle():
    angle = 0.7
    q = np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)])
    c, s = np.cos(angle), np.sin(angle)
    np.testing.assert_allclose(adapters.quat_to_matrix(q), [[c, -s, 0], [s, c, 0], [0, 0, 1]], atol=1e-12)


def test_bad_interface_and_short_array():
    with pytest.raises(ValueError, match="command interface"):
        adapters.check_interface("joint")
    msg = adapters.MESSAGE_TYPES["multipanda"](data=[0.0] * 3)
    with pytest.raises(ValueError, match="12 values"):
        adapters.decode("multipanda", msg, np.zeros(3), 10.0)
