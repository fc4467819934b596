"""Run directories: atomic writes, run metadata, and loading a trained teacher or student.

A teacher run RUN holds run.yaml (task facts + resolved preset), checkpoint.pt (training
state), dataset/ (the matching dataset D), tb/ (TensorBoard) and eval.jsonl. A distillation
run DIST holds run.yaml, checkpoint.pt and tb/.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import torch
import yaml

from .config import Preset
from .dreamer import Dreamer
from .student import Student


class StopRequest:
    """SIGTERM or SIGINT during a training loop asks it to stop, instead of killing it.

    Inside `with StopRequest() as stop:` the first such signal only sets `stop.requested`; the loop
    checks it after each update, checkpoints the update in hand and returns, so stopping a
    background run (`kill PID`, Ctrl-C) loses nothing. A second signal acts as it would have
    without this (the previous handler runs), for a loop that does not come round. Off the main
    thread, where Python cannot take signals, it does nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: int | None = None  # the signal that asked, once one has
        self._previous: dict = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def report(self, label: str, at: str, checkpoint: Path) -> None:
        """After the loop, on stderr: which signal stopped it, where, and that it can go on."""
        if self.requested is not None:
            print(f"[{label}] {signal.Signals(self.requested).name}: stopped at {at}, checkpointed in "
                  f"{checkpoint}; the same command continues", file=sys.stderr, flush=True)  # fmt: skip

    def _handle(self, signum, frame) -> None:
        if self.requested is None:
            self.requested = signum
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        self.__exit__()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.raise_signal(signum)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_training_state(
    path: Path, agent, rng, replay_rng, updates: int, env_steps: int, wall_s: float
) -> None:
    """An online run's checkpoint (teacher or baseline), atomically: the agent's training state
    (weights and optimisers), the episode and replay RNG states and the counters."""
    state = {"agent": agent.training_state(), "rng": rng.bit_generator.state,
             "replay_rng": replay_rng.bit_generator.state, "updates": updates, "env_steps": env_steps,
             "wall_s": wall_s}  # fmt: skip
    atomic_torch_save(state, path)


def load_training_state(path: Path, agent, rng, replay_rng, device) -> tuple[int, float]:
    """Restore what save_training_state wrote into agent and the two numpy Generators; returns
    (updates, wall_s). A run without a checkpoint yet starts at (0, 0.0)."""
    if not Path(path).is_file():
        return 0, 0.0
    ckpt = torch.load(path, map_location=device, weights_only=False)
    agent.load_training_state(ckpt["agent"])
    rng.bit_generator.state = ckpt["rng"]
    replay_rng.bit_generator.state = ckpt["replay_rng"]
    return ckpt["updates"], ckpt["wall_s"]


def write_yaml(path: Path, data: dict) -> None:
    atomic_write_bytes(path, yaml.safe_dump(data, sort_keys=False).encode())


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.yaml)")
    return yaml.safe_load(path.read_text())


def run_overrides(out: Path, seed: int | None, device: str | None) -> dict:
    """The preset overrides a training CLI's --seed and --device make, for run directory `out`.

    A run resumes with its own seed: the episode seeds, the replay's sampling and the networks'
    initialisation all derive from it, so a resume under another seed would quietly continue
    with another run's episodes while run.yaml recorded the new seed. Without --seed a resume
    takes the seed in the run's run.yaml; a --seed that differs from it is refused.
    """
    overrides: dict = {}
    if (Path(out) / "run.yaml").is_file():
        recorded = read_run(out).get("preset", {}).get("seed")
        check_resume_seed(out, recorded, seed)
        if seed is None and recorded is not None:
            seed = int(recorded)
    if seed is not None:
        overrides["seed"] = seed
    if device is not None:
        overrides["device"] = device
    return overrides


def check_resume_seed(out: Path, recorded, seed: int | None) -> None:
    """ValueError when a run recorded with seed `recorded` is resumed with another `seed`."""
    if seed is not None and recorded is not None and int(recorded) != int(seed):
        raise ValueError(
            f"{out} is a run of seed {recorded}; it resumes only with that seed (got seed {seed}): "
            f"leave out --seed to continue it, or use a new --out for seed {seed}"
        )


def student_lineage(dist_dir: Path) -> list[dict]:
    """The students a distillation run started from (--init-from), nearest first: one
    {"run", "updates", "wall_s"} each, so a student's compute includes its ancestors' updates.
    `lineage_of` on its run.yaml."""
    return lineage_of(read_run(dist_dir))


def lineage_of(meta: dict) -> list[dict]:
    """`student_lineage` of a student run's run.yaml (or a copy of it, as a shipped bundle keeps).

    A run records this list when it starts (run.yaml `init_lineage`); for runs from before that,
    or an ancestor not yet recorded, the chain is followed through each run.yaml's `init_from`
    while those runs exist, taking each ancestor's updates as its run.yaml has them now. An
    ancestor that no longer exists ends the list with {"run": PATH, "updates": None, "wall_s":
    None}: its compute is not known.
    """
    lineage: list[dict] = []
    while meta.get("init_from"):
        if meta.get("init_lineage") is not None:
            return lineage + list(meta["init_lineage"])
        source = Path(meta["init_from"])
        if not (source / "run.yaml").is_file():
            return lineage + [{"run": str(source), "updates": None, "wall_s": None}]
        meta = read_run(source)
        lineage.append({"run": str(source), "updates": meta.get("updates"), "wall_s": meta.get("wall_s")})
    return lineage


def load_teacher(run_dir: Path, device: torch.device | str = "cpu") -> tuple[Dreamer, dict, Preset]:
    """The teacher Dreamer of a run, with its latest checkpoint; (agent, run.yaml, preset)."""
    meta = read_run(run_dir)
    preset = Preset.from_dict(meta["preset"])
    agent = Dreamer("state", "state", meta["state_dim"], meta["action_dim"], preset.model, preset.teacher,
                    seed=preset.seed, device=device)  # fmt: skip
    ckpt = Path(run_dir) / "checkpoint.pt"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint.pt yet")
    agent.load_training_state(torch.load(ckpt, map_location=device, weights_only=True)["agent"])
    return agent, meta, preset


def load_student(dist_dir: Path, device: torch.device | str = "cpu") -> tuple[Student, dict]:
    meta = read_run(dist_dir)
    preset = Preset.from_dict(meta["preset"])
    student = Student(meta["action_dim"], preset.model).to(device)
    state = torch.load(Path(dist_dir) / "checkpoint.pt", map_location=device, weights_only=True)
    student.load_state_dict(state["distiller"]["student"])
    return student, meta
