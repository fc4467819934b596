"""`twist-trial-report SESSION_DIR`: the operator's report of a trial session (ROS-free).

Reads what the trial manager wrote (session.csv and one rosbag2 MCAP bag per trial, decoded with
mcap-ros2-support, no rclpy) and writes into --out (default SESSION_DIR/report/):

- report.md: trials, success rate with its Wilson 95% interval, per-trial outcomes, latency;
- report.json: the same figures, for scripts;
- trial_NNN.png: a strip of camera frames from one trial above three plots: top-down paths of the
  true cube and end effector against the student's belief (the policy's belief markers), the
  belief error over the trial, and the image-to-command latency of every command.

Latency from a bag: each command is matched to the newest image stamped at or before the
command's own stamp (its receipt time for headerless commands), the frame it was computed from;
latency = the trial manager's receipt of the command over DDS minus that image's header stamp.
The sim twin's privileged cube position is in sim bags only; the true end-effector position is
the measured pose, so the end-effector belief is checked on a robot too.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from mcap_ros2.reader import read_ros2_messages
from tqdm import tqdm

from twist_deploy.images import MalformedImage, decode_image
from twist_deploy.trial import wilson_interval

FIGSIZE_IN = (12.0, 7.0)
DPI = 100
FIGURE_PX = (int(FIGSIZE_IN[0] * DPI), int(FIGSIZE_IN[1] * DPI))  # (width, height) of trial PNGs
EVALUATED = ("success", "failure", "error")  # aborted trials are not counted, as in the CSV


@dataclass(frozen=True)
class ReportConfig:
    """Topic names as recorded (config/deploy*.yaml defaults) and the strip's frame count."""

    image_topic: str = "/camera/camera/color/image_raw"
    pose_topic: str = "/current_pose"
    command_topic: str = "/target_pose"
    markers_topic: str = "/twist_policy/markers"
    cube_topic: str = "/twist_sim/cube_position"
    goal_topic: str = "/twist_sim/goal_position"
    strip_frames: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.strip_frames <= 16:
            raise ValueError(f"ReportConfig.strip_frames must be in [1, 16], got {self.strip_frames}")


@dataclass
class TrialBag:
    """One trial's bag as arrays. Times are seconds since the epoch; positions metres.

    image_stamps (I,); images: (stamp, uint8 (H, W, 3)) when kept; commands (N, 2): match time
    (command stamp, or receipt), receipt time; ee, cube, goal (K, 4): t, x, y, z of the truth;
    belief_ee, belief_cube (N, 4) from the markers; box: workspace (low, high) from the markers.
    """

    image_stamps: np.ndarray
    images: list[tuple[float, np.ndarray]]
    commands: np.ndarray
    ee: np.ndarray
    cube: np.ndarray
    goal: np.ndarray
    belief_ee: np.ndarray
    belief_cube: np.ndarray
    box: tuple[np.ndarray, np.ndarray] | None = None
    diagnostics: list[dict[str, str]] = field(default_factory=list)

    def latencies_ms(self) -> np.ndarray:
        return command_latencies_ms(self.image_stamps, self.commands)


def _sec(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def _xyz(t: float, p) -> list[float]:
    return [t, p.x, p.y, p.z]


def _array(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def read_bag(path: Path, cfg: ReportConfig, keep_images: bool = False) -> TrialBag:
    """Decode one trial's MCAP bag; images are kept (decoded to RGB) only when asked."""
    stamps, images, commands, diags = [], [], [], []
    series: dict[str, list[list[float]]] = {k: [] for k in ("ee", "cube", "goal", "belief_ee", "belief_cube")}
    box = None
    for m in read_ros2_messages(path):
        topic, msg, received = m.channel.topic, m.ros_msg, 1e-9 * m.log_time_ns
        if topic == cfg.image_topic:
            stamps.append(_sec(msg.header.stamp))
            if keep_images:
                try:
                    rgb = decode_image(
                        msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian
                    )
                except MalformedImage:
                    continue  # the policy node dropped it too
                images.append((stamps[-1], rgb))
        elif topic == cfg.command_topic:
            header = getattr(msg, "header", None)
            commands.append([_sec(header.stamp) if header is not None else received, received])
        elif topic == cfg.pose_topic:
            series["ee"].append(_xyz(_sec(msg.header.stamp), msg.pose.position))
        elif topic in (cfg.cube_topic, cfg.goal_topic):
            key = "cube" if topic == cfg.cube_topic else "goal"
            series[key].append(_xyz(_sec(msg.header.stamp), msg.point))
        elif topic == cfg.markers_topic:
            for marker in msg.markers:
                if marker.ns in ("belief_ee", "belief_cube"):
                    series[marker.ns].append(_xyz(_sec(marker.header.stamp), marker.pose.position))
                elif marker.ns == "workspace" and box is None and marker.points:
                    pts = np.array([[p.x, p.y, p.z] for p in marker.points])
                    box = (pts.min(axis=0), pts.max(axis=0))
        elif topic == "/diagnostics":
            for status in msg.status:
                if status.name == "twist_policy":
                    diags.append({kv.key: kv.value for kv in status.values})
    return TrialBag(
        image_stamps=np.asarray(stamps, dtype=np.float64),
        images=images,
        commands=np.asarray(commands, dtype=np.float64).reshape(-1, 2),
        box=box,
        diagnostics=diags,
        **{k: _array(v) for k, v in series.items()},
    )


def command_latencies_ms(image_stamps: np.ndarray, commands: np.ndarray) -> np.ndarray:
    """Receipt time minus the stamp of the newest image stamped at or before each command's
    match time, in ms (N,); commands before any image are skipped."""
    stamps = np.sort(image_stamps)
    idx = np.searchsorted(stamps, commands[:, 0], side="right") - 1
    ok = idx >= 0
    return 1e3 * (commands[ok, 1] - stamps[idx[ok]])


def truth_at(truth: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The newest truth sample (K, 4) at or before each time (N,) -> (N, 3); NaN before the first.

    A belief marker is stamped just after the step on its frame; the sim publishes state and frame
    with one stamp, so this is the state the frame showed."""
    out = np.full((len(times), 3), np.nan)
    if len(truth):
        order = np.argsort(truth[:, 0], kind="stable")
        t, xyz = truth[order, 0], truth[order, 1:]
        idx = np.searchsorted(t, times, side="right") - 1
        out[idx >= 0] = xyz[idx[idx >= 0]]
    return out


def belief_error_cm(belief: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Distance between each belief (N, 4) and the truth it describes, cm (N,)."""
    if not len(belief):
        return np.zeros(0)
    return 100.0 * np.linalg.norm(belief[:, 1:] - truth_at(truth, belief[:, 0]), axis=1)


def _percentiles(x: np.ndarray) -> dict[str, float | None]:
    if not x.size:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": int(x.size),
        "p50": float(np.percentile(x, 50)),
        "p99": float(np.percentile(x, 99)),
        "max": float(x.max()),
    }


def _median(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def find_session(path: Path) -> Path:
    """SESSION_DIR itself when it holds session.csv, else its newest session_* that does."""
    path = Path(path)
    if (path / "session.csv").is_file():
        return path
    sessions = sorted(p.parent for p in path.glob("session_*/session.csv"))
    if not sessions:
        raise FileNotFoundError(f"no session.csv in {path} nor in any {path}/session_*/")
    return sessions[-1]


def session_summary(rows: list[dict]) -> dict:
    """Success rate over evaluated trials with its Wilson 95% interval (the CSV's rule)."""
    evaluated = [r for r in rows if r["outcome"] in EVALUATED]
    k = sum(r["outcome"] == "success" for r in evaluated)
    lo, hi = wilson_interval(k, len(evaluated))
    rate = k / len(evaluated) if evaluated else None
    return {
        "trials": len(rows),
        "evaluated": len(evaluated),
        "successes": k,
        "success_rate": rate,
        "wilson_low": lo,
        "wilson_high": hi,
    }


def trial_figure(bag: TrialBag, cfg: ReportConfig, title: str) -> bytes:
    """The trial's PNG (FIGURE_PX): frame strip over paths, belief error and latency."""
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    grid = fig.add_gridspec(
        2, 1, height_ratios=(1.0, 2.1), hspace=0.12, left=0.065, right=0.98, top=0.9, bottom=0.08
    )
    fig.suptitle(title, fontsize=12)
    # The commanded span: from the frame of the first command to the receipt of the last one.
    t0, t_end = -np.inf, np.inf
    if len(bag.commands):
        before = bag.image_stamps[bag.image_stamps <= bag.commands[0, 0]]
        t0, t_end = (before.max() if before.size else bag.commands[0, 0]), bag.commands[-1, 1]
    elif bag.image_stamps.size:
        t0 = bag.image_stamps.min()
    shown = [(t, rgb) for t, rgb in bag.images if t0 <= t <= t_end]
    pick = (
        np.unique(np.linspace(0, len(shown) - 1, min(cfg.strip_frames, len(shown))).round().astype(int))
        if shown
        else []
    )
    strip = grid[0].subgridspec(1, cfg.strip_frames, wspace=0.04)
    frame_times = []
    for j, i in enumerate(pick):
        t, rgb = shown[i]
        ax = fig.add_subplot(strip[0, j])
        ax.imshow(rgb, interpolation="nearest")
        step = int(np.sum(bag.commands[:, 0] <= t + 1e-6)) if len(bag.commands) else 0
        ax.set_title(f"step {step}  t={t - t0:.1f}s", fontsize=8)
        ax.set_axis_off()
        frame_times.append(t - t0)

    panels = grid[1].subgridspec(1, 3, wspace=0.28, width_ratios=(1.05, 1.0, 1.0))
    top = fig.add_subplot(panels[0, 0])
    if bag.box is not None:
        (x0, y0, _), (x1, y1, _) = bag.box
        top.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="0.6", lw=1, label="workspace")
    lines = (
        (bag.ee, "tab:green", "-", "end effector (true)"),
        (bag.belief_ee, "tab:green", "--", "end effector (belief)"),
        (bag.cube, "tab:blue", "-", "cube (true)"),
        (bag.belief_cube, "tab:blue", "--", "cube (belief)"),
    )
    for data, color, style, label in lines:
        data = data[(data[:, 0] >= t0) & (data[:, 0] <= t_end)]
        if len(data):
            top.plot(
                data[:, 1], data[:, 2], color=color, ls=style, lw=1.6 if style == "-" else 1.2, label=label
            )
            top.plot(data[0, 1], data[0, 2], "o", color=color, ms=4)
            top.plot(data[-1, 1], data[-1, 2], "s", color=color, ms=5)
    if len(bag.goal):
        top.plot(bag.goal[-1, 1], bag.goal[-1, 2], "*", color="tab:red", ms=14, label="goal")
    top.set(xlabel="x (m)", ylabel="y (m)", title="top view (o start, \u25a0 end)")
    top.set_aspect("equal", adjustable="datalim")
    top.legend(fontsize=7, loc="best")
    top.grid(alpha=0.3)

    err = fig.add_subplot(panels[0, 1])
    for belief, truth, color, name in (
        (bag.belief_cube, bag.cube, "tab:blue", "cube"),
        (bag.belief_ee, bag.ee, "tab:green", "end effector"),
    ):
        e = belief_error_cm(belief, truth)
        if np.isfinite(e).any():
            err.plot(
                belief[:, 0] - t0, e, color=color, lw=1.2, label=f"{name} (median {np.nanmedian(e):.1f} cm)"
            )
    for t in frame_times:
        err.axvline(t, color="0.6", ls=":", lw=0.9)
    err.set(xlabel="time in trial (s)", ylabel="|belief - true| (cm)", title="student's belief error")
    err.set_ylim(bottom=0)
    if err.lines:
        err.legend(fontsize=7)
    err.grid(alpha=0.3)

    lat = fig.add_subplot(panels[0, 2])
    ms = bag.latencies_ms()
    if ms.size:
        lat.plot(np.arange(1, ms.size + 1), ms, ".", color="tab:purple", ms=3)
        for q, style in ((50, "-"), (99, "--")):
            v = np.percentile(ms, q)
            lat.axhline(v, color="0.3", ls=style, lw=1, label=f"p{q} {v:.1f} ms")
        lat.legend(fontsize=7)
        lat.set_ylim(bottom=0)
    lat.set(
        xlabel="command", ylabel="image stamp \u2192 command received (ms)", title="image-to-command latency"
    )
    lat.grid(alpha=0.3)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _fmt(x, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def build_report(
    session_dir: Path, out: Path | None = None, trial: int | None = None, cfg: ReportConfig | None = None
) -> dict:
    """Write report.md, report.json and the shown trial's PNG; returns the report as a dict."""
    cfg = cfg or ReportConfig()
    session = find_session(session_dir)
    out = Path(out) if out is not None else session / "report"
    out.mkdir(parents=True, exist_ok=True)
    with (session / "session.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    bags = {
        int(r["trial"]): session / f"trial_{int(r['trial']):03d}" / f"trial_{int(r['trial']):03d}_0.mcap"
        for r in rows
    }
    bags = {k: p for k, p in bags.items() if p.is_file()}
    if trial is None:  # the first success with a bag, else the first trial with one
        order = [int(r["trial"]) for r in rows if r["outcome"] == "success"] + [int(r["trial"]) for r in rows]
        trial = next((k for k in order if k in bags), None)
    elif trial not in bags:
        raise ValueError(f"trial {trial} has no bag in {session} (bags: {sorted(bags)})")
    summary = session_summary(rows)
    trials, all_ms, shown = [], [], None
    for r in tqdm(rows, desc="trial bags", unit="bag"):
        k = int(r["trial"])
        entry = {
            "trial": k,
            "outcome": r["outcome"],
            "steps": int(r["steps"]),
            "notes": r["notes"],
            "bag": k in bags,
        }
        entry["duration_s"] = float(r["end"]) - float(r["start"]) if r["end"] else None
        if k in bags:
            bag = read_bag(bags[k], cfg, keep_images=k == trial)
            ms = bag.latencies_ms()
            all_ms.append(ms)
            entry.update(
                commands=len(bag.commands),
                latency_ms=_percentiles(ms),
                belief_error_cm={
                    "cube_median": _median(belief_error_cm(bag.belief_cube, bag.cube)),
                    "ee_median": _median(belief_error_cm(bag.belief_ee, bag.ee)),
                },
                diagnostics=bag.diagnostics[-1] if bag.diagnostics else {},
            )
            if k == trial:
                shown = (bag, r)
        trials.append(entry)
    last_diag = next((t["diagnostics"] for t in reversed(trials) if t.get("diagnostics")), {})
    report = {
        "session": str(session),
        **summary,
        "latency_ms": _percentiles(np.concatenate(all_ms) if all_ms else np.zeros(0)),
        "policy_diagnostics": last_diag,
        "trials_detail": trials,
        "figure": None,
        "figure_trial": None,
    }
    if shown is not None:
        bag, r = shown
        name = f"trial_{trial:03d}.png"
        rate = f"{summary['successes']}/{summary['evaluated']} successes, Wilson 95% [{summary['wilson_low']:.2f}, {summary['wilson_high']:.2f}]"
        title = f"{session.name}  trial {trial}: {r['outcome']} ({r['steps']} steps)   |   session: {rate}"
        _atomic_write(out / name, trial_figure(bag, cfg, title))
        report["figure"], report["figure_trial"] = name, trial
    _atomic_write(out / "report.json", json.dumps(report, indent=2).encode())
    _atomic_write(out / "report.md", markdown(report).encode())
    return report


def markdown(rep: dict) -> str:
    rate = "-" if rep["success_rate"] is None else f"{rep['success_rate']:.3f}"
    lat, diag = rep["latency_ms"], rep["policy_diagnostics"]
    lines = [
        f"# Trial report: {Path(rep['session']).name}",
        "",
        f"Session: `{rep['session']}`",
        "",
        "## Success rate",
        "",
        f"**{rep['successes']} / {rep['evaluated']}** evaluated trials succeeded: rate **{rate}**, "
        f"Wilson 95% interval **[{rep['wilson_low']:.3f}, {rep['wilson_high']:.3f}]** "
        f"({rep['trials']} trials; aborted trials are not counted, errors count as failures).",
        "",
        "## Trials",
        "",
        "| trial | outcome | steps | duration (s) | commands in bag | latency p50 / p99 (ms) | belief error cube / ee, median (cm) | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in rep["trials_detail"]:
        lm, be = t.get("latency_ms", {}), t.get("belief_error_cm", {})
        lines.append(
            f"| {t['trial']} | {t['outcome']} | {t['steps']} | {_fmt(t['duration_s'])} | {t.get('commands', 'no bag')} | "
            f"{_fmt(lm.get('p50'))} / {_fmt(lm.get('p99'))} | {_fmt(be.get('cube_median'))} / {_fmt(be.get('ee_median'))} | {t['notes']} |"
        )
    if rep["figure"]:
        k = rep["figure_trial"]
        lines += [
            "",
            f"## Trial {k}",
            "",
            f"![trial {k}]({rep['figure']})",
            "",
            "Top: camera frames evenly spaced over the trial (the policy's input). Below: top view of the true "
            "cube and end-effector paths (solid; cube from the sim's privileged state, end effector from the "
            "measured pose) against the student's belief (dashed: the teacher's state decoder on the "
            "student's latent, as drawn in RViz); the belief error over the trial (grey lines: the frames "
            "above); the image-to-command latency of each command.",
        ]
    lines += [
        "",
        "## Latency",
        "",
        f"Image-to-command, from the bags (image header stamp to the command's receipt by the trial manager "
        f"over DDS), {lat['n']} commands: p50 **{_fmt(lat['p50'], '.2f')} ms**, p99 **{_fmt(lat['p99'], '.2f')} ms**, "
        f"max {_fmt(lat['max'], '.2f')} ms.",
        "",
        "From the policy node's last `/diagnostics` (counters since the node started; its latency is a frame's "
        "stamp to the start of the control tick that used it, before the model step, over its last 200 commands):",
        "",
        "| latency p50 (ms) | latency max (ms) | images | commands | dropped frames | malformed frames | stale ticks |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        "| "
        + " | ".join(
            diag.get(k) or "-"
            for k in (
                "latency_ms_p50",
                "latency_ms_max",
                "images",
                "commands",
                "dropped_frames",
                "malformed_frames",
                "stale_ticks",
            )
        )
        + " |",
    ]
    if diag.get("malformed_reasons"):
        lines += ["", f"Malformed frames by reason: {diag['malformed_reasons']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="twist-trial-report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "session_dir", type=Path, help="a session_* folder, or the folder holding them (newest is used)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: SESSION/report)")
    parser.add_argument(
        "--trial", type=int, help="trial shown in the figure (default: first success with a bag)"
    )
    parser.add_argument("--frames", type=int, default=ReportConfig.strip_frames, help="frames in the strip")
    args = parser.parse_args(argv)
    try:
        rep = build_report(args.session_dir, args.out, args.trial, ReportConfig(strip_frames=args.frames))
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"twist-trial-report: {exc}\n")
    out = Path(args.out) if args.out else Path(rep["session"]) / "report"
    print(
        json.dumps(
            {
                k: rep[k]
                for k in ("successes", "evaluated", "success_rate", "wilson_low", "wilson_high", "latency_ms")
            }
        )
    )
    print(f"[twist-trial-report] wrote {out / 'report.md'}")
