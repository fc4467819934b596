#!/usr/bin/env bash
# Retrain everything from scratch and regenerate the results report (issue 7).
#
#   bash scripts/reproduce.sh                       # cpu preset, seed 0 (many hours on 2 cores)
#   PRESET=paper SEEDS="0 1 2" bash scripts/reproduce.sh   # the paper's sizes, on a GPU
#   SHIP=1 bash scripts/reproduce.sh                # also ship the seed-0 block students (scripts/ship_bundle.sh)
#
# Per task and seed: the teacher (Oracle) with its matching dataset, more rollouts of the
# trained teacher (BLOCK_ROLLOUTS=700 / DMC_ROLLOUTS=100 episodes, 0 for none), the TWIST
# student distilled from both and exported as a bundle, and Dreamer w/ DR trained for the teacher's env
# steps. On block push, the two distillation ablations of Fig. 6 (--no-imagine,
# --no-action-noise) from the same teacher. On the block tasks, TWIST + DAgger (this project's
# addition, not the paper's; docs/models.md): DAGGER_ROUNDS (2) rounds in which the latest student
# drives DAGGER_EPISODES (400) episodes (twist-teacher-rollouts --driver) and a student starting
# from its weights is distilled on everything so far. Then the held-out evaluation suite (EPISODES
# episodes per run, evaluation-mode DR) and the report (tables, Fig. 2 intervals, curves).
# Every step resumes: rerunning the command continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

PRESET=${PRESET:-cpu}
SEEDS=${SEEDS:-0}
EPISODES=${EPISODES:-50}
OUT=${OUT:-runs/reproduce}
BLOCK_TASKS=${BLOCK_TASKS:-"block_push block_lift"}
DMC_TASKS=${DMC_TASKS:-"cartpole_balance cup_catch"}
DMC_STEPS=${DMC_STEPS:-100000}
mkdir -p "$OUT"
SUITE="$OUT/suite.yaml"
printf 'episodes: %s\nsplit: heldout\nruns:\n' "$EPISODES" > "$SUITE"

add_run() {  # method task seed path
  printf '  - {method: %s, task: %s, seed: %s, path: %s}\n' "$1" "$2" "$3" "$4" >> "$SUITE"
}

train_task() {  # task seed [extra teacher/baseline args...]
  local task=$1 seed=$2
  shift 2
  local t="$OUT/teacher_${task}_s$seed"
  echo "[reproduce] $task seed $seed: teacher"
  twist-train-teacher --task "$task" --preset "$PRESET" --seed "$seed" --out "$t" "$@"
  local steps
  steps=$(python -c "import yaml, sys; print(yaml.safe_load(open(sys.argv[1]))['env_steps'])" "$t/run.yaml")
  add_run oracle "$task" "$seed" "$t"
  # More data of the trained teacher for its students: on D alone (tens of thousands of steps
  # on a CPU) a student memorises its images (docs/models.md, fourth session).
  local data=()
  if [ "${ROLLOUT_EPISODES:-0}" -gt 0 ]; then
    echo "[reproduce] $task seed $seed: $ROLLOUT_EPISODES teacher rollouts"
    twist-teacher-rollouts --teacher "$t" --episodes "$ROLLOUT_EPISODES" --seed "$seed" --out "${t}_rollouts"
    data=(--data "${t}_rollouts")
  fi
  local variants=("twist:")
  if [ "$task" = block_push ]; then
    variants+=("twist_no_imagine:--no-imagine" "twist_no_noise:--no-action-noise")
  fi
  for v in "${variants[@]}"; do
    local method=${v%%:*} flag=${v#*:}
    echo "[reproduce] $task seed $seed: $method"
    # shellcheck disable=SC2086  # $flag is empty or one option
    twist-distill --teacher "$t" --preset "$PRESET" --seed "$seed" --out "$OUT/${method}_${task}_s$seed" \
      "${data[@]}" $flag
    twist-export --teacher "$t" --student "$OUT/${method}_${task}_s$seed" --out "$OUT/bundle_${method}_${task}_s$seed"
    add_run "$method" "$task" "$seed" "$OUT/bundle_${method}_${task}_s$seed"
  done
  if [ "${DAGGER:-0}" -gt 0 ]; then
    local previous="$OUT/twist_${task}_s$seed" driver="$OUT/bundle_twist_${task}_s$seed" round dagger
    for round in $(seq 1 "$DAGGER"); do
      echo "[reproduce] $task seed $seed: TWIST + DAgger round $round"
      twist-teacher-rollouts --teacher "$t" --driver "$driver" --episodes "${DAGGER_EPISODES:-400}" \
        --seed "$round" --out "${t}_dagger$round"
      data+=(--data "${t}_dagger$round")
      dagger="$OUT/twist_dagger_${task}_s${seed}_r$round"
      twist-distill --teacher "$t" --preset "$PRESET" --seed "$seed" --out "$dagger" "${data[@]}" \
        --init-from "$previous"
      driver="$OUT/bundle_twist_dagger_${task}_s${seed}_r$round"
      twist-export --teacher "$t" --student "$dagger" --out "$driver"
      previous=$dagger
    done
    add_run twist_dagger "$task" "$seed" "$driver"
  fi
  echo "[reproduce] $task seed $seed: Dreamer w/ DR for the teacher's $steps env steps"
  # The teacher's own count last: it overrides the --env-steps of the task's extra arguments
  # (the teacher ends on an episode boundary, past DMC_STEPS, and may have been continued).
  twist-train-baseline --method dreamer_dr --task "$task" --preset "$PRESET" --seed "$seed" \
    --out "$OUT/dreamer_dr_${task}_s$seed" "$@" --env-steps "$steps"
  add_run dreamer_dr "$task" "$seed" "$OUT/dreamer_dr_${task}_s$seed"
}

for seed in $SEEDS; do
  for task in $BLOCK_TASKS; do
    DAGGER=${DAGGER_ROUNDS:-2} ROLLOUT_EPISODES=${BLOCK_ROLLOUTS:-700} train_task "$task" "$seed"  # 105K steps
  done
  for task in $DMC_TASKS; do
    # Distracting Control has no scripted expert: the paper's from-scratch prefill.
    ROLLOUT_EPISODES=${DMC_ROLLOUTS:-100} train_task "$task" "$seed" --env-steps "$DMC_STEPS" --expert-episodes 0
  done
done

twist-eval-suite --suite "$SUITE" --out "$OUT/results"
twist-report --results "$OUT/results"

if [ "${SHIP:-0}" = 1 ]; then
  for task in $BLOCK_TASKS; do
    student="$OUT/twist_${task}_s0"
    if [ "${DAGGER_ROUNDS:-2}" -gt 0 ]; then  # the shipped students are the last DAgger round's
      student="$OUT/twist_dagger_${task}_s0_r${DAGGER_ROUNDS:-2}"
    fi
    EPISODES=$EPISODES bash scripts/ship_bundle.sh "$OUT/teacher_${task}_s0" "$student"
  done
fi
echo "[reproduce] report: $OUT/results/report"
