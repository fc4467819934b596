"""The policy bundle: what deploy loads. A directory, no pickle:

    bundle.yaml                          task facts, preprocessing, model config, provenance,
                                         sha256 of every tensor file
    student.safetensors                  student image encoder + RSSM
    teacher_actor.safetensors            the teacher's actor (runs on the student's latent)
    teacher_state_decoder.safetensors    the teacher's state decoder (the belief display)

`read_bundle` validates everything before a network is built: format, fields, hashes, key
sets and tensor shapes against the declared sizes. Any mismatch is a BundleError naming it.

CLI: twist-export --teacher RUN --student DIST --out BUNDLE
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from twist_sim.preprocess import PreprocessSpec

from .config import ModelConfig
from .networks import Actor, StateDecoder
from .student import Student

FORMAT = "twist-policy-bundle"
# 2: the model section carries the state normalisation (state_offset, state_scale) that the
# state decoder's output is de-normalised with; version 1 bundles predate it.
FORMAT_VERSION = 2
FILES = ("student.safetensors", "teacher_actor.safetensors", "teacher_state_decoder.safetensors")


class BundleError(ValueError):
    """A policy bundle that must not be loaded; the message says which field or file and why."""


@dataclass(frozen=True)
class BundleSpec:
    """The facts a bundle declares (bundle.yaml), after validation."""

    task: str
    image_size: int
    action_dim: int
    action_scale_m: float
    control_hz: float
    state_dim: int
    state_layout: dict[str, tuple[int, int]]
    preprocess: PreprocessSpec
    model: ModelConfig
    provenance: dict


def build_networks(spec: BundleSpec) -> tuple[Student, Actor, StateDecoder]:
    """Untrained networks with the bundle's sizes (the shapes every tensor file must have)."""
    student = Student(spec.action_dim, spec.model)
    feat = student.rssm.feat_dim
    actor = Actor(feat, spec.action_dim, spec.model.hidden, spec.model.layers)
    decoder = StateDecoder(feat, spec.state_dim, spec.model.hidden, spec.model.layers, spec.model.state_offset,
                           spec.model.state_scale)  # fmt: skip
    return student, actor, decoder


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (a bundle's tensor files; the suite's run fingerprints)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(out: Path, student: Student, actor: Actor, decoder: StateDecoder, *, task: str,
                 state_layout: dict, control_hz: float, action_scale_m: float, preprocess: PreprocessSpec,
                 model: ModelConfig, provenance: dict) -> Path:  # fmt: skip
    """Write a bundle directory atomically (built beside `out`, then renamed into place).

    The old bundle is moved aside to `.<name>.old` first; a call stopped between that and the
    new one's move leaves no bundle at `out`: the next call puts the old one back before it starts,
    so a failure of that call leaves the bundle as it was (and no temporary directory)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.with_name(f".{out.name}.old")
    if old.is_dir() and not out.exists():
        old.rename(out)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        modules = dict(zip(FILES, (student, actor, decoder), strict=True))
        hashes = {}
        for name, module in modules.items():
            tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
            save_file(tensors, str(tmp / name))
            hashes[name] = {"sha256": file_sha256(tmp / name)}
        state_dim = max(stop for _, stop in state_layout.values())
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "task": task,
            "image_size": model.image_size, "action_dim": actor.action_dim, "action_scale_m": float(action_scale_m),
            "control_hz": float(control_hz), "state_dim": int(state_dim),
            "state_layout": {k: [int(v[0]), int(v[1])] for k, v in state_layout.items()},
            "preprocess": preprocess.to_dict(), "model": model.__dict__.copy(), "provenance": provenance,
            "files": hashes,
        }  # fmt: skip
        (tmp / "bundle.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    except BaseException:  # a failed write leaves nothing half-made beside the bundle
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)
    return out


def _field(meta: dict, key: str, kind: type | tuple):
    if key not in meta:
        raise BundleError(f"bundle.yaml: missing field {key!r}")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BundleError(f"bundle.yaml: field {key!r} has the wrong type ({value!r})")
    return value


def read_bundle(bundle_dir: Path) -> tuple[BundleSpec, dict[str, dict[str, torch.Tensor]]]:
    """Validate a bundle and return (spec, {file name: tensors}). Raises BundleError."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / "bundle.yaml"
    if not path.is_file():
        raise BundleError(f"{bundle_dir}: no bundle.yaml (not a policy bundle)")
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise BundleError(f"bundle.yaml is not valid YAML: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"bundle.yaml: format must be {FORMAT!r}")
    if meta.get("format_version") == 1:
        raise BundleError("bundle.yaml: format_version 1 predates the state normalisation of format 2 "
                          "(model.state_offset/state_scale); re-export it with twist-export")  # fmt: skip
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"bundle.yaml: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    try:
        model = ModelConfig(**_field(meta, "model", dict))
        preprocess = PreprocessSpec.from_dict(_field(meta, "preprocess", dict))
    except (TypeError, ValueError, KeyError) as e:
        raise BundleError(f"bundle.yaml: invalid model or preprocess section: {e}") from e
    image_size = _field(meta, "image_size", int)
    if image_size != model.image_size or image_size != preprocess.size:
        raise BundleError(f"bundle.yaml: image_size {image_size} disagrees with the model ({model.image_size}) "
                          f"or the preprocessing ({preprocess.size})")  # fmt: skip
    layout = {k: (int(v[0]), int(v[1])) for k, v in _field(meta, "state_layout", dict).items()}
    spec = BundleSpec(task=_field(meta, "task", str), image_size=image_size,
                      action_dim=_field(meta, "action_dim", int),
                      action_scale_m=float(_field(meta, "action_scale_m", (int, float))),
                      control_hz=float(_field(meta, "control_hz", (int, float))),
                      state_dim=_field(meta, "state_dim", int), state_layout=layout, preprocess=preprocess,
                      model=model, provenance=meta.get("provenance") or {})  # fmt: skip
    if spec.action_dim <= 0 or spec.state_dim <= 0:
        raise BundleError(
            f"bundle.yaml: action_dim {spec.action_dim} / state_dim {spec.state_dim} must be > 0"
        )
    if len(model.state_offset) not in (0, spec.state_dim):
        raise BundleError(f"bundle.yaml: model.state_offset/state_scale have {len(model.state_offset)} entries, "
                          f"state_dim is {spec.state_dim}")  # fmt: skip
    files = _field(meta, "files", dict)
    expected = dict(zip(FILES, build_networks(spec), strict=True))
    tensors = {}
    for name, module in expected.items():
        file = bundle_dir / name
        if name not in files or not file.is_file():
            raise BundleError(f"{name}: missing from the bundle")
        if file_sha256(file) != files[name].get("sha256"):
            raise BundleError(f"{name}: sha256 does not match bundle.yaml (tampered or corrupt tensor file)")
        try:
            loaded = load_file(str(file))
        except (SafetensorError, OSError) as e:
            raise BundleError(f"{name}: unreadable safetensors file: {e}") from e
        want = module.state_dict()
        if set(loaded) != set(want):
            diff = sorted(set(loaded) ^ set(want))[:5]
            raise BundleError(f"{name}: tensor keys differ from the declared model: {diff}")
        for key, value in want.items():
            if tuple(loaded[key].shape) != tuple(value.shape):
                raise BundleError(f"{name}: {key} has shape {tuple(loaded[key].shape)}, the declared sizes "
                                  f"(action_dim={spec.action_dim}, image_size={spec.image_size}, "
                                  f"state_dim={spec.state_dim}) need {tuple(value.shape)}")  # fmt: skip
        tensors[name] = loaded
    return spec, tensors


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)  # fmt: skip
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def export(teacher_dir: Path, student_dir: Path, out: Path) -> Path:
    """Bundle a trained teacher run and a distilled student."""
    from .checkpoint import lineage_of, load_student, load_teacher

    teacher, meta, preset = load_teacher(teacher_dir)
    student, dist_meta = load_student(student_dir)
    provenance = {
        "teacher_run": str(Path(teacher_dir).resolve()), "teacher_env_steps": meta.get("env_steps"),
        "student_run": str(Path(student_dir).resolve()), "student_updates": dist_meta.get("updates"),
        "student_init_from": dist_meta.get("init_from"), "student_init_lineage": lineage_of(dist_meta),
        "student_data": dist_meta.get("data") or [],
        "student_data_steps": dist_meta.get("dataset_steps"),  # D plus --data (teacher rollouts)
        "preset": preset.name, "seed": preset.seed, "git_commit": _git_commit(), "torch": str(torch.__version__),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    return write_bundle(out, student, teacher.ac.actor, teacher.wm.decoder, task=meta["task"],
                        state_layout=meta["state_layout"], control_hz=meta["control_hz"],
                        action_scale_m=meta["action_scale_m"], preprocess=PreprocessSpec.from_dict(meta["preprocess"]),
                        model=preset.model, provenance=provenance)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export a TWIST policy bundle (student + teacher actor).")
    parser.add_argument(
        "--teacher", required=True, type=Path, help="teacher run directory (twist-train-teacher)"
    )
    parser.add_argument("--student", required=True, type=Path, help="student run directory (twist-distill)")
    parser.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    args = parser.parse_args(argv)
    out = export(args.teacher, args.student, args.out)
    read_bundle(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
