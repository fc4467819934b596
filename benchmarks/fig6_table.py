"""The Fig. 6 distillation ablation's table and figure, from scripts/fig6_ablation.sh's work directory.

    python benchmarks/fig6_table.py runs/fig6_block_lift [--out DIR]

Reads every WORK/<variant>_u<updates>_heldout_eval_<seed>.json (twist-eval --json with
--compare-teacher) and WORK/<variant>_u<updates>_run.yaml (the student's run.yaml at that budget),
and writes fig6.md and fig6.png to --out (default WORK). The variants are evaluated on the same
held-out episodes (same evaluation seeds), so each ablation's return is also compared with TWIST's at
the same budget episode by episode: the mean paired difference with a 95% bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

VARIANTS = ("twist", "twist_no_imagine", "twist_no_noise")
LABELS = {
    "twist": "TWIST",
    "twist_no_imagine": "w/o imagined distillation",
    "twist_no_noise": "w/o action noise",
}
RECORD = re.compile(r"(?P<variant>[a-z_]+)_u(?P<updates>\d+)_heldout_eval_(?P<seed>\d+)\.json")


def load(work: Path) -> dict[tuple[str, int], dict]:
    """{(variant, updates): {"records": {eval seed: record}, "run": run.yaml or {}}}."""
    found: dict[tuple[str, int], dict] = {}
    for path in sorted(Path(work).glob("*_heldout_eval_*.json")):
        match = RECORD.fullmatch(path.name)
        if match is None or match["variant"] not in VARIANTS:
            continue
        key = (match["variant"], int(match["updates"]))
        record = json.loads(path.read_text())
        missing = {"returns", "successes", "action_gap_to_teacher", "action_gap_of_zero_action"} - set(record)
        if missing:
            raise ValueError(f"{path}: not a twist-eval --compare-teacher record (no {sorted(missing)})")
        if key not in found:  # the student's run.yaml at this budget, once per (variant, updates)
            run = Path(work) / f"{key[0]}_u{key[1]}_run.yaml"
            found[key] = {
                "records": {},
                "run": (yaml.safe_load(run.read_text()) or {}) if run.is_file() else {},
            }
        found[key]["records"][int(match["seed"])] = record
    return found


def episode_returns(records: dict[int, dict]) -> np.ndarray:
    """All episodes' returns, in (evaluation seed, episode) order."""
    return np.concatenate([np.asarray(records[s]["returns"], dtype=float) for s in sorted(records)])


def paired_difference(records: dict[int, dict], reference: dict[int, dict], reps: int = 2000,
                      seed: int = 0) -> tuple[float, float, float]:  # fmt: skip
    """Mean of (return - reference return) over the same episodes, with a 95% bootstrap interval.

    The two must cover the same evaluation seeds and episode counts; where both kept the episodes'
    initial states, those must agree too (otherwise they were not the same episodes)."""
    if sorted(records) != sorted(reference):
        raise ValueError(f"evaluation seeds differ: {sorted(records)} against {sorted(reference)}")
    for s in records:
        a, b = records[s], reference[s]
        if len(a["returns"]) != len(b["returns"]):
            raise ValueError(f"seed {s}: {len(a['returns'])} episodes against {len(b['returns'])}")
        if (
            "initial_states" in a
            and "initial_states" in b
            and not np.allclose(a["initial_states"], b["initial_states"])
        ):
            raise ValueError(f"seed {s}: the episodes' initial states differ, not the same episodes")
    diff = episode_returns(records) - episode_returns(reference)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(reps, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def rows(found: dict[tuple[str, int], dict]) -> list[dict]:
    out = []
    for variant in VARIANTS:
        for updates in sorted(u for v, u in found if v == variant):
            entry = found[(variant, updates)]
            records = entry["records"]
            wins = sum(int(sum(r["successes"])) for r in records.values())
            n = sum(len(r["successes"]) for r in records.values())
            twist = found.get(("twist", updates))
            vs_twist = None
            if variant != "twist" and twist is not None:
                vs_twist = paired_difference(records, twist["records"])
            out.append({
                "variant": variant, "updates": updates, "successes": wins, "episodes": n,
                "return": float(episode_returns(records).mean()),
                "vs_twist": vs_twist,
                "action_gap": float(np.mean([r["action_gap_to_teacher"] for r in records.values()])),
                "zero_gap": float(np.mean([r["action_gap_of_zero_action"] for r in records.values()])),
                "belief_error_m": float(np.mean([r.get("belief_error_m", np.nan) for r in records.values()])),
                "wall_s": entry["run"].get("wall_s"),
                "seeds": sorted(records),
            })  # fmt: skip
    return out


def markdown(table: list[dict], task: str) -> str:
    lines = [
        f"Fig. 6 ablation on {task}, held-out split: students distilled from scratch from one teacher, on the "
        "same data with the same seed, evaluated on the same episodes (evaluation seeds "
        f"{', '.join(str(s) for s in sorted({s for r in table for s in r['seeds']}))}).",
        "",
        "| Variant | Updates | Successes | Return | Return - TWIST [95% CI] | Action gap (zero action) | "
        "Belief error (m) | Wall-clock (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        diff = "-" if r["vs_twist"] is None else "{:+.1f} [{:+.1f}, {:+.1f}]".format(*r["vs_twist"])
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
        lines.append(f"| {LABELS[r['variant']]} | {r['updates']} | {r['successes']}/{r['episodes']} | "
                     f"{r['return']:+.1f} | {diff} | {r['action_gap']:.3f} ({r['zero_gap']:.3f}) | "
                     f"{r['belief_error_m']:.3f} | {wall} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(table: list[dict], task: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    panels = (("return", "held-out return"), ("action_gap", "action gap to the teacher"),
              ("belief_error_m", "belief error (m)"))  # fmt: skip
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        for variant in VARIANTS:
            points = [r for r in table if r["variant"] == variant]
            if points:
                ax.plot(
                    [r["updates"] for r in points],
                    [r[key] for r in points],
                    marker="o",
                    label=LABELS[variant],
                )
        if key == "action_gap" and table:
            ax.axhline(np.mean([r["zero_gap"] for r in table]), color="grey", ls=":", label="zero action")
        ax.set_xlabel("distillation updates")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Fig. 6 ablation, {task} (held-out)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, help="scripts/fig6_ablation.sh's WORK directory")
    parser.add_argument("--out", type=Path, help="where fig6.md and fig6.png go (default: WORK)")
    args = parser.parse_args(argv)
    found = load(args.work)
    if not found:
        sys.exit(f"{args.work}: no <variant>_u<updates>_heldout_eval_<seed>.json records")
    tasks = {r["task"] for entry in found.values() for r in entry["records"].values()}
    if len(tasks) != 1:
        sys.exit(f"{args.work}: records of several tasks {sorted(tasks)}")
    (task,) = tasks
    table = rows(found)
    out = args.out or args.work
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(table, task)
    (out / "fig6.md").write_text(text)
    plot(table, task, out / "fig6.png")
    print(text)


if __name__ == "__main__":
    main()
