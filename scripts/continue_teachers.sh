#!/usr/bin/env bash
# Continue the committed teacher snapshots (checkpoints/) for a time budget, then snapshot them
# back, ready to commit. The teachers train side by side, one torch thread each.
#
#   bash scripts/continue_teachers.sh 120                       # both block teachers, 120 min
#   TASKS=block_lift PRESET=cpu bash scripts/continue_teachers.sh 60
#   TASKS=cartpole_balance bash scripts/continue_teachers.sh 60
#   TEACHERS="teacher_block_push_seed1 teacher_block_push_seed2" bash scripts/continue_teachers.sh 120
#
# TEACHERS names snapshot folders under SNAPSHOTS (default checkpoints/); without it, TASKS picks
# teacher_<task> for each task. Each run's task comes from its run.yaml, and twist-train-teacher
# keeps the run's own seed (the seed1/seed2 snapshots continue as seeds 1 and 2) and its recorded
# expert episodes (0 on Distracting Control, which has no scripted expert), belief offset and value
# bound.
# Each run stops at its first checkpoint after MINUTES (twist-train-teacher --max-minutes), so
# nothing trained is lost; WORK/<snapshot> (default runs/) is kept and a second call continues it.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:?usage: bash scripts/continue_teachers.sh MINUTES}
TASKS=${TASKS:-"block_push block_lift"}
PRESET=${PRESET:-cpu}
SNAPSHOTS=${SNAPSHOTS:-checkpoints}
WORK=${WORK:-runs}
TEACHERS=${TEACHERS:-$(for task in $TASKS; do printf 'teacher_%s ' "$task"; done)}
bash scripts/setup.sh
source scripts/env.sh
mkdir -p "$WORK"

run_yaml() {  # run_yaml FILE KEY...: one value of a run.yaml, by its path of keys
  python -c "import sys, yaml
v = yaml.safe_load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print(v)" "$@"
}

pids=()
for name in $TEACHERS; do
  snap=$SNAPSHOTS/$name run=$WORK/$name
  [ -f "$snap/run.yaml" ] || { echo "[continue] no snapshot $snap" >&2; exit 2; }
  [ -f "$run/checkpoint.pt" ] || cp -r "$snap" "$run"
  task=$(run_yaml "$run/run.yaml" task)
  echo "[continue] $name ($task, seed $(run_yaml "$run/run.yaml" preset seed)): $(grep -m1 '^env_steps' "$run/run.yaml") -> log $run.log"
  twist-train-teacher --task "$task" --preset "$PRESET" --out "$run" --max-minutes "$MINUTES" \
    >> "$run.log" 2>&1 &
  pids+=($!)
done
# Progress: the env steps of each run's last checkpoint, every five minutes.
ticks=0
while [ -n "$(jobs -rp)" ]; do
  sleep 10
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ]; then
    for name in $TEACHERS; do
      echo "[continue] $(date +%T) $name: $(grep -m1 '^env_steps' "$WORK/$name/run.yaml")"
    done
  fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
[ $status -eq 0 ] || { echo "[continue] a teacher failed (exit $status); see $WORK/teacher_*.log" >&2; exit $status; }
for name in $TEACHERS; do
  twist-teacher-snapshot --teacher "$WORK/$name" --out "$SNAPSHOTS/$name"
done
echo "[continue] snapshots updated: git add $SNAPSHOTS && git commit"
