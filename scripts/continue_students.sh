#!/usr/bin/env bash
# Continue the committed students (checkpoints/students/) for a time budget, evaluate them on the
# held-out split, then snapshot them back, ready to commit. The students train side by side, one
# torch thread each.
#
#   bash scripts/continue_students.sh 120                    # both students, 120 min of distillation
#   TASKS=cartpole_balance bash scripts/continue_students.sh 60
#   TASKS=block_push_seed1 THREADS=2 bash scripts/continue_students.sh 90   # one student, both cores
#   TASKS="block_push_seed2 block_lift_seed2_vb" bash scripts/continue_students.sh 90  # new students
#
# A name in TASKS pairs checkpoints/teacher_<name> with checkpoints/students/student_<name>: a task,
# or a task and a training seed of its teacher (block_push_seed1), with _vb for a teacher trained with
# the value bound (block_lift_seed1_vb).
#
# A teacher snapshot with no student yet gets a new one, warm-started (twist-distill --init-from)
# from another committed student: the warm start of the recipe below, or INIT_FROM (a name under
# checkpoints/students/). Its first budget makes the snapshot; later calls continue it.
#
# Settings (environment): TASKS, PRESET (cpu), THREADS (torch threads of each student, 1), STEPS
# (distill.steps, 100000), EPISODES (20) and EVAL_SEEDS (1e6 2e6 3e6) of the evaluation, DATA
# ("replay seed:episodes ...", overrides the recipe below), INIT_FROM (overrides the warm start
# below), SNAPSHOTS (checkpoints), WORK (runs/continue_students).
#
# For each task it works in WORK:
#   1. teacher_<task>: a copy of checkpoints/teacher_<task> (never trained here: the student belongs
#      to the teacher checkpoint it is distilled from, and twist-distill refuses any other);
#   2. the data the student trained on, regenerated when missing: replay_<task>, the teacher's
#      matching dataset D rendered again from the snapshot's replay (twist-render-replay, exact:
#      the simulator is deterministic), and rollouts_<task>_s<seed>, rollouts of the trained teacher
#      (episode i's seed depends only on --seed and i, so they are the same episodes). On one core of
#      the development CPU: block push about 10 + 25 min, cartpole_balance about 9 + 24 min; block lift
#      about 5 + 8 min on the faster AVX-512 one;
#   3. student_<task>: the student, from the snapshot the first time (its run.yaml pointed at this
#      checkout's copies of 1 and 2) or, with no snapshot, a new student warm-started from another
#      one, then twist-distill --max-minutes MINUTES, which checkpoints and stops when the budget is
#      spent, so nothing trained is lost and a second call continues;
#   4. twist-export + twist-eval --split heldout --episodes EPISODES for each seed of EVAL_SEEDS, and
#      the student copied back to checkpoints/students/student_<task> with those evaluations.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:?usage: bash scripts/continue_students.sh MINUTES}
TASKS=${TASKS:-"block_push cartpole_balance"}
PRESET=${PRESET:-cpu}
THREADS=${THREADS:-1}
STEPS=${STEPS:-100000}
EPISODES=${EPISODES:-20}
EVAL_SEEDS=${EVAL_SEEDS:-"1000000 2000000 3000000"}
SNAPSHOTS=${SNAPSHOTS:-checkpoints}
work=${WORK:-runs/continue_students}
bash scripts/setup.sh
source scripts/env.sh
source scripts/swap_dir.sh
mkdir -p "$work"

# The datasets each committed student trains on, in its order: "replay" (the teacher's D),
# "seed:episodes" (twist-teacher-rollouts) or "own": the teacher's D where the student was distilled
# from the live teacher run itself, on the run's own D with no --data. A snapshot holds no images,
# so D is rendered again and given as the first --data: the same episodes in the same place.
data_of() {
  if [ -n "${DATA:-}" ]; then echo "$DATA"; return; fi
  case "$1" in
    block_push) echo "replay 0:700 1:700" ;;
    block_push_seed1) echo "replay 0:350 1:350" ;;
    block_lift) echo "replay 0:700" ;;
    block_lift_seed1_vb) echo "replay 0:700" ;;
    block_lift_seed2_vb) echo "replay 0:700" ;;
    block_push_seed2) echo "replay 0:700" ;;
    cartpole_balance) echo "replay 0:200" ;;
    cup_catch) echo "own" ;;
    *) echo "[students] no data recipe for task $1 (add one to scripts/continue_students.sh)" >&2; return 2 ;;
  esac
}

# The student a new one starts from (twist-distill --init-from), for a teacher snapshot with no
# student yet: this project's warm start (docs/results.md), a student of another teacher of the task.
warm_start_of() {
  if [ -n "${INIT_FROM:-}" ]; then echo "$INIT_FROM"; return; fi
  case "$1" in
    block_push_seed2) echo "student_block_push_seed1" ;;
    block_lift_seed2_vb) echo "student_block_lift_seed1_vb" ;;
    *) echo "[students] no student of $1 and no warm start for it (INIT_FROM, or add one to scripts/continue_students.sh)" >&2; return 2 ;;
  esac
}

continue_one() {  # task; its output goes to $work/<task>.log
  local task=$1 teacher=$work/teacher_$1 student=$work/student_$1 data=() spec seed episodes own=0
  [ -f "$teacher/checkpoint.pt" ] || cp -r "$SNAPSHOTS/teacher_$task" "$teacher"
  for spec in $(data_of "$task"); do
    if [ "$spec" = own ]; then
      # The run's own D came first in its sampler, before any --data.
      [ ${#data[@]} -eq 0 ] || { echo "[students] $task: \"own\" must come first in the recipe" >&2; return 2; }
      own=1 spec=replay
    fi
    if [ "$spec" = replay ]; then
      echo "[students] $task: the teacher's D, rendered from its replay"
      twist-render-replay --teacher "$teacher" --out "$work/replay_$task" --diverged truncate
      data+=(--data "$work/replay_$task")
      continue
    fi
    seed=${spec%%:*} episodes=${spec##*:}
    echo "[students] $task: rollouts seed $seed, $episodes episodes"
    twist-teacher-rollouts --teacher "$teacher" --episodes "$episodes" --seed "$seed" \
      --out "$work/rollouts_${task}_s$seed"
    data+=(--data "$work/rollouts_${task}_s$seed")
  done
  local init=() from
  if [ ! -f "$student/checkpoint.pt" ] && [ ! -d "$SNAPSHOTS/students/student_$task" ]; then
    # No student of this teacher yet: a new one, warm-started (its run.yaml records from which).
    init=(--init-from "$SNAPSHOTS/students/$(warm_start_of "$task")")
  elif [ ! -f "$student/checkpoint.pt" ]; then
    cp -r "$SNAPSHOTS/students/student_$task" "$student"
    rm -f "$student"/heldout_eval_*.json
    # The snapshot names the directories it was trained with; point it at this checkout's copies.
    python - "$student/run.yaml" "$teacher" "$own" "${data[@]}" <<'EOF'
import sys
from pathlib import Path

import yaml
from twist_models.checkpoint import write_yaml

path, teacher, own, data = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[5::2]
run = yaml.safe_load(path.read_text())
trained_on = len(run.get("data") or []) + own  # "own": the teacher run's D besides the --data
if trained_on != len(data):
    sys.exit(f"{path}: trained on {trained_on} datasets, the recipe has {len(data)}")
run["teacher_run"] = str(Path(teacher).resolve())
run["data"] = [str(Path(d).resolve()) for d in data]
write_yaml(path, run)
EOF
  fi
  from=$(grep -m1 '^updates' "$student/run.yaml" 2>/dev/null || echo "a warm start, ${init[1]}")
  echo "[students] $task: distilling for $MINUTES min from $from"
  twist-distill --teacher "$teacher" "${data[@]}" --preset "$PRESET" --threads "$THREADS" \
    --out "$student" --steps "$STEPS" --max-minutes "$MINUTES" "${init[@]}"
}

pids=()
for task in $TASKS; do
  mend_swap "$SNAPSHOTS/students/student_$task" students  # a call stopped in its swap (below)
  if [ ! -d "$SNAPSHOTS/students/student_$task" ]; then  # a new student: its warm start must be there
    warm=$(warm_start_of "$task") || exit 2
    [ -d "$SNAPSHOTS/students/$warm" ] || { echo "[students] $task: no warm start $SNAPSHOTS/students/$warm" >&2; exit 2; }
  fi
  [ -d "$SNAPSHOTS/teacher_$task" ] || { echo "[students] no teacher snapshot $SNAPSHOTS/teacher_$task" >&2; exit 2; }
  data_of "$task" > /dev/null
  echo "[students] $task -> log $work/$task.log"
  continue_one "$task" >> "$work/$task.log" 2>&1 &
  pids+=($!)
done
# Progress: each student's last checkpointed update count, every five minutes.
ticks=0
while [ -n "$(jobs -rp)" ]; do
  sleep 10
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ]; then
    for task in $TASKS; do
      echo "[students] $(date +%T) $task: $(grep -m1 '^updates' "$work/student_$task/run.yaml" 2>/dev/null || echo 'making its data')"
    done
  fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
[ $status -eq 0 ] || { echo "[students] a student failed (exit $status); see $work/*.log" >&2; exit $status; }

for task in $TASKS; do
  student=$work/student_$task snap=$SNAPSHOTS/students/student_$task
  updates=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['updates'])" "$student/run.yaml")
  bundle=$work/bundle_${task}_u$updates
  rm -rf "$bundle"
  twist-export --teacher "$work/teacher_$task" --student "$student" --out "$bundle"
  new=$work/snapshot_$task
  rm -rf "$new" && mkdir -p "$new"
  cp -r "$student/checkpoint.pt" "$student/run.yaml" "$student/tb" "$new/"
  for seed in $EVAL_SEEDS; do
    echo "[students] $task at $updates updates: held-out evaluation, seed $seed"
    twist-eval --bundle "$bundle" --split heldout --episodes "$EPISODES" --seed "$seed" \
      --compare-teacher "$work/teacher_$task" --json "$new/heldout_eval_$seed.json"
  done
  swap_in "$new" "$snap"  # the committed snapshot replaced only once the new one is whole
  echo "[students] $snap: $updates updates, evaluations in heldout_eval_*.json"
done
echo "[students] snapshots updated: git add $SNAPSHOTS/students && git commit"
