#!/usr/bin/env bash
# The GPU check: the project's training code on CUDA, timed. Run where a GPU is lent (the
# development machines have none; CI never has one). It writes into OUT:
#   env.txt            GPU, driver, torch, and whether MuJoCo renders headless (EGL)
#   bench_<preset>.json  benchmarks/bench_train.py on DEVICE: one update of the teacher, the TWIST
#                      student and an image Dreamer (what Dreamer w/ DR pays), for the paper and
#                      cpu presets (random data)
#   teacher_run.yaml, teacher_eval.jsonl   a block-push teacher trained MINUTES on DEVICE
#                      (cpu preset: the committed runs' sizes; env steps, updates, wall-clock)
#   student_run.yaml   a TWIST student distilled MINUTES on DEVICE from that teacher's D
#   tb.tar             both runs' TensorBoard scalars
#   log.txt            everything printed
#
# A failed step is logged and the rest still run (so one failure leaves the other figures); the
# script then exits 1 and its last line names the failed steps.
#
#   OUT=runs/gpu_check DEVICE=cuda MINUTES=2 bash benchmarks/gpu_check.sh
#
# On the device machine (python3 with a CUDA torch, no project venv) the wheels in .whl/ (mujoco,
# gymnasium and what they need, for its Python) and the EGL loaders in .gl/ are installed first
# when present, and the sources run from src/ through PYTHONPATH. Here, with .venv active and
# DEVICE=cpu MINUTES=0.2 PRESETS=cpu REPEATS=2, the same script checks itself.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder the results go to}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-2}
TEACHER_MINUTES=${TEACHER_MINUTES:-$MINUTES}
PRESETS=${PRESETS:-"paper cpu"}
REPEATS=${REPEATS:-20}
WORK=${WORK:-/tmp/twist_gpu_check}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
log() { echo "[gpu_check] $(date +%T) $*"; }
failed=()
fail() { log "$1 failed"; failed+=("$1"); }

if [ -d .whl ] && [ -z "${VIRTUAL_ENV:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { log "wheels in .whl/ did not install"; exit 2; }
  export PYTHONPATH=/tmp/site
  # .whl/site: packages carried as folders, e.g. gymnasium-robotics' Panda assets alone (its wheel is 26 MB)
  if [ -d .whl/site ]; then export PYTHONPATH="$PWD/.whl/site:$PYTHONPATH"; fi
fi
if [ -d .gl ] && [ "$(id -u)" = 0 ] && [ -z "${VIRTUAL_ENV:-}" ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
export PYTHONPATH="$PWD/src/twist_sim:$PWD/src/twist_models${PYTHONPATH:+:$PYTHONPATH}"
export MUJOCO_GL=${MUJOCO_GL:-egl} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-egl} PYTHONUNBUFFERED=1
rm -rf "$WORK"
mkdir -p "$WORK"

log "environment"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "nvidia-smi: none"
  nproc
  python3 - <<'EOF'
import platform, time
import numpy as np
import torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "device", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
from twist_sim import make_env
env = make_env("block_push", split="train")
obs, _ = env.reset(seed=0)
start = time.perf_counter()
for _ in range(100):
    obs, *_ = env.step(np.zeros(env.action_space.shape, np.float32))
print("render ok:", obs["image"].shape, obs["image"].dtype, "mean", float(obs["image"].mean()),
      f"{(time.perf_counter() - start) * 10:.2f} ms per env step with its image")
EOF
} | tee "$OUT/env.txt" || fail "environment"

for preset in $PRESETS; do
  log "bench_train --preset $preset --device $DEVICE"
  python3 benchmarks/bench_train.py --preset "$preset" --device "$DEVICE" --threads 4 --repeats "$REPEATS" \
    > "$OUT/bench_$preset.json" || fail "bench_train $preset"
  cat "$OUT/bench_$preset.json"
done

log "teacher: block_push, cpu preset, $DEVICE, $TEACHER_MINUTES minutes (to the next checkpoint after them)"
python3 -m twist_models.train_teacher --task block_push --preset cpu --device "$DEVICE" \
  --out "$WORK/teacher" --max-minutes "$TEACHER_MINUTES" || fail "teacher"
cp "$WORK/teacher/run.yaml" "$OUT/teacher_run.yaml" 2>/dev/null
cp "$WORK/teacher/eval.jsonl" "$OUT/teacher_eval.jsonl" 2>/dev/null

log "student: TWIST distillation from that teacher's D, cpu preset, $DEVICE, $MINUTES minutes"
python3 -m twist_models.distill --teacher "$WORK/teacher" --preset cpu --device "$DEVICE" --steps 100000 \
  --out "$WORK/student" --max-minutes "$MINUTES" || fail "distillation"
cp "$WORK/student/run.yaml" "$OUT/student_run.yaml" 2>/dev/null

tar -cf "$OUT/tb.tar" -C "$WORK" teacher/tb student/tb 2>/dev/null
if [ ${#failed[@]} -gt 0 ]; then
  log "done; failed: ${failed[*]}"
  exit 1
fi
log "done"
