#!/usr/bin/env bash
# The distillation ablation of the paper's Fig. 6 at a fixed update budget: three students distilled
# from scratch from the same teacher, on the same data, with the same seed and number of updates:
# TWIST, TWIST without imagined distillation (--no-imagine) and without action noise on the
# imagined actions (--no-action-noise). Each is exported and evaluated on the held-out split against
# its teacher (success, return, action gap, belief error); the table is printed and written to
# WORK/fig6.md. Called again with a larger UPDATES it continues the same students and adds the new
# budget's rows, so the table follows each variant over updates, like the figure.
#
#   TEACHER=runs/continue_students/teacher_block_lift \
#   DATA="runs/continue_students/replay_block_lift runs/continue_students/rollouts_block_lift_s0" \
#   UPDATES=3000 bash scripts/fig6_ablation.sh
#
# Settings (environment): TEACHER (a twist-train-teacher run or snapshot, required), DATA (dataset
# directories, in order; empty: the teacher run's own D), UPDATES (3000), PRESET (cpu), SEED (0),
# EPISODES (20) and EVAL_SEEDS (1e6 2e6 3e6) of the evaluation, VARIANTS (all three), WORK
# (runs/fig6_<task>). Every step resumes: twist-distill continues a student from its checkpoint,
# and a budget whose evaluations are all written (WORK/<variant>_u<updates>_heldout_eval_<seed>.json)
# is not trained, exported or evaluated again.
set -euo pipefail
cd "$(dirname "$0")/.."
TEACHER=${TEACHER:?set TEACHER to the teacher run the students are distilled from}
UPDATES=${UPDATES:-3000}
PRESET=${PRESET:-cpu}
SEED=${SEED:-0}
EPISODES=${EPISODES:-20}
EVAL_SEEDS=${EVAL_SEEDS:-"1000000 2000000 3000000"}
VARIANTS=${VARIANTS:-"twist twist_no_imagine twist_no_noise"}
bash scripts/setup.sh
source scripts/env.sh
run_value() {  # run.yaml key
  python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"
}
task=$(run_value "$TEACHER/run.yaml" task)
work=${WORK:-runs/fig6_$task}
mkdir -p "$work"
data=()
for d in ${DATA:-}; do data+=(--data "$d"); done

for variant in $VARIANTS; do
  case "$variant" in
    twist) flag="" ;;
    twist_no_imagine) flag="--no-imagine" ;;
    twist_no_noise) flag="--no-action-noise" ;;
    *) echo "[fig6] unknown variant $variant (twist, twist_no_imagine, twist_no_noise)" >&2; exit 2 ;;
  esac
  student=$work/student_$variant bundle=$work/bundle_${variant}_u$UPDATES
  done_seeds=0
  for seed in $EVAL_SEEDS; do
    if [ -f "$work/${variant}_u${UPDATES}_heldout_eval_$seed.json" ]; then done_seeds=$((done_seeds + 1)); fi
  done
  if [ "$done_seeds" -eq "$(wc -w <<< "$EVAL_SEEDS")" ]; then
    echo "[fig6] $task $variant at $UPDATES updates: evaluated before"
    continue
  fi
  echo "[fig6] $(date +%T) $task $variant: distilling to $UPDATES updates ($student, log $work/$variant.log)"
  # shellcheck disable=SC2086  # $flag is empty or one option
  twist-distill --teacher "$TEACHER" "${data[@]}" --preset "$PRESET" --seed "$SEED" --steps "$UPDATES" \
    --out "$student" $flag >> "$work/$variant.log" 2>&1
  updates=$(run_value "$student/run.yaml" updates)
  if [ "$updates" != "$UPDATES" ]; then
    echo "[fig6] $student is at $updates updates, not $UPDATES: give this budget a WORK of its own" >&2
    exit 2
  fi
  cp "$student/run.yaml" "$work/${variant}_u${UPDATES}_run.yaml"  # wall-clock at this budget
  if [ ! -f "$bundle/bundle.yaml" ]; then
    rm -rf "$bundle"
    twist-export --teacher "$TEACHER" --student "$student" --out "$bundle" >> "$work/$variant.log" 2>&1
  fi
  for seed in $EVAL_SEEDS; do
    record=$work/${variant}_u${UPDATES}_heldout_eval_$seed.json
    if [ -f "$record" ]; then continue; fi
    echo "[fig6] $(date +%T) $task $variant at $UPDATES updates: held-out evaluation, seed $seed"
    twist-eval --bundle "$bundle" --split heldout --episodes "$EPISODES" --seed "$seed" \
      --compare-teacher "$TEACHER" --json "$record.tmp" >> "$work/$variant.log" 2>&1
    mv "$record.tmp" "$record"
  done
done

python - "$work" "$task" $VARIANTS <<'EOF'
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

work, task, variants = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
lines = [f"Fig. 6 ablation on {task}, held-out split (students from scratch, same teacher, data and seed)", "",
         "| Variant | Updates | Successes | Return | Action gap (zero action) | Belief error (m) | Wall-clock (s) |",
         "|---|---|---|---|---|---|---|"]  # fmt: skip
for variant in variants:
    budgets = sorted({int(m.group(1)) for p in work.glob(f"{variant}_u*_heldout_eval_*.json")
                      if (m := re.fullmatch(rf"{variant}_u(\d+)_heldout_eval_\d+\.json", p.name))})  # fmt: skip
    for updates in budgets:
        records = [json.loads(p.read_text()) for p in sorted(work.glob(f"{variant}_u{updates}_heldout_eval_*.json"))]
        run_path = work / f"{variant}_u{updates}_run.yaml"
        wall = yaml.safe_load(run_path.read_text()).get("wall_s") if run_path.is_file() else None
        wins = sum(sum(r["successes"]) for r in records)
        n = sum(len(r["successes"]) for r in records)
        ret = np.mean([np.mean(r["returns"]) for r in records])
        gap = np.mean([r["action_gap_to_teacher"] for r in records])
        zero = np.mean([r["action_gap_of_zero_action"] for r in records])
        belief = np.mean([r["belief_error_m"] for r in records])
        lines.append(f"| {variant} | {updates} | {wins}/{n} | {ret:+.1f} | {gap:.3f} ({zero:.3f}) | {belief:.3f} "
                     f"| {'-' if wall is None else f'{wall:.0f}'} |")  # fmt: skip
text = "\n".join(lines) + "\n"
(work / "fig6.md").write_text(text)
print(text)
EOF
