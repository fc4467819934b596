"""Distil a TWIST student from a trained teacher run (Eq. 3 + Eq. 4 of the paper).

    twist-distill --teacher RUN --preset cpu --out DIST [--no-imagine] [--no-action-noise]
                  [--data ROLLOUTS ...] [--steps N] [--max-minutes M]

The student gets the teacher's model sizes (h and z must match for the teacher's actor to
run on its latent); `--preset` supplies the distillation settings. It trains on the teacher
run's dataset D (sequences of length L with state and DR image). Killing and rerunning the
same command resumes from DIST/checkpoint.pt; `--max-minutes M` checkpoints and stops after M
minutes of this invocation, so a time-boxed session loses no update. Resuming with more `--data`
after the recorded ones adds those datasets and keeps the optimiser (a DAgger round that goes on
with the same run; run.yaml `data_added` says from which update); resuming with other
distillation settings (e.g. a term switched on) records them in run.yaml `distill_changed`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.tensorboard import SummaryWriter

from .checkpoint import (
    StopRequest,
    atomic_torch_save,
    check_resume_seed,
    lineage_of,
    load_teacher,
    read_run,
    run_overrides,
    student_lineage,
    write_yaml,
)
from .config import Preset, load_preset, resolve_device, run_compute
from .dreamer import to_torch
from .progress import IntervalMeans, progress_bar
from .student import Distiller, Student, position_slices

BATCH_KEYS = ("state", "image", "action", "is_first")


def _init_source(source: Path, task: str) -> tuple[dict, list[dict]]:
    """The student weights `--init-from` starts from, and the lineage they bring: a student run
    (its checkpoint.pt) or a policy bundle (twist-export; a shipped bundle keeps no student
    checkpoint, only its weights and, in its provenance, the run and the lineage they came from)."""
    if (source / "bundle.yaml").is_file():
        from .bundle import BundleError, read_bundle

        try:
            spec, tensors = read_bundle(source)
        except BundleError as exc:
            raise ValueError(f"--init-from {source}: {exc}") from exc
        if spec.task != task:
            raise ValueError(f"--init-from {source}: a {spec.task} bundle, this teacher's task is {task}")
        prov = spec.provenance
        run_yaml = source / "training" / "student_run.yaml"  # scripts/ship_bundle.sh keeps a copy
        wall = (yaml.safe_load(run_yaml.read_text()) or {}).get("wall_s") if run_yaml.is_file() else None
        updates = prov.get("student_updates")
        lineage = [{"run": str(prov.get("student_run") or source), "bundle": str(source),
                    "updates": None if updates is None else int(updates),
                    "wall_s": None if wall is None else round(float(wall), 1)},
                   *(prov.get("student_init_lineage") or [])]  # fmt: skip
        return tensors["student.safetensors"], lineage
    checkpoint = source / "checkpoint.pt"
    if not checkpoint.is_file():
        raise ValueError(
            f"--init-from {source}: no student checkpoint there ({checkpoint}) and no bundle.yaml"
        )
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    # The source's updates and wall-clock as of its checkpoint (its run.yaml may move on later).
    wall = state.get("wall_s")  # checkpoints before wall-clock was kept: unknown
    lineage = [{"run": str(source), "updates": int(state["updates"]),
                "wall_s": None if wall is None else round(float(wall), 1)},
               *student_lineage(source)]  # fmt: skip
    return state["distiller"]["student"], lineage


def distil(
    teacher_dir: Path,
    preset: Preset,
    out: Path,
    progress: bool = True,
    init_from: Path | None = None,
    data: list[Path] | None = None,
    max_minutes: float | None = None,
) -> dict:
    """Train (or resume) a student in `out` against the frozen teacher of `teacher_dir`.

    data: more datasets of the same teacher (twist-teacher-rollouts), sampled together with the
    teacher run's D. A resumed run keeps the datasets it started with; `data` that begins with those
    adds the rest (the optimiser, RNG and update count go on).

    init_from: another student run whose weights start this one (not its optimiser, RNG or update
    count), e.g. the student of an earlier snapshot of the same teacher run, or a policy bundle
    (a shipped student: its weights, with the lineage its provenance records). Ignored on resume.

    max_minutes: a time budget for this call: once it is spent, the update in hand is checkpointed
    and the call returns (before `cfg.steps`); the same call again continues. SIGTERM or SIGINT
    (`kill PID`, Ctrl-C) does the same at the update in hand."""
    from twist_sim.dataset import EpisodeDataset, SequenceSampler

    cfg = preset.distill
    torch.set_num_threads(preset.threads)
    device = resolve_device(preset.device)
    teacher, meta, teacher_preset = load_teacher(teacher_dir, device)
    student = Student(meta["action_dim"], teacher_preset.model, seed=preset.seed)
    distiller = Distiller(teacher, student, cfg, seed=preset.seed, device=device,
                          positions=position_slices(meta.get("state_layout") or {}))  # fmt: skip
    run_preset = Preset.from_dict({**preset.to_dict(), "model": teacher_preset.model.__dict__})
    out.mkdir(parents=True, exist_ok=True)
    data = [Path(d).resolve() for d in data or []]
    rng = np.random.default_rng([preset.seed, 2])
    updates, wall_offset = 0, 0.0
    init_lineage: list[dict] = []
    data_added: list[dict] = []  # datasets added on a resume: {"updates": at, "data": [...]}
    distill_changed: list[dict] = []  # settings changed on a resume: {"updates": at, "distill": {...}}
    ckpt_path = out / "checkpoint.pt"
    teacher_updates = int(meta.get("updates", -1))  # meta is the teacher's run.yaml
    if ckpt_path.is_file():
        previous = read_run(out)
        check_resume_seed(out, previous.get("preset", {}).get("seed"), preset.seed)
        if previous["teacher_run"] != str(Path(teacher_dir).resolve()):
            raise ValueError(f"{out} distils another teacher; use a new --out")
        # The student belongs to the teacher checkpoint it was distilled from (runs of the first
        # eight sessions did not record it: nothing to check there).
        if previous.get("teacher_updates", teacher_updates) != teacher_updates:
            raise ValueError(
                f"{out} was distilled from {teacher_dir} at {previous['teacher_updates']} teacher updates; "
                f"that teacher is at {teacher_updates} now (trained further?): use a new --out"
            )
        init_from = previous.get("init_from")  # provenance survives a resume without the flag
        init_lineage = lineage_of(previous)  # as recorded at the start (or followed, for older runs)
        recorded = [Path(d) for d in previous.get("data") or []]
        if data and data[: len(recorded)] != recorded:
            raise ValueError(
                f"{out} was started with --data {[str(d) for d in recorded]}; resume it with those "
                "(more --data after them add datasets, e.g. a DAgger round's)"
            )
        added = data[len(recorded) :] if data else []
        data = recorded + added
        data_added = list(previous.get("data_added") or [])
        distill_changed = list(previous.get("distill_changed") or [])
        changed = _distill_changes(previous, preset)
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        distiller.load_training_state(ckpt["distiller"])
        rng.bit_generator.state = ckpt["rng"]
        updates = ckpt["updates"]
        if added:  # the optimiser and the update count go on; the sampler draws from all datasets
            data_added.append({"updates": int(updates), "data": [str(d) for d in added]})
            print(f"[distil] resuming at update {updates} with {len(added)} more dataset(s): "
                  f"{', '.join(map(str, added))}", file=sys.stderr, flush=True)  # fmt: skip
        wall_offset = float(ckpt.get("wall_s", 0.0))  # checkpoints before wall-clock was kept: 0
        if changed:  # e.g. a term switched on part-way: run.yaml's preset holds only the latest
            distill_changed.append({"updates": int(updates), "distill": changed})
            print(
                f"[distil] resuming at update {updates} with other settings: {changed}",
                file=sys.stderr,
                flush=True,
            )
    elif init_from is not None:
        init_from = Path(init_from).resolve()
        weights, init_lineage = _init_source(init_from, meta["task"])
        try:
            student.load_state_dict(weights)
        except RuntimeError as exc:
            raise ValueError(
                f"--init-from {init_from}: that student has other sizes than this teacher's: {exc}"
            ) from exc
    own = Path(teacher_dir) / "dataset"
    datasets = [EpisodeDataset(own)] if (own / "manifest.json").is_file() else []
    if not datasets and not data:
        raise ValueError(
            f"{teacher_dir} has no matching dataset D (a teacher snapshot?): give rollouts of it with --data "
            "(twist-teacher-rollouts)"
        )
    datasets += [_same_teacher(d, teacher_dir, teacher_updates) for d in data]
    sampler = SequenceSampler(datasets, cfg.seq_len, cfg.batch_size, rng)
    meta_out = {"teacher_run": str(Path(teacher_dir).resolve()), "teacher_updates": teacher_updates,
                "task": meta["task"],
                "action_dim": meta["action_dim"], "state_dim": meta["state_dim"],
                "dataset_steps": sum(d.num_steps for d in datasets), "data": [str(d) for d in data],
                "preset": run_preset.to_dict(),
                "init_from": str(init_from) if init_from else None,
                "init_lineage": init_lineage, "data_added": data_added,
                "distill_changed": distill_changed}  # fmt: skip
    writer = SummaryWriter(str(out / "tb"))
    bar = progress_bar(
        total=cfg.steps, initial=updates, desc="distil", disable=not progress, dynamic_ncols=True
    )
    metrics: dict[str, float] = {}  # the means of the last logging interval (TensorBoard, run.yaml)
    interval = IntervalMeans()
    start = time.monotonic()

    def wall() -> float:
        return wall_offset + time.monotonic() - start

    # SIGTERM/SIGINT (stopping a background run) ends it like a spent time budget: nothing is lost.
    with StopRequest() as stop:
        while updates < cfg.steps:
            batch = sampler.sample()
            interval.add(distiller.update(to_torch({k: batch[k] for k in BATCH_KEYS}, device)))
            updates += 1
            bar.update(1)
            out_of_time = max_minutes is not None and time.monotonic() - start >= 60.0 * max_minutes
            out_of_time = out_of_time or stop.requested is not None
            if updates % cfg.log_every == 0 or updates == cfg.steps or out_of_time:
                metrics = interval.write(writer, updates)
                bar.set_postfix(loss=round(metrics["distil/loss"], 3))
            if updates % cfg.checkpoint_every == 0 or updates == cfg.steps or out_of_time:
                now = wall()
                state = {
                    "distiller": distiller.training_state(),
                    "rng": rng.bit_generator.state,
                    "updates": updates,
                    "wall_s": now,
                }
                atomic_torch_save(state, ckpt_path)
                write_yaml(out / "run.yaml", {**meta_out, "updates": updates, "wall_s": round(now, 1),
                                              "compute": run_compute(device, preset.threads, now),
                                              "last_metrics": metrics})  # fmt: skip
            if out_of_time:
                break
    bar.close()
    writer.close()
    stop.report("distil", f"update {updates}", ckpt_path)
    return {"updates": updates, **metrics}


def _same_teacher(directory: Path, teacher_dir: Path, teacher_updates: int):
    """A --data dataset, refused unless it holds rollouts of this very teacher run at its current
    checkpoint (a teacher trained further since then acts differently)."""
    from twist_sim.dataset import EpisodeDataset

    dataset = EpisodeDataset(directory)
    sources = {(e.get("teacher_run"), e.get("teacher_updates")) for e in dataset.entries}
    teacher = (str(Path(teacher_dir).resolve()), teacher_updates)
    if sources != {teacher}:
        raise ValueError(
            f"--data {directory}: its episodes come from (teacher run, updates) {sorted(map(str, sources))}, "
            f"not {teacher}; the student must match the teacher it is distilled from"
        )
    return dataset


def _distill_changes(previous: dict, preset: Preset) -> dict:
    """The distillation settings (all but `steps`, the run's target) a resume changes from those
    its run.yaml records; settings older runs did not record compare against their default."""
    from dataclasses import asdict

    from .config import DistillConfig

    before = {**asdict(DistillConfig()), **((previous.get("preset") or {}).get("distill") or {})}
    now = asdict(preset.distill)
    return {k: v for k, v in now.items() if k != "steps" and before.get(k) != v}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="TWIST: distil an image student from a state teacher.")
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run directory")
    parser.add_argument("--preset", default="cpu", help="preset name (config/presets) or YAML path")
    parser.add_argument(
        "--out", required=True, type=Path, help="student run directory (resumes if it exists)"
    )
    parser.add_argument("--steps", type=int, help="override distill.steps; a resume keeps the run's")
    parser.add_argument("--no-imagine", action="store_true", help="switch off imagined distillation (Eq. 4)")
    parser.add_argument(
        "--no-action-noise", action="store_true", help="no Gaussian noise on imagined actions"
    )
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--device", help="override the preset's device (cpu, cuda[:i], auto)")
    parser.add_argument(
        "--threads",
        type=int,
        help="override the preset's torch threads (2 on a 2-core machine with nothing beside it: "
        "0.62 s against 1.07 s a student update, docs/models.md)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        help="start from this student run's weights (e.g. an earlier teacher snapshot's) or a policy "
        "bundle's (a shipped student, e.g. bundles/block_push for a DAgger round on it)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="more data of this teacher (twist-teacher-rollouts, twist-render-replay); repeatable. A resumed "
        "run takes the ones it started with, in order, and any after them as added datasets",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="checkpoint and stop after this many minutes (the same command continues)",
    )
    args = parser.parse_args(argv)
    if args.max_minutes is not None and args.max_minutes < 0:
        parser.error(f"--max-minutes must be >= 0, got {args.max_minutes}")
    distill: dict = {}
    # A resume without --steps goes on to the run's own target, not to the preset's.
    steps = args.steps
    if steps is None and (args.out / "run.yaml").is_file():
        steps = (read_run(args.out).get("preset") or {}).get("distill", {}).get("steps")
    if steps is not None:
        distill["steps"] = steps
    if args.no_imagine:
        distill["imagine"] = False
    if args.no_action_noise:
        distill["action_noise"] = 0.0
    overrides: dict = {"distill": distill, **run_overrides(args.out, args.seed, args.device)}
    if args.threads is not None:
        overrides["threads"] = args.threads
    preset = load_preset(args.preset, overrides)
    counters = distil(
        args.teacher, preset, args.out, init_from=args.init_from, data=args.data, max_minutes=args.max_minutes
    )
    print(json.dumps(counters))


if __name__ == "__main__":
    main()
