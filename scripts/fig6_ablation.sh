#!/usr/bin/env bash
# The distillation ablation of the paper's Fig. 6 at a fixed update budget: three students distilled
# from scratch from the same teacher, on the same data, with the same seed and number of updates:
# TWIST, TWIST without imagined distillation (--no-imagine) and without action noise on the
# imagined actions (--no-action-noise). Each is exported and evaluated on the held-out split against
# its teacher (success, return, action gap, belief error); benchmarks/fig6_table.py then prints the
# table of every variant and budget in WORK and writes it to WORK/fig6.md, with the figure
# WORK/fig6.png. Called again with a larger UPDATES it continues the same students and adds the new
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
# Variants can run side by side, one VARIANTS each with the same WORK (the twenty-first session's
# block-push run, three processes on two cores); each ends by writing the table, which refuses
# ("evaluation seeds differ") while another variant's budget is half evaluated, so run
# `python benchmarks/fig6_table.py WORK` once the last has finished.
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

# The table (fig6.md) and figure (fig6.png) of every variant and budget evaluated in WORK.
python benchmarks/fig6_table.py "$work"
