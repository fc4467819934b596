#!/usr/bin/env bash
# The main job: set up, then run the block-push student through the ROS 2 node graph (sim twin
# + policy node + trial manager over loopback DDS) for a number of trials on the held-out split,
# and write the session report (CSV with success rate and Wilson interval, one MCAP bag a trial),
# then the trial report (report.md: success rate with its interval, a strip of frames from a trial
# beside the student's belief against the true positions, latency figures).
#
#   bash scripts/demo.sh                 # shipped bundle, 5 trials
#   TRIALS=20 BUNDLE=path/to/bundle bash scripts/demo.sh
#
# Without a shipped bundle it first runs the whole TWIST pipeline on the `debug` preset
# (teacher -> matching dataset -> distillation -> export): a working but untrained policy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

TASK=${TASK:-block_push}
TRIALS=${TRIALS:-5}
OUT=${OUT:-runs/demo}
BUNDLE=${BUNDLE:-bundles/$TASK}
mkdir -p "$OUT"

if [ ! -f "$BUNDLE/bundle.yaml" ] && [ -f "$BUNDLE.old/bundle.yaml" ]; then
  # scripts/ship_bundle.sh stopped between moving the shipped bundle aside and the new one in.
  echo "[demo] $BUNDLE is missing and $BUNDLE.old holds the bundle shipped before it:" \
    "run 'mv $BUNDLE.old $BUNDLE' (or scripts/ship_bundle.sh again, which restores it first)" >&2
  exit 2
fi
if [ ! -f "$BUNDLE/bundle.yaml" ]; then
  echo "[demo] no trained bundle at $BUNDLE: running the debug TWIST pipeline to make one (untrained)"
  twist-train-teacher --task "$TASK" --preset debug --out "$OUT/teacher"
  twist-distill --teacher "$OUT/teacher" --preset debug --out "$OUT/student"
  twist-export --teacher "$OUT/teacher" --student "$OUT/student" --out "$OUT/bundle"
  BUNDLE="$OUT/bundle"
fi

echo "[demo] $TRIALS trials of $BUNDLE in the sim twin (held-out appearance, ROS_DOMAIN_ID=$ROS_DOMAIN_ID)"
twist-bringup "$TASK" --sim --bundle "$BUNDLE" --trials "$TRIALS" --session-dir "$OUT/session" | tee "$OUT/session.json"
SESSION=$(ls -d "$OUT"/session/session_* | sort | tail -n 1)
twist-trial-report "$SESSION" --out "$OUT/report"
echo "[demo] session: $SESSION (session.csv, trial_NNN/ MCAP bags)"
echo "[demo] trial report: $OUT/report/report.md (figure: $OUT/report/trial_*.png)"
