#!/usr/bin/env bash
# Ship a student as the task's policy bundle (bundles/<task>, what the main job runs): export it,
# keep its training provenance beside it and evaluate it on the held-out split, then put it in place
# of the shipped one, so a failure on the way leaves the shipped bundle as it was (a call stopped
# in the swap itself is mended by the next call, and scripts/demo.sh says how to mend it by hand).
#
#   bash scripts/ship_bundle.sh TEACHER STUDENT
#   bash scripts/ship_bundle.sh checkpoints/teacher_block_push_seed2 checkpoints/students/student_block_push_seed2
#
# TEACHER is the teacher run or snapshot the student was distilled from, STUDENT the student run or
# snapshot (twist-distill). bundles/<task>/training/ gets teacher_run.yaml, teacher_eval.jsonl (its
# periodic evaluations), student_run.yaml and, for each seed of EVAL_SEEDS, the student's held-out
# evaluation beside its teacher's on the same episodes: heldout_eval.json and
# teacher_heldout_eval.json for the first seed, heldout_eval_seed<k>.json and
# teacher_heldout_eval_seed<k>.json for the k-th. The student's records carry the action gap to the
# teacher and the belief error (twist-eval --compare-teacher).
#
# Settings (environment): EPISODES (20) and EVAL_SEEDS ("1000000 2000000 3000000") of the
# evaluations, BUNDLES (bundles: where the task's bundle goes).
set -euo pipefail
cd "$(dirname "$0")/.."
TEACHER=${1:?usage: bash scripts/ship_bundle.sh TEACHER STUDENT}
STUDENT=${2:?usage: bash scripts/ship_bundle.sh TEACHER STUDENT}
EPISODES=${EPISODES:-20}
EVAL_SEEDS=${EVAL_SEEDS:-"1000000 2000000 3000000"}
BUNDLES=${BUNDLES:-bundles}
source scripts/env.sh
[ -f "$TEACHER/run.yaml" ] || { echo "[ship] missing $TEACHER/run.yaml" >&2; exit 2; }
task=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['task'])" "$TEACHER/run.yaml")
dest=$BUNDLES/$task
tmp=$dest.tmp
source scripts/swap_dir.sh
mend_swap "$dest" ship  # a call stopped in its swap left the shipped bundle at $dest.old
for f in "$TEACHER/checkpoint.pt" "$TEACHER/eval.jsonl" "$STUDENT/run.yaml" "$STUDENT/checkpoint.pt"; do
  [ -f "$f" ] || { echo "[ship] missing $f" >&2; exit 2; }
done
rm -rf "$tmp"
echo "[ship] exporting $STUDENT (teacher $TEACHER) for $task"
twist-export --teacher "$TEACHER" --student "$STUDENT" --out "$tmp"
mkdir -p "$tmp/training"
cp "$TEACHER/run.yaml" "$tmp/training/teacher_run.yaml"
cp "$TEACHER/eval.jsonl" "$tmp/training/teacher_eval.jsonl"
cp "$STUDENT/run.yaml" "$tmp/training/student_run.yaml"
k=0
for seed in $EVAL_SEEDS; do
  k=$((k + 1))
  suffix=$([ "$k" = 1 ] && echo "" || echo "_seed$k")
  echo "[ship] held-out evaluation, seed $seed: the student, then its teacher"
  twist-eval --bundle "$tmp" --split heldout --episodes "$EPISODES" --seed "$seed" --compare-teacher "$TEACHER" \
    --json "$tmp/training/heldout_eval$suffix.json"
  twist-eval --teacher "$TEACHER" --split heldout --episodes "$EPISODES" --seed "$seed" \
    --json "$tmp/training/teacher_heldout_eval$suffix.json"
done
swap_in "$tmp" "$dest"
echo "[ship] $dest: $(du -sh "$dest" | cut -f1)"
