"""Make dm-control 1.0.50 load under MuJoCo 4.

dm-control 1.0.50 declares ``mujoco>=3.17.0`` but its generated index of struct fields
(``mjbindings.sizes.array_sizes``) still lists flex-vertex fields that MuJoCo 4.0.0 removed
(``flex_vertedge``, ``flexvert_J``, ...), so building any suite ``Physics`` raises
AttributeError. dm-control 1.0.50 with mujoco 3.17.0 works unmodified; the workspace pins
mujoco 4.0.0 for the block tasks, so instead of a second MuJoCo the index is pruned to the
fields the installed MuJoCo actually has. The suite's domains use no flex objects, so
nothing they read is lost.
"""

from __future__ import annotations

import functools


@functools.cache
def load_suite():
    """Import and return ``dm_control.suite`` after pruning the missing fields (idempotent)."""
    import mujoco
    from dm_control.mujoco.wrapper.mjbindings import sizes

    for struct_name, struct in (("mjmodel", mujoco.MjModel), ("mjdata", mujoco.MjData)):
        table = sizes.array_sizes[struct_name]
        for field_name in [f for f in table if not hasattr(struct, f)]:
            del table[field_name]

    from dm_control import suite

    return suite
