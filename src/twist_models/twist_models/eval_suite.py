"""Held-out evaluation of every method of the paper, with raw results and rliable aggregates.

    twist-eval-suite --suite suite.yaml --out results/

suite.yaml:

    episodes: 20            # per (method, task, seed)
    split: heldout
    runs:
      - {method: oracle, task: block_push, seed: 0, path: runs/teacher}       # teacher run, on state
      - {method: twist, task: block_push, seed: 0, path: runs/bundle}         # policy bundle
      - {method: twist, task: cup_catch, seed: 0, path: runs/student,         # or a student run
         teacher: runs/teacher}                                               # and its teacher
      - {method: dreamer_dr, task: block_push, seed: 0, path: runs/dreamer_dr} # baseline run
      - {method: oracle, task: cup_catch, seed: 1, path: runs/teacher_s1,     # weights not kept:
         record: runs/teacher_s1/heldout_eval_1000000.json}                  # its stored evaluation
      - {method: oracle_value_bound, task: block_lift, seed: 1,               # a teacher trained with
         path: runs/teacher_vb}                                              # --value-bound
    random_seeds: 1         # random-policy reference runs per task (added by the suite)

Episode i of every run is reset with seed EVAL_SEED + i (twist_models.evaluate), so all
methods meet the same episodes. A student given as a twist-distill run with its `teacher` run
is exported once (twist-export) to OUT/bundles/METHOD_TASK_SEED, and that bundle is what is
evaluated and recorded in runs.json. A run given with a `record` is not evaluated again: its
episodes are read from that file, a `twist-eval --json` result taken on the same episodes (its
`seed` must be EVAL_SEED, its method, task and split the run's), for runs whose weights were not
kept; `path` is then the run's directory of records (run.yaml, eval.jsonl) for the report's
compute table and curves, and runs.json names the record. The suite adds a `random` method to every task itself:
uniform actions in [-1, 1] from a Generator seeded by the run's seed, on the same episodes,
stored in raw.csv like any other method. OUT/raw.csv gets one row per episode (method, task, seed,
episode, return, success) and is the source of truth; (method, task, seed) triples already
there are skipped, so an interrupted suite resumes, unless the run changed since it was
evaluated: OUT/fingerprints.json keeps a hash of each evaluated run's weights (its record, for a
recorded run), and a triple whose hash differs or is missing is evaluated again. OUT/summary.json holds the aggregates:

- Table I: per task and method, mean and standard deviation of the episode return (episodes
  of all seeds pooled) and the number of episodes.
- Oracle-normalised scores: (run's mean return - random) / (oracle - random) per task, where
  oracle and random are the two reference methods' mean returns on that task over all their
  seeds (0 = random, 1 = Oracle; on DMC tasks random is close to 0, so this is close to the
  paper's score / oracle), per (method, task) over its seeds. IQM, median and mean over
  (runs x tasks) with 95% stratified-bootstrap confidence intervals from rliable (Agarwal et al.,
  2021), over the tasks every method ran, each method's runs being its seeds present on all of them.
- Success rate with a 95% Wilson score interval per (method, task) for tasks that have a
  success criterion (the manipulation tasks).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from .checkpoint import atomic_write_bytes
from .evaluate import EVAL_SEED, rollout
from .stats import wilson_interval

RAW_FIELDS = ("method", "task", "seed", "episode", "return", "success")
# TWIST students are policy bundles; the two ablations of the paper's Fig. 6 are bundles too,
# distilled with `twist-distill --no-imagine` and `--no-action-noise`. "twist_dagger" is this
# project's addition, not the paper's: a TWIST student distilled further on episodes it drove
# itself (`twist-teacher-rollouts --driver`, DAgger), reported beside TWIST, never as TWIST.
STUDENT_METHODS = ("twist", "twist_no_imagine", "twist_no_noise", "twist_dagger")
# Teachers on state. "oracle_value_bound" is this project's addition, not the paper's: an Oracle
# trained with `twist-train-teacher --value-bound` (docs/models.md, "Value bound"), reported beside
# the Oracle, never as it; the Oracle alone is the reference of the normalised scores.
TEACHER_METHODS = ("oracle", "oracle_value_bound")
TWIST_METHODS = (*TEACHER_METHODS, *STUDENT_METHODS)
RANDOM = "random"  # the reference policy the suite evaluates itself; its runs have no path


@dataclass(frozen=True)
class RunSpec:
    """One trained (method, task, seed) and where it lives."""

    method: str
    task: str
    seed: int
    path: str
    teacher: str = ""  # a student method's teacher run when `path` is a twist-distill run, not a bundle
    record: str = ""  # a stored `twist-eval --json` result that stands in for evaluating `path`

    def __post_init__(self) -> None:
        from .baselines.agents import METHODS
        from .baselines.envs import ALL_TASKS

        known = TWIST_METHODS + tuple(METHODS) + (RANDOM,)
        if self.method not in known:
            raise ValueError(f"RunSpec.method must be one of {known}, got {self.method!r}")
        if self.task not in ALL_TASKS:
            raise ValueError(f"RunSpec.task must be one of {ALL_TASKS}, got {self.task!r}")
        if self.teacher and self.method not in STUDENT_METHODS:
            raise ValueError(f"RunSpec.teacher is for the student methods {STUDENT_METHODS}, "
                             f"not {self.method!r}")  # fmt: skip
        if self.record and self.teacher:
            raise ValueError(f"RunSpec {self.method}/{self.task}/{self.seed}: a run with a record is read, "
                             "not exported; give `record` or `teacher`, not both")  # fmt: skip
        if self.record and self.method == RANDOM:
            raise ValueError(f"RunSpec.record: the suite evaluates the {RANDOM!r} reference itself")


def export_students(runs: list[RunSpec], out: Path) -> list[RunSpec]:
    """`runs` with every (student run, teacher run) pair replaced by its bundle in OUT/bundles/.

    A bundle already there that reads back and was exported from the same two runs is kept (an
    interrupted suite resumes); any other is exported again. A bundle of another task is an error
    naming both.
    """
    from .bundle import BundleError, export, read_bundle

    resolved = []
    for run in runs:
        if not run.teacher:
            resolved.append(run)
            continue
        bundle = Path(out) / "bundles" / f"{run.method}_{run.task}_{run.seed}"
        sources = {
            "teacher_run": str(Path(run.teacher).resolve()),
            "student_run": str(Path(run.path).resolve()),
        }
        try:
            spec, _ = read_bundle(bundle)
            stale = any(spec.provenance.get(k) != v for k, v in sources.items())
        except (BundleError, OSError):
            stale = True
        if stale:
            export(Path(run.teacher), Path(run.path), bundle)
            spec, _ = read_bundle(bundle)
        if spec.task != run.task:
            raise ValueError(f"{run.path} (teacher {run.teacher}) is a {spec.task!r} student, "
                             f"but the suite lists it for {run.task!r}")  # fmt: skip
        resolved.append(RunSpec(run.method, run.task, run.seed, str(bundle)))
    return resolved


# --------------------------------------------------------------------------- evaluation


def evaluate_run(run: RunSpec, episodes: int, split: str, device: str = "cpu") -> dict:
    """Roll out one run's deterministic policy. Returns rollout()'s dict (returns, successes)."""
    from .baselines.envs import BLOCK_TASKS, make_task_env
    from .baselines.train import evaluate_agent, load_baseline
    from .checkpoint import load_teacher
    from .evaluate import evaluate_bundle, evaluate_teacher

    if run.method == RANDOM:
        return evaluate_random(run.task, run.seed, episodes, split)
    path = Path(run.path)
    if run.method in TEACHER_METHODS:
        agent, _, _ = load_teacher(path, device)
        if run.task in BLOCK_TASKS:
            return evaluate_teacher(agent, run.task, episodes, split=split)
        env = make_task_env(run.task, split, "eval", render_image=False)
        carry: list = [None]

        def act(obs: dict) -> np.ndarray:
            action, carry[0] = agent.act(
                torch.as_tensor(obs["state"], device=agent.device)[None], carry[0], False
            )
            return action[0].cpu().numpy()

        try:
            return rollout(env, act, lambda: carry.__setitem__(0, None), episodes, EVAL_SEED)
        finally:
            env.close()
    if run.method in STUDENT_METHODS:
        if run.task in BLOCK_TASKS:
            return evaluate_bundle(path, episodes, split=split, device=device)
        from .policy import StudentPolicy

        policy = StudentPolicy.load(path, device=device)
        env = make_task_env(run.task, split, "eval", image_size=policy.spec.image_size)
        try:
            return rollout(env, lambda obs: policy.step(obs["image"]), policy.reset, episodes, EVAL_SEED)
        finally:
            env.close()
    agent, meta = load_baseline(path, device)
    return evaluate_agent(agent, run.task, episodes, meta["image_size"], split=split)


def recorded_result(run: RunSpec, episodes: int, split: str) -> dict:
    """The first `episodes` episodes of the run's stored `twist-eval --json` result.

    The record must be of the run's method (a bundle's record says "twist" for every student
    method, a teacher's "oracle" for every teacher method), task and split, and of the suite's
    episodes (episode i reset with EVAL_SEED + i), and hold at least `episodes` of them; anything
    else is an error naming the file and the field.
    """
    path = Path(run.record)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f"record {path} of {run.method}/{run.task}/{run.seed}: cannot read it ({err})"
        ) from err
    if not isinstance(data, dict):
        raise ValueError(f"record {path}: not a twist-eval result (a JSON object), got {type(data).__name__}")
    method = run.method
    if method in STUDENT_METHODS:
        method = "twist"
    elif method in TEACHER_METHODS:
        method = "oracle"
    for key, want in (("method", method), ("task", run.task), ("split", split), ("seed", EVAL_SEED)):
        if data.get(key) != want:
            raise ValueError(f"record {path}: {key} is {data.get(key)!r}, but the suite's run "
                             f"{run.method}/{run.task}/{run.seed} needs {want!r}")  # fmt: skip
    returns, successes = data.get("returns"), data.get("successes")
    if not isinstance(returns, list) or not isinstance(successes, list) or len(returns) != len(successes):
        raise ValueError(f"record {path}: needs lists 'returns' and 'successes' of equal length")
    if len(returns) < episodes:
        raise ValueError(f"record {path} holds {len(returns)} episodes; the suite evaluates {episodes}")
    return {
        "returns": [float(x) for x in returns[:episodes]],
        "successes": [bool(x) for x in successes[:episodes]],
    }


def evaluate_random(task: str, seed: int, episodes: int, split: str) -> dict:
    """The random-policy reference: uniform actions in [-1, 1] on the suite's episodes.

    Needs no images (render_image=False); the episodes are still the same, because DR and the
    task's initial state are drawn from the reset seed whether or not a frame is rendered.
    """
    from .baselines.envs import make_task_env

    env = make_task_env(task, split, "eval", render_image=False)
    rng = np.random.default_rng(seed)
    shape = env.action_space.shape
    try:
        return rollout(env, lambda obs: rng.uniform(-1.0, 1.0, shape).astype(np.float32), lambda: None,
                       episodes, EVAL_SEED)  # fmt: skip
    finally:
        env.close()


def add_random_reference(runs: list[RunSpec], seeds: int = 1) -> list[RunSpec]:
    """`runs` plus random-policy runs (seeds 0..seeds-1) for every task that has none."""
    if seeds <= 0:
        raise ValueError(f"random_seeds must be > 0, got {seeds}")
    covered = {r.task for r in runs if r.method == RANDOM}
    tasks = sorted({r.task for r in runs} - covered)
    return list(runs) + [RunSpec(RANDOM, task, seed, "") for task in tasks for seed in range(seeds)]


def read_raw(path: Path) -> list[dict]:
    """Rows of raw.csv with typed values (seed, episode int; return float; success bool)."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return [{"method": r["method"], "task": r["task"], "seed": int(r["seed"]), "episode": int(r["episode"]),
                 "return": float(r["return"]), "success": r["success"] in ("1", "True", "true")}
                for r in csv.DictReader(f)]  # fmt: skip


def write_raw(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RAW_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "success": int(bool(r["success"]))})
    atomic_write_bytes(Path(path), buf.getvalue().encode())


# --------------------------------------------------------------------------- aggregation


def task_table(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Table I: {task: {method: {"mean", "std", "n"}}} of episode returns (all seeds pooled)."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["method"])].append(r["return"])
    table: dict[str, dict[str, dict]] = defaultdict(dict)
    for (task, method), values in sorted(groups.items()):
        table[task][method] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}
    return dict(table)


def success_table(rows: list[dict], tasks: list[str]) -> dict[str, dict[str, dict]]:
    """{task: {method: {"rate", "low", "high", "n"}}} with 95% Wilson intervals, for `tasks`."""
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for r in rows:
        if r["task"] in tasks:
            groups[(r["task"], r["method"])].append(bool(r["success"]))
    table: dict[str, dict[str, dict]] = defaultdict(dict)
    for (task, method), values in sorted(groups.items()):
        low, high = wilson_interval(sum(values), len(values))
        table[task][method] = {"rate": float(np.mean(values)), "low": low, "high": high, "n": len(values)}
    return dict(table)


def run_scores(rows: list[dict]) -> dict[str, dict[str, dict[int, float]]]:
    """{method: {task: {seed: mean episode return}}}: one score per run, rliable's unit."""
    groups: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for r in rows:
        groups[(r["method"], r["task"], r["seed"])].append(r["return"])
    out: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for (method, task, seed), values in groups.items():
        out[method][task][seed] = float(np.mean(values))
    return out


def _references(scores: dict, reference: str, baseline: str) -> tuple[dict[str, float], dict[str, float]]:
    """({task: reference mean}, {task: baseline mean}) over all their seeds, on every reference task."""
    for name in (reference, baseline):
        if name not in scores:
            raise ValueError(f"no runs of the reference method {name!r} to normalise by")
    ref, base = {}, {}
    for task in sorted(scores[reference]):
        if task not in scores[baseline]:
            raise ValueError(f"no {baseline!r} runs on {task!r} to normalise by")
        ref[task] = float(np.mean(list(scores[reference][task].values())))
        base[task] = float(np.mean(list(scores[baseline][task].values())))
        # A reference no better than the baseline makes the scale zero or flips its sign.
        if ref[task] - base[task] <= 1e-8:
            raise ValueError(f"on {task!r} the {reference!r} mean return {ref[task]:.6g} is not above the "
                             f"{baseline!r} mean return {base[task]:.6g}; cannot normalise")  # fmt: skip
    return ref, base


def normalised_per_task(
    rows: list[dict], reference: str = "oracle", baseline: str = RANDOM
) -> dict[str, dict[str, dict]]:
    """{method: {task: {"mean", "seeds"}}}: (score - baseline) / (reference - baseline) of each run,
    averaged over the method's seeds on that task, for every task the reference ran."""
    scores = run_scores(rows)
    ref, base = _references(scores, reference, baseline)
    out: dict[str, dict[str, dict]] = {}
    for method, per_task in scores.items():
        for task in sorted(set(per_task) & set(ref)):
            values = [(v - base[task]) / (ref[task] - base[task]) for v in per_task[task].values()]
            out.setdefault(method, {})[task] = {"mean": float(np.mean(values)), "seeds": len(values)}
    return out


def normalised_score_matrices(
    rows: list[dict], reference: str = "oracle", baseline: str = RANDOM
) -> tuple[dict[str, np.ndarray], list[str]]:
    """(runs, tasks) matrix of (score - baseline) / (reference - baseline) per method.

    reference and baseline are the mean run scores of the two reference methods (Oracle and
    random policy) over all their seeds on each task the reference ran. Unlike score / reference
    this keeps the ranking when returns are negative (block push's distance-shaped reward). The
    tasks are those every aggregated method ran (so every method is aggregated over the same
    tasks), and a method's runs are its seeds present on all of them, in sorted order (rliable's
    stratified bootstrap resamples runs within each task). A method whose seeds differ from task
    to task, with none in common, is left out; nothing is zero-filled. Methods that ran fewer
    tasks than the rest are left out of the aggregate where that lets it cover more (method, task)
    results (`aggregate_tasks`; e.g. a method run on one task only).
    """
    out, tasks, _ = _normalised(rows, reference, baseline)
    return out, tasks


def _normalised(rows: list[dict], reference: str = "oracle", baseline: str = RANDOM):
    """normalised_score_matrices, and the methods left out of the aggregate (`aggregate_tasks`)."""
    scores = run_scores(rows)
    ref, base = _references(scores, reference, baseline)
    tasks, left_out = aggregate_tasks(scores, ref, keep=(reference, baseline))
    methods = {
        m: per_task for m, per_task in scores.items() if set(per_task) & set(ref) and m not in left_out
    }
    out = {}
    for method, per_task in methods.items():
        seeds = sorted(set.intersection(*(set(per_task[task]) for task in tasks)))
        if not seeds:
            continue
        columns = [
            (np.array([per_task[task][seed] for seed in seeds]) - base[task]) / (ref[task] - base[task])
            for task in tasks
        ]
        out[method] = np.stack(columns, axis=1)
    return out, tasks, left_out


def aggregate_tasks(scores: dict, ref: dict, keep: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(tasks, methods left out): the tasks of `ref` that every method kept ran.

    The aggregate covers as many (method, task) results as it can: starting from all methods,
    the method that ran the fewest of the tasks (then by name; never one of `keep`, the
    reference methods) is left out, one at a time, and of these candidates the one with the most
    methods x common tasks is taken (ties: the fewer left out). A method run on one task beside
    methods run on four is left out, and the aggregate is over the four."""
    ran = {m: set(per_task) & set(ref) for m, per_task in scores.items() if set(per_task) & set(ref)}
    left_out: list[str] = []
    best: tuple[int, list[str], list[str]] | None = None
    while True:
        kept = [m for m in ran if m not in left_out]
        tasks = sorted(set(ref).intersection(*(ran[m] for m in kept)))
        if tasks and (best is None or len(kept) * len(tasks) > best[0]):
            best = (len(kept) * len(tasks), tasks, list(left_out))
        candidates = [m for m in kept if m not in keep]
        if len(kept) <= 1 or not candidates:
            break
        left_out.append(min(candidates, key=lambda m: (len(ran[m]), m)))
    if best is None:
        raise ValueError(f"no task that every method ran, to aggregate over: {ran}")
    return best[1], best[2]


def interval_estimates(matrices: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, dict]:
    """IQM, median and mean with 95% stratified-bootstrap CIs (rliable) per method.

    Returns {method: {metric: {"value", "low", "high"}}}.
    """
    from rliable import library as rly
    from rliable import metrics

    names = ("IQM", "Median", "Mean")

    def aggregate(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x)])

    # rliable 1.2 passes a legacy RandomState on to arch, which warns about it on every call, but
    # its StratifiedBootstrap.update_indices draws the resamples from numpy's global generator
    # (np.random.choice), not from that state: the intervals are reproducible only with the global
    # generator seeded, so it is seeded here and put back afterwards.
    global_state = np.random.get_state()
    try:
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            point, interval = rly.get_interval_estimates(matrices, aggregate, reps=reps,
                                                         random_state=np.random.RandomState(seed))  # fmt: skip
    finally:
        np.random.set_state(global_state)
    return {
        method: {
            name: {
                "value": float(point[method][i]),
                "low": float(interval[method][0, i]),
                "high": float(interval[method][1, i]),
            }
            for i, name in enumerate(names)
        }  # fmt: skip
        for method in matrices
    }


def summarise(rows: list[dict], reps: int = 2000, seed: int = 0) -> dict:
    """Every aggregate the report shows, from raw rows."""
    from .baselines.envs import BLOCK_TASKS

    summary: dict = {"table": task_table(rows)}
    summary["success"] = success_table(rows, list(BLOCK_TASKS))
    methods = {r["method"] for r in rows}
    if "oracle" in methods:
        # Without a random reference (or with an Oracle no better than it) the reason is stored
        # instead of aggregates that would mislead.
        try:
            matrices, tasks, left_out = _normalised(rows)
        except ValueError as err:
            summary["normalised_skipped"] = str(err)
            return summary
        summary["normalised"] = {"tasks": tasks, "left_out": left_out,
                                 "scores": {m: v.tolist() for m, v in matrices.items()},
                                 "intervals": interval_estimates(matrices, reps, seed),
                                 "per_task": normalised_per_task(rows)}  # fmt: skip
    return summary


# --------------------------------------------------------------------------- CLI


def load_suite(path: Path) -> tuple[list[RunSpec], int, str]:
    """(runs, episodes, split) of a suite YAML; runs include the random reference runs."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    episodes, split = int(data.get("episodes", 20)), data.get("split", "heldout")
    if episodes <= 0:
        raise ValueError(f"suite episodes must be > 0, got {episodes}")
    if split not in ("train", "heldout"):
        raise ValueError(f"suite split must be 'train' or 'heldout', got {split!r}")
    runs = [
        RunSpec(
            r["method"],
            r["task"],
            int(r.get("seed", 0)),
            str(r["path"]),
            str(r.get("teacher", "")),
            str(r.get("record", "")),
        )
        for r in data.get("runs", [])
    ]
    if not runs:
        raise ValueError(f"{path} lists no runs")
    if any(r.method == RANDOM for r in runs):
        raise ValueError(
            f"{path}: the suite evaluates the {RANDOM!r} reference itself; set random_seeds instead"
        )
    return add_random_reference(runs, int(data.get("random_seeds", 1))), episodes, split


def run_fingerprint(run: RunSpec) -> str:
    """A hash of what a run's episodes depend on: its record, else the weights in its folder
    (top-level *.pt and *.safetensors: a teacher's or baseline's checkpoint, a bundle's tensors)."""
    from .bundle import file_sha256

    if run.method == RANDOM:
        return f"{RANDOM}:{run.seed}"
    files = [Path(run.record)] if run.record else sorted(
        f for f in Path(run.path).glob("*") if f.suffix in (".pt", ".safetensors") and f.is_file())  # fmt: skip
    return " ".join(f"{f.name}:{file_sha256(f)}" for f in files)


def _triple(method: str, task: str, seed: int) -> str:
    return f"{method}/{task}/{seed}"


def run_suite(runs: list[RunSpec], episodes: int, split: str, out: Path, device: str = "cpu",
              reps: int = 2000, progress: bool = True) -> dict:  # fmt: skip
    """Evaluate what raw.csv lacks, then write summary.json and runs.json. Returns the summary.

    Tasks without a random reference run get one (seed 0), so normalisation always has both ends.
    """
    from tqdm import tqdm

    runs = add_random_reference(runs)
    out.mkdir(parents=True, exist_ok=True)
    runs = export_students(runs, out)
    rows = read_raw(out / "raw.csv")
    prints_path = out / "fingerprints.json"
    prints = json.loads(prints_path.read_text()) if prints_path.is_file() else {}
    # Episodes of a run that changed since (or was never fingerprinted) are evaluated again.
    current = {_triple(r.method, r.task, r.seed): run_fingerprint(r) for r in runs}
    stale = {key for key, value in current.items() if prints.get(key) != value}
    rows = [r for r in rows if _triple(r["method"], r["task"], r["seed"]) not in stale]
    done = {(r["method"], r["task"], r["seed"]) for r in rows}
    for run in tqdm(runs, desc="eval suite", disable=not progress):
        if (run.method, run.task, run.seed) in done:
            continue
        result = (
            recorded_result(run, episodes, split)
            if run.record
            else evaluate_run(run, episodes, split, device)
        )
        rows += [{"method": run.method, "task": run.task, "seed": run.seed, "episode": i, "return": float(ret),
                  "success": bool(ok)} for i, (ret, ok) in enumerate(zip(result["returns"], result["successes"],
                                                                          strict=True))]  # fmt: skip
        write_raw(out / "raw.csv", rows)  # raw.csv first: a crash here leaves the fingerprint stale
        key = _triple(run.method, run.task, run.seed)
        prints[key] = current[key]
        atomic_write_bytes(prints_path, json.dumps(prints, indent=2, sort_keys=True).encode())
    summary = summarise(rows, reps)
    summary.update(episodes=episodes, split=split)
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    runs_meta = [
        {
            "method": r.method,
            "task": r.task,
            "seed": r.seed,
            "path": str(Path(r.path).resolve()) if r.method != RANDOM else None,
            "record": str(Path(r.record).resolve()) if r.record else None,
        }
        for r in runs
    ]
    atomic_write_bytes(out / "runs.json", json.dumps(runs_meta, indent=2).encode())
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate every method on the held-out split and aggregate.")
    parser.add_argument("--suite", required=True, type=Path, help="suite YAML (runs, episodes, split)")
    parser.add_argument("--out", required=True, type=Path, help="results directory (resumes if it exists)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs, episodes, split = load_suite(args.suite)
    summary = run_suite(runs, episodes, split, args.out, args.device, args.reps)
    print(json.dumps(summary["table"], indent=2))


if __name__ == "__main__":
    main()
