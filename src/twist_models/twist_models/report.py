"""Build the paper's tables and plots from stored results.

    twist-report --results results/ [--out results/report]

Reads what twist-eval-suite wrote (raw.csv, runs.json) and each run's own records
(eval.jsonl or TensorBoard `eval/return`, run.yaml), never re-evaluating anything. Writes:

- figures/intervals.png: Fig. 2 style interval estimates (IQM, median, mean of the
  Oracle-normalised score with 95% stratified-bootstrap CIs, rliable's plot).
- figures/per_task.png: Table I as bars (mean and std of the held-out return per task).
- figures/curves_steps.png, figures/curves_wall.png: task score during training against env
  steps and against wall-clock, one panel per task (see CURVES_NOTE for which curve is which).
- figures/distill.png: the TWIST student's distillation loss (TensorBoard `distil/loss` of the
  student run) against updates and against wall-clock.
- report.md and a self-contained report.html (figures embedded) with Table I, each training
  seed's held-out return, the success rates with Wilson intervals, the normalised scores per task
  and aggregated, and the compute each run used.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .checkpoint import atomic_write_bytes, lineage_of  # noqa: E402
from .eval_suite import STUDENT_METHODS, read_raw, run_scores, summarise  # noqa: E402

METHOD_ORDER = ("oracle", "oracle_value_bound", "twist", "twist_dagger", "twist_no_imagine", "twist_no_noise",
                "dreamer_dr", "dreamer_nodr", "state_recon", "asym_sac", "random")  # fmt: skip
METHOD_LABELS = {"oracle": "Oracle", "oracle_value_bound": "Oracle + value bound (not in the paper)",
                 "twist": "TWIST", "twist_dagger": "TWIST + DAgger (not in the paper)",
                 "twist_no_imagine": "TWIST w/o imagined distillation",
                 "twist_no_noise": "TWIST w/o action noise", "dreamer_dr": "Dreamer w/ DR",
                 "dreamer_nodr": "Dreamer w/o DR", "state_recon": "Dreamer State Recon",
                 "asym_sac": "Asymmetric SAC", "random": "Random"}  # fmt: skip
TEACHER_LABEL = "Oracle (TWIST's teacher, on state)"
TWIST_POINT_LABEL = "TWIST (held-out, after distillation)"
DISTIL_TAG = "distil/loss"
CURVES_NOTE = (
    "Which curve is which: a baseline's line is its periodic held-out evaluation on images (its "
    "eval.jsonl). The Oracle line is the teacher's periodic evaluation on privileged state (its "
    "eval.jsonl; twist-train-teacher evaluates on the training split). TWIST trains no policy in the "
    "environment: its student is distilled offline from the teacher's dataset, so TWIST has no task-score "
    "curve of its own. Its teacher's curve is drawn as the Oracle curve, and TWIST itself is one star: the "
    "bundle's held-out mean return (raw.csv) at the teacher's env steps (distillation collects none) and "
    "at teacher plus distillation wall-clock. A shipped bundle's teacher may be another run than the "
    "Oracle drawn (its training/teacher_run.yaml says which): its star stands at that teacher's env "
    "steps, and only in the env-steps plot when no distillation wall-clock was recorded. The student's "
    "learning curve is its distillation loss (figures/distill.png).")  # fmt: skip


def _ordered(methods) -> list[str]:
    methods = set(methods)
    return [m for m in METHOD_ORDER if m in methods] + sorted(methods - set(METHOD_ORDER))


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _colours(methods: list[str]) -> dict[str, tuple]:
    palette = plt.get_cmap("tab10")
    return {
        m: palette(METHOD_ORDER.index(m) if m in METHOD_ORDER else 6 + i % 4) for i, m in enumerate(methods)
    }


# --------------------------------------------------------------------------- run records


def learning_curve(run_dir: Path) -> dict[str, np.ndarray] | None:
    """{"env_steps", "wall_s", "return"} arrays from RUN/eval.jsonl, else TensorBoard eval/return."""
    path = Path(run_dir) / "eval.jsonl"
    if path.is_file():
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if lines:
            return {
                k: np.array([float(x.get(k, np.nan)) for x in lines])
                for k in ("env_steps", "wall_s", "return")
            }
    tb = Path(run_dir) / "tb"
    if tb.is_dir():
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
        acc.Reload()
        if "eval/return" in acc.Tags().get("scalars", []):
            events = acc.Scalars("eval/return")
            start = min(e.wall_time for e in events)
            return {"env_steps": np.array([e.step for e in events], float),
                    "wall_s": np.array([e.wall_time - start for e in events]),
                    "return": np.array([e.value for e in events])}  # fmt: skip
    return None


def distillation_curve(student_run: Path, tag: str = DISTIL_TAG) -> dict[str, np.ndarray] | None:
    """{"updates", "wall_s", "loss"} of a twist-distill run, from its TensorBoard events (RUN/tb).

    Every twist-distill session (the first and each resume) writes its own event file. Wall-clock
    is summed over sessions, each counted from its first logged update, so time between sessions
    is left out. Updates a resumed session logs again (those after the interrupted session's last
    checkpoint) replace the earlier points, as TensorBoard itself does.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sessions = []
    for path in sorted((Path(student_run) / "tb").glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        if tag in acc.Tags().get("scalars", []) and acc.Scalars(tag):
            sessions.append(acc.Scalars(tag))
    if not sessions:
        return None
    points: list[tuple[float, float, float]] = []  # (updates, wall_s, loss)
    offset = 0.0
    for events in sorted(sessions, key=lambda ev: ev[0].wall_time):
        points = [p for p in points if p[0] < events[0].step]
        start = events[0].wall_time
        points += [(float(e.step), offset + e.wall_time - start, float(e.value)) for e in events]
        offset = points[-1][1]
    updates, wall, loss = (np.array(x) for x in zip(*points, strict=True))
    return {"updates": updates, "wall_s": wall, "loss": loss}


def twist_sources(bundle_dir: Path) -> tuple[Path | None, Path | None]:
    """(teacher run, student run) a TWIST bundle was exported from, per its bundle.yaml provenance;
    None for a run that is not recorded, no longer exists, or has moved on since the export (a
    teacher with other env steps, a student with other updates than the provenance records: a run
    trained further after the bundle was made describes a different policy)."""
    path = Path(bundle_dir) / "bundle.yaml"
    provenance = ((yaml.safe_load(path.read_text()) or {}).get("provenance") or {}) if path.is_file() else {}

    def existing(key: str, count: str, recorded: str) -> Path | None:
        value = provenance.get(key)
        if not value or not Path(value).is_dir():
            return None
        expected, now = provenance.get(recorded), _read_meta(Path(value)).get(count)
        return None if expected is not None and now is not None and int(now) != int(expected) else Path(value)

    return (existing("teacher_run", "env_steps", "teacher_env_steps"),
            existing("student_run", "updates", "student_updates"))  # fmt: skip


def _read_meta(path: Path) -> dict:
    for name in ("run.yaml", "bundle.yaml"):
        if (path / name).is_file():
            return _read_yaml(path / name)
    return {}


def compute_used(run: dict) -> dict:
    """Env steps, updates, wall-clock and device of one run, from whatever it recorded.

    TWIST's compute is its teacher's training plus the student's distillation: env steps are the
    teacher's (distillation collects none), updates "teacher + student", wall-clock the sum. The
    runs are found through the bundle's provenance; where those are gone (a shipped bundle on
    another machine) or have trained on since the export, through the copies of their run.yaml a
    shipped bundle keeps in training/.
    """
    path = Path(run["path"])
    info = {"method": run["method"], "task": run["task"], "seed": run["seed"]}
    if run["method"] in STUDENT_METHODS:
        teacher, student = twist_sources(path)
        shipped = path / "training"
        if teacher is not None and (student is not None or not (shipped / "teacher_run.yaml").is_file()):
            own = _own_compute(_read_meta(teacher), learning_curve(teacher))
            student_meta = _read_meta(student) if student is not None else {}
            curve = distillation_curve(student) if student is not None else None
            distil_wall = float(curve["wall_s"][-1]) if curve is not None else _recorded_wall(student_meta)
            lineage = lineage_of(student_meta)
        else:
            teacher_meta = _read_yaml(shipped / "teacher_run.yaml")
            if not teacher_meta:
                return {**info, "env_steps": None, "updates": None, "wall_s": None, "device": None}
            own = _own_compute(teacher_meta, None)
            student_meta = _read_yaml(shipped / "student_run.yaml")
            distil_wall = _recorded_wall(student_meta)
            provenance = _read_yaml(path / "bundle.yaml").get("provenance") or {}
            lineage = provenance.get("student_init_lineage")
            if lineage is None:  # bundles exported before lineages were recorded: their run.yaml copy
                lineage = lineage_of(student_meta)
        updates, wall = _with_lineage(student_meta.get("updates"), distil_wall, lineage)
        info.update(env_steps=own["env_steps"], device=own["device"], updates=f"{_fmt(own['updates'])} + {updates}",
                    wall_s=own["wall_s"] + wall if own["wall_s"] is not None and wall is not None else None)  # fmt: skip
        return info
    info.update(_own_compute(_read_meta(path), learning_curve(path)))
    return info


def _with_lineage(updates, wall_s: float | None, lineage: list[dict]) -> tuple[str, float | None]:
    """A student's distillation updates (as text) and wall-clock, its --init-from ancestors'
    included: "35355 (4740 + 30615 inherited)"; "4740 + ? inherited" where an ancestor's compute
    is not known (its wall-clock is then None)."""
    if not lineage:
        return _fmt(updates), wall_s
    known = [a for a in lineage if a.get("updates") is not None]
    walls = [a.get("wall_s") for a in lineage]
    wall = wall_s + sum(walls) if wall_s is not None and None not in walls else None
    if updates is None or len(known) < len(lineage):
        return f"{_fmt(updates)} + ? inherited", None
    inherited = sum(int(a["updates"]) for a in lineage)
    return f"{int(updates) + inherited} ({int(updates)} + {inherited} inherited)", wall


def _read_yaml(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def _recorded_wall(meta: dict) -> float | None:
    """A run's wall-clock as its run.yaml records it (compute.wall_s, else wall_s), or None."""
    wall = meta.get("compute", {}).get("wall_s", meta.get("wall_s"))
    return float(wall) if wall is not None else None


def _own_compute(meta: dict, curve: dict | None) -> dict:
    """{"env_steps", "updates", "wall_s", "device"} of a teacher or baseline from its run.yaml,
    the wall-clock from its learning curve when the run.yaml has none."""
    compute = meta.get("compute", {})
    wall = _recorded_wall(meta)
    if wall is None and curve is not None:
        wall = float(curve["wall_s"][-1])
    device = compute.get("device_name") or compute.get("device") or meta.get("preset", {}).get("device")
    return {
        "env_steps": meta.get("env_steps"),
        "updates": meta.get("updates"),
        "wall_s": wall,
        "device": device,
    }


# --------------------------------------------------------------------------- figures


def plot_intervals(intervals: dict[str, dict], path: Path) -> None:
    from rliable import plot_utils

    methods = _ordered(intervals)
    metrics = list(next(iter(intervals.values())))
    point = {_label(m): np.array([intervals[m][k]["value"] for k in metrics]) for m in methods}
    ci = {_label(m): np.array([[intervals[m][k]["low"] for k in metrics], [intervals[m][k]["high"] for k in metrics]])
          for m in methods}  # fmt: skip
    colours = {_label(m): c for m, c in _colours(methods).items()}
    fig, _ = plot_utils.plot_interval_estimates(point, ci, metric_names=metrics, algorithms=[_label(m) for m in methods],
                                                colors=colours, xlabel="normalised score (0 = random, 1 = Oracle)",
                                                subfigure_width=3.6, row_height=0.5,
                                                xlabel_y_coordinate=-0.3)  # fmt: skip
    fig.suptitle("Held-out evaluation: aggregates with 95% stratified-bootstrap CIs", y=1.2, fontsize=11)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_per_task(table: dict[str, dict[str, dict]], path: Path) -> None:
    tasks = sorted(table)
    methods = _ordered({m for t in tasks for m in table[t]})
    colours = _colours(methods)
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        present = [m for m in methods if m in table[task]]
        means = [table[task][m]["mean"] for m in present]
        stds = [table[task][m]["std"] for m in present]
        ax.bar(range(len(present)), means, yerr=stds, color=[colours[m] for m in present], capsize=3)
        ax.set_xticks(range(len(present)), [_label(m) for m in present], rotation=35, ha="right", fontsize=8)
        ax.set_title(task)
        ax.set_ylabel("held-out return (mean ± std)")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def curve_lines(runs: list[dict], scores: dict) -> list[dict]:
    """What the task-score plots draw (CURVES_NOTE): {"task", "method", "label", "curve"} lines
    and, for TWIST, {"task", "method": "twist", "point": {"env_steps", "wall_s", "return"}}.

    A curve is drawn once per task, however many runs name it: the same run directory, or a copy
    of it (a teacher snapshot and the copy a student was distilled from read the same eval.jsonl).
    A TWIST bundle whose teacher run is not here (a shipped bundle) still gets its star, at the
    env steps and wall-clock its training/ copies record."""
    lines, drawn = [], set()

    def first_time(task: str, path: Path, curve: dict) -> bool:
        keys = {path, (task, curve["env_steps"].tobytes(), curve["return"].tobytes())}
        new = not keys & drawn
        drawn.update(keys)
        return new

    for run in runs:
        if run["method"] == "random" or not run.get("path"):
            continue
        path = Path(run["path"]).resolve()
        if run["method"] != "twist":
            curve = learning_curve(path)
            if curve is not None and first_time(run["task"], path, curve):
                lines.append({"task": run["task"], "method": run["method"], "label": _label(run["method"]),
                              "curve": curve})  # fmt: skip
            continue
        held_out = scores.get("twist", {}).get(run["task"], {}).get(run["seed"])
        teacher, student = twist_sources(path)
        curve = learning_curve(teacher) if teacher is not None else None
        if curve is None:
            used = compute_used(run)
            if held_out is not None and used["env_steps"] is not None:
                wall = used["wall_s"] if used["wall_s"] is not None else np.nan
                lines.append({"task": run["task"], "method": "twist", "point": {
                    "env_steps": float(used["env_steps"]), "wall_s": wall, "return": held_out}})  # fmt: skip
            continue
        if first_time(run["task"], teacher.resolve(), curve):  # usually the suite's Oracle run already
            lines.append({"task": run["task"], "method": "oracle", "label": TEACHER_LABEL, "curve": curve})
        distil = distillation_curve(student) if student is not None else None
        if held_out is not None:
            wall = curve["wall_s"][-1] + (distil["wall_s"][-1] if distil is not None else np.nan)
            lines.append({"task": run["task"], "method": "twist", "point": {
                "env_steps": curve["env_steps"][-1], "wall_s": wall, "return": held_out}})  # fmt: skip
    return lines


def plot_curves(lines: list[dict], x_key: str, xlabel: str, path: Path) -> bool:
    """One panel per task: curve_lines' lines and TWIST stars. False when there is no curve."""
    if not any("curve" in line for line in lines):
        return False
    tasks = sorted({line["task"] for line in lines if "curve" in line})
    colours = _colours(_ordered({line["method"] for line in lines}))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks) + 1, 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        labelled = set()
        for line in lines:
            if line["task"] != task:
                continue
            name = line.get("label", TWIST_POINT_LABEL)
            label = None if name in labelled else name
            labelled.add(name)
            if "curve" in line:
                ax.plot(line["curve"][x_key], line["curve"]["return"], marker="o", ms=3,
                        ls="--" if name == TEACHER_LABEL else "-", color=colours[line["method"]], label=label)  # fmt: skip
            elif np.isfinite(line["point"][x_key]):
                ax.plot([line["point"][x_key]], [line["point"]["return"]], marker="*", ms=14, ls="none",
                        color=colours["twist"], label=label)  # fmt: skip
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        if x_key == "env_steps":  # 10K, not 10000: five-digit ticks run into each other
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda v, _: f"{v / 1000:g}K" if abs(v) >= 1000 else f"{v:g}")
            )
        ax.set_ylabel("evaluation return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_distillation(runs: list[dict], path: Path) -> bool:
    """The TWIST students' distillation loss against updates and wall-clock. False if none."""
    curves = []
    for run in runs:
        if run["method"] == "twist":
            student = twist_sources(Path(run["path"]))[1]
            curve = distillation_curve(student) if student is not None else None
            if curve is not None:
                curves.append((f"{run['task']} seed {run['seed']}", curve))
    if not curves:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    for ax, x_key, xlabel in zip(axes, ("updates", "wall_s"), ("distillation updates", "wall-clock (s)"),
                                 strict=True):  # fmt: skip
        for label, curve in curves:
            ax.plot(curve[x_key], curve["loss"], marker="o", ms=3, label=label)
        if all((c["loss"] > 0).all() for _, c in curves):
            ax.set_yscale("log")  # KL + MSE terms: positive, falling over orders of magnitude
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"student {DISTIL_TAG}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("TWIST student: distillation loss (TensorBoard of the student run)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------- tables


def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def seed_rows(scores: dict, runs: list[dict]) -> list[list[str]]:
    """Rows of the per-seed table: method, task, each seed's mean return, mean ± std across seeds,
    and whether the episodes were evaluated by the suite or read from a stored record."""
    recorded = {(r["method"], r["task"], r["seed"]) for r in runs if r.get("record")}
    rows = []
    for method in _ordered(scores):
        for task in sorted(scores[method]):
            per_seed = scores[method][task]
            values = [per_seed[s] for s in sorted(per_seed)]
            sources = {"record" if (method, task, s) in recorded else "evaluated" for s in per_seed}
            rows.append([_label(method), task, ", ".join(f"{s}: {per_seed[s]:.1f}" for s in sorted(per_seed)),
                         f"{np.mean(values):.1f} ± {np.std(values):.1f}" if len(values) > 1 else "-",
                         " + ".join(sorted(sources))])  # fmt: skip
    return rows


def build_tables(summary: dict, compute: list[dict], seeds: list[list[str]] | None = None
                 ) -> list[tuple[str, list[str], list[list[str]]]]:  # fmt: skip
    """(title, header, rows) for every table of the report."""
    tables = []
    table = summary["table"]
    tasks = sorted(table)
    methods = _ordered({m for t in tasks for m in table[t]})
    rows = [[_label(m)] + [f"{table[t][m]['mean']:.1f} ± {table[t][m]['std']:.1f}" if m in table[t] else "-"
                           for t in tasks] for m in methods]  # fmt: skip
    tables.append(
        ("Table I: held-out return, mean ± std over episodes (all seeds)", ["Method"] + tasks, rows)
    )
    if seeds:
        tables.append(("Held-out return per training seed (mean over its episodes); mean ± std across seeds",
                       ["Method", "Task", "Seed: return", "Across seeds", "Episodes"], seeds))  # fmt: skip
    success = summary.get("success", {})
    if success:
        s_tasks = sorted(success)
        s_methods = _ordered({m for t in s_tasks for m in success[t]})
        rows = [[_label(m)] + [f"{success[t][m]['rate']:.2f} [{success[t][m]['low']:.2f}, {success[t][m]['high']:.2f}]"
                               if m in success[t] else "-" for t in s_tasks] for m in s_methods]  # fmt: skip
        tables.append(("Success rate [95% Wilson interval]", ["Method"] + s_tasks, rows))
    norm = summary.get("normalised")
    if norm:
        metrics = list(next(iter(norm["intervals"].values())))
        rows = [[_label(m)] + [f"{v[k]['value']:.3f} [{v[k]['low']:.3f}, {v[k]['high']:.3f}]" for k in metrics]
                for m, v in ((m, norm["intervals"][m]) for m in _ordered(norm["intervals"]))]  # fmt: skip
        per_task = norm.get("per_task") or {}
        if per_task:
            n_tasks = sorted({t for v in per_task.values() for t in v})
            cells = [[_label(m)] + [f"{per_task[m][t]['mean']:.3f} ({per_task[m][t]['seeds']})" if t in per_task[m]
                                    else "-" for t in n_tasks] for m in _ordered(per_task)]  # fmt: skip
            tables.append(("Normalised score (score - random) / (Oracle - random) per task, mean over seeds "
                           "(number of seeds)", ["Method"] + n_tasks, cells))  # fmt: skip
        title = (f"Normalised score aggregated over {', '.join(norm['tasks'])}, the tasks every method ran "
                 "[95% bootstrap CI]")  # fmt: skip
        if norm.get("left_out"):
            title += f" (left out, for want of those tasks: {', '.join(_label(m) for m in norm['left_out'])})"
        tables.append((title, ["Method"] + metrics, rows))
    if compute:
        rows = [[_label(c["method"]), c["task"], str(c["seed"]), _fmt(c["env_steps"]), _fmt(c["updates"]),
                 _fmt(c["wall_s"], 0), _fmt(c["device"])] for c in compute]  # fmt: skip
        tables.append(("Compute used per run", ["Method", "Task", "Seed", "Env steps", "Updates", "Wall-clock (s)",
                                                "Device"], rows))  # fmt: skip
    return tables


def to_markdown(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_html(title: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<h3>{html.escape(title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --------------------------------------------------------------------------- composition


def build_report(results: Path, out: Path, reps: int = 2000) -> dict[str, Path]:
    """Write figures, report.md and report.html under `out`. Returns the written paths."""
    rows = read_raw(results / "raw.csv")
    if not rows:
        raise ValueError(f"{results / 'raw.csv'} holds no results; run twist-eval-suite first")
    summary_path = results / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else summarise(rows, reps)
    runs = json.loads((results / "runs.json").read_text()) if (results / "runs.json").is_file() else []
    # Relative run paths are relative to the results directory, so a results folder can move.
    runs = [{**r, "path": str(results / r["path"]) if r.get("path") else None} for r in runs]
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    plot_per_task(summary["table"], figures / "per_task.png")
    written["per_task"] = figures / "per_task.png"
    if summary.get("normalised"):
        plot_intervals(summary["normalised"]["intervals"], figures / "intervals.png")
        written["intervals"] = figures / "intervals.png"
    lines = curve_lines(runs, run_scores(rows))
    for key, x_key, xlabel in (
        ("curves_steps", "env_steps", "env steps"),
        ("curves_wall", "wall_s", "wall-clock (s)"),
    ):
        if plot_curves(lines, x_key, xlabel, figures / f"{key}.png"):
            written[key] = figures / f"{key}.png"
    if plot_distillation(runs, figures / "distill.png"):
        written["distill"] = figures / "distill.png"
    tables = build_tables(summary, [compute_used(r) for r in runs if r["method"] != "random" and r["path"]],
                          seed_rows(run_scores(rows), runs))  # fmt: skip

    aggregated = ", ".join(summary.get("normalised", {}).get("tasks", []))
    captions = {"intervals": f"Aggregate held-out performance (Fig. 2 style), over {aggregated}", "per_task": "Held-out return per task",
                "curves_steps": "Task score during training vs env steps",
                "curves_wall": "Task score during training vs wall-clock",
                "distill": "TWIST student: distillation loss vs updates and wall-clock"}  # fmt: skip
    notes = {"curves_steps": CURVES_NOTE}
    intro = (f"Held-out evaluation: {summary.get('episodes', '?')} episodes per (method, task, seed) on the "
             f"`{summary.get('split', 'heldout')}` split with evaluation-mode DR; raw per-episode results in raw.csv.")  # fmt: skip
    records = [r for r in runs if r.get("record")]
    if records:
        intro += (f" {len(records)} run(s) were not evaluated again: their episodes (the same ones) come from the "
                  "twist-eval record named in runs.json, because their weights were not kept (column Episodes).")  # fmt: skip
    md = ["# TWIST evaluation report", "", intro, ""]
    md += [to_markdown(*t) for t in tables]
    md += [f"### {captions[k]}\n\n" + (f"{notes[k]}\n\n" if k in notes else "") + f"![{k}](figures/{p.name})\n"
           for k, p in written.items()]  # fmt: skip
    atomic_write_bytes(out / "report.md", "\n".join(md).encode())

    def embed(p: Path) -> str:
        return "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode()

    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}")  # fmt: skip
    body = [f"<h1>TWIST evaluation report</h1><p>{html.escape(intro)}</p>"]
    body += [to_html(*t) for t in tables]
    body += [f"<h3>{html.escape(captions[k])}</h3><p>{html.escape(notes.get(k, ''))}</p><img alt='{k}' src='{embed(p)}'>"
             for k, p in written.items()]  # fmt: skip
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>TWIST report</title><style>{style}</style></head>"
    atomic_write_bytes(out / "report.html", (page + "<body>" + "".join(body) + "</body></html>").encode())
    written.update(markdown=out / "report.md", html=out / "report.html")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Build the TWIST tables, plots and report from stored results."
    )
    parser.add_argument("--results", required=True, type=Path, help="twist-eval-suite output directory")
    parser.add_argument("--out", type=Path, help="report directory (default RESULTS/report)")
    parser.add_argument(
        "--reps", type=int, default=2000, help="bootstrap resamples if summary.json is missing"
    )
    args = parser.parse_args(argv)
    written = build_report(args.results, args.out or args.results / "report", args.reps)
    print(json.dumps({k: str(v) for k, v in written.items()}, indent=2))


if __name__ == "__main__":
    main()
