"""`twist-teacher-snapshot`: a teacher run without its images, small enough to commit or copy.

    twist-teacher-snapshot --teacher runs/teacher_push --out checkpoints/teacher_block_push
    cp -r checkpoints/teacher_block_push runs/teacher_push2
    twist-train-teacher --task block_push --preset cpu --out runs/teacher_push2    # resumes

A teacher run is mostly its matching dataset D: a 64x64 image of every step, about 0.8 GB per
100K env steps. The teacher itself needs only the rest: its checkpoint (model, optimisers, RNG
states, counters) and the state part of D, its replay. A snapshot is a run directory holding
run.yaml, checkpoint.pt, eval.jsonl, tb/ and `replay.npz` (state, action, reward, is_first,
is_terminal of every complete episode, one concatenated array per key plus the episode
lengths) and no dataset/. So a trained teacher survives the machine it was trained on:

- `twist-train-teacher --out COPY` resumes a copy of it exactly as it would have resumed the
  original run (same replay, counters, optimiser and RNG states; tested bit-identical). The
  episodes it collects from then on go to COPY/dataset; replay.npz keeps the earlier ones.
- `twist-teacher-rollouts --teacher SNAP`, `twist-eval --teacher SNAP` and `twist-distill
  --teacher SNAP --data ROLLOUTS` take it as a teacher run (distillation then has no D of its
  own and needs --data).

A run's best periodic evaluation (RUN/best, twist-train-teacher) snapshots too: its checkpoint,
its run's replay up to the best's env steps, the run's evaluations up to it, the run's tb/ (its
scalars past the best too) and a run.yaml that records the evaluation as `from_best`. The
snapshot is a run again, which resumes from the best as the run itself went on from that step.

Everything is written atomically (temp file + rename), replay.npz last but one and run.yaml
last, so a killed snapshot is never taken for a whole one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from .checkpoint import atomic_write_bytes, read_run, write_yaml

REPLAY_FILE = "replay.npz"
REPLAY_KEYS = ("state", "action", "reward", "is_first", "is_terminal")


def write_replay(path: Path, episodes: list[dict[str, np.ndarray]]) -> None:
    """Episodes (each with REPLAY_KEYS, T + 1 entries) -> one compressed npz, atomically."""
    if not episodes:
        raise ValueError("a replay needs at least one episode")
    lengths = np.array([len(ep["reward"]) for ep in episodes], dtype=np.int64)
    arrays = {k: np.concatenate([np.asarray(ep[k]) for ep in episodes]) for k in REPLAY_KEYS}
    buf = io.BytesIO()
    np.savez_compressed(buf, lengths=lengths, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_replay(path: Path) -> list[dict[str, np.ndarray]]:
    """The episodes of a replay.npz, in order. Raises ValueError naming what is inconsistent."""
    with np.load(path) as f:
        missing = [k for k in ("lengths", *REPLAY_KEYS) if k not in f.files]
        if missing:
            raise ValueError(f"{path}: not a teacher replay (missing {missing})")
        lengths = f["lengths"]
        arrays = {k: f[k] for k in REPLAY_KEYS}
    total = int(lengths.sum())
    for k, v in arrays.items():
        if len(v) != total:
            raise ValueError(f"{path}: {k} holds {len(v)} entries, the episode lengths add up to {total}")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [{k: v[bounds[i] : bounds[i + 1]] for k, v in arrays.items()} for i in range(len(lengths))]


def run_episodes(run_dir: Path) -> list[dict[str, np.ndarray]]:
    """The replay of a teacher run: a snapshot's replay.npz (if any), then D's complete episodes.
    A run's best periodic evaluation (RUN/best, `best_of` in its run.yaml) has its run's replay
    up to the best's env steps: the episodes the run had collected when it kept those weights."""
    from twist_sim.dataset import EpisodeDataset

    run_dir = Path(run_dir)
    best_of = read_run(run_dir).get("best_of") if (run_dir / "run.yaml").is_file() else None
    if best_of:
        return best_episodes(run_dir, best_of)
    episodes = read_replay(run_dir / REPLAY_FILE) if (run_dir / REPLAY_FILE).is_file() else []
    if (run_dir / "dataset" / "manifest.json").is_file():
        dataset = EpisodeDataset(run_dir / "dataset")
        episodes += [dataset.episode(i, keys=REPLAY_KEYS) for i in range(len(dataset))]
    return episodes


def best_run(best_dir: Path, best_of: dict) -> Path:
    """The run directory a best (RUN/best) belongs to, from its `best_of`."""
    return Path(os.path.normpath(Path(best_dir) / best_of["run"]))


def best_episodes(best_dir: Path, best_of: dict) -> list[dict[str, np.ndarray]]:
    """The first episodes of a best's run, up to the env step the best was kept at."""
    run = best_run(best_dir, best_of)
    target = int(best_of["env_steps"])
    kept, steps = [], 0
    for ep in run_episodes(run):
        if steps >= target:
            break
        kept.append(ep)
        steps += len(ep["reward"]) - 1
    if steps != target:
        raise ValueError(
            f"{best_dir} was kept at env step {target}, but the episodes of its run {run.resolve()} "
            f"add up to {steps} there: its replay is not that run's"
        )
    return kept


def snapshot(teacher_dir: Path, out: Path) -> dict:
    """Write the snapshot of the teacher run `teacher_dir` to `out` (a new or earlier snapshot)."""
    teacher_dir, out = Path(teacher_dir), Path(out)
    meta = read_run(teacher_dir)
    ckpt_path = teacher_dir / "checkpoint.pt"
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"{teacher_dir} has no checkpoint.pt yet: nothing to snapshot")
    if out.resolve() == teacher_dir.resolve():
        raise ValueError("--out must be another directory than --teacher")
    # The checkpoint first, then D: a live run writes an episode before the checkpoint after it,
    # so the episodes read here include every one the checkpoint counted.
    ckpt_bytes = ckpt_path.read_bytes()
    ckpt = torch.load(io.BytesIO(ckpt_bytes), map_location="cpu", weights_only=False)
    episodes = run_episodes(teacher_dir)
    steps = sum(len(ep["reward"]) - 1 for ep in episodes)
    if steps < ckpt["env_steps"]:
        raise ValueError(
            f"{teacher_dir}: the checkpoint counts {ckpt['env_steps']} env steps, its replay {steps}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.yaml").unlink(missing_ok=True)  # an earlier snapshot here is not whole until the end
    atomic_write_bytes(out / "checkpoint.pt", ckpt_bytes)
    best_of = meta.pop("best_of", None)
    if best_of:  # a run of its own from here: the run's evaluations up to it, the evaluation kept
        run = best_run(teacher_dir, best_of)
        meta["from_best"] = {**best_of, "run": str(run)}
        if (run / "eval.jsonl").is_file():
            lines = (run / "eval.jsonl").read_text().splitlines(keepends=True)
            evals = [
                line
                for line in lines
                if line.strip() and json.loads(line)["env_steps"] <= best_of["env_steps"]
            ]
            atomic_write_bytes(out / "eval.jsonl", "".join(evals).encode())
    elif (teacher_dir / "eval.jsonl").is_file():
        atomic_write_bytes(out / "eval.jsonl", (teacher_dir / "eval.jsonl").read_bytes())
    tb = run / "tb" if best_of else teacher_dir / "tb"  # a best's: the run's, past the best too
    if tb.is_dir():
        shutil.rmtree(out / "tb", ignore_errors=True)
        shutil.copytree(tb, out / "tb")
    write_replay(out / REPLAY_FILE, episodes)
    # The counters of the checkpoint taken (a live run may have written a newer run.yaml since).
    counters = {
        "env_steps": int(ckpt["env_steps"]),
        "updates": int(ckpt["updates"]),
        "wall_s": round(ckpt["wall_s"], 1),
    }
    if isinstance(meta.get("compute"), dict):
        counters["compute"] = {**meta["compute"], "wall_s": counters["wall_s"]}
    write_yaml(out / "run.yaml", {**meta, **counters})
    return {"episodes": len(episodes), "env_steps": steps, "checkpoint_env_steps": int(ckpt["env_steps"]),
            "updates": int(ckpt["updates"]), "task": meta["task"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Snapshot a teacher run without its images (checkpoint + state replay): it resumes anywhere."
    )
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run directory")
    parser.add_argument("--out", required=True, type=Path, help="snapshot directory (replaced if it exists)")
    args = parser.parse_args(argv)
    print(json.dumps(snapshot(args.teacher, args.out)))


if __name__ == "__main__":
    main()
