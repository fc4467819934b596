#!/usr/bin/env bash
# Continue the committed teacher snapshots (checkpoints/) for a time budget, then snapshot them
# back, ready to commit. The teachers train side by side, one torch thread each.
#
#   bash scripts/continue_teachers.sh 120                       # both block teachers, 120 min
#   TASKS=block_lift PRESET=cpu bash scripts/continue_teachers.sh 60
#   TASKS=cartpole_balance bash scripts/continue_teachers.sh 60
#
# Each run stops at its first checkpoint after MINUTES (twist-train-teacher --max-minutes), so
# nothing trained is lost; runs/teacher_<task> is kept and a second call continues it.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:?usage: bash scripts/continue_teachers.sh MINUTES}
TASKS=${TASKS:-"block_push block_lift"}
PRESET=${PRESET:-cpu}
bash scripts/setup.sh
source scripts/env.sh
mkdir -p runs

pids=()
for task in $TASKS; do
  snap=checkpoints/teacher_$task run=runs/teacher_$task
  [ -d "$snap" ] || { echo "[continue] no snapshot $snap" >&2; exit 2; }
  [ -f "$run/checkpoint.pt" ] || cp -r "$snap" "$run"
  echo "[continue] $task: $(grep -m1 '^env_steps' "$run/run.yaml") -> log $run.log"
  # The run's own expert-episode count (0 on Distracting Control, which has no scripted expert).
  expert=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['preset']['teacher']['expert_episodes'])" \
    "$run/run.yaml")
  twist-train-teacher --task "$task" --preset "$PRESET" --out "$run" --max-minutes "$MINUTES" \
    --expert-episodes "$expert" >> "$run.log" 2>&1 &
  pids+=($!)
done
# Progress: the env steps of each run's last checkpoint, every five minutes.
ticks=0
while [ -n "$(jobs -rp)" ]; do
  sleep 10
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ]; then
    for task in $TASKS; do
      echo "[continue] $(date +%T) $task: $(grep -m1 '^env_steps' "runs/teacher_$task/run.yaml")"
    done
  fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
[ $status -eq 0 ] || { echo "[continue] a teacher failed (exit $status); see runs/teacher_*.log" >&2; exit $status; }
for task in $TASKS; do
  twist-teacher-snapshot --teacher "runs/teacher_$task" --out "checkpoints/teacher_$task"
done
echo "[continue] snapshots updated: git add checkpoints && git commit"
