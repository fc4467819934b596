"""Helpers for other packages' tests: a real policy bundle before a trained one exists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from twist_sim.preprocess import PreprocessSpec
from twist_sim.tasks import make_task

from .bundle import write_bundle
from .config import load_preset, task_state_norm
from .networks import Actor, StateDecoder, seeded_init
from .student import Student


def make_debug_bundle(out_dir: str | Path, task: str = "block_push", seed: int = 0) -> Path:
    """Write a bundle of untrained `debug`-preset networks (seeded) for `task` with the real
    export code; returns its directory. Its actions are meaningless but well-formed."""
    spec = make_task(task)
    model = load_preset("debug").model
    offset, scale = task_state_norm(task, spec.state_layout)
    model = dataclasses.replace(model, state_offset=offset, state_scale=scale)
    with seeded_init(seed):
        student = Student(spec.action_dim, model, seed=seed)
        actor = Actor(student.rssm.feat_dim, spec.action_dim, model.hidden, model.layers)
        decoder = StateDecoder(
            student.rssm.feat_dim, spec.state_dim, model.hidden, model.layers, offset, scale
        )
    return write_bundle(Path(out_dir), student, actor, decoder, task=task, state_layout=spec.state_layout,
                        control_hz=spec.control_hz, action_scale_m=spec.action_scale_m,
                        preprocess=PreprocessSpec(size=model.image_size), model=model,
                        provenance={"kind": "debug (untrained)", "seed": seed})  # fmt: skip
