#!/usr/bin/env bash
# The FetchPush peer for bench_sim.py: gymnasium-robotics 1.4.2's FetchPush-v4 fails at
# construction with mujoco >= 3.17 (the project pins 4.0), so it runs in .peer-venv with
# mujoco 3.3.7. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .peer-venv/bin/python ] || "$PY" -m venv .peer-venv
.peer-venv/bin/pip install --quiet mujoco==3.3.7 gymnasium==1.4.0 gymnasium-robotics==1.4.2 numpy==2.4.6
.peer-venv/bin/python -c "import gymnasium as gym, gymnasium_robotics; gym.register_envs(gymnasium_robotics); gym.make('FetchPush-v4').close()" 2>/dev/null
echo "peer venv ready: .peer-venv (mujoco 3.3.7, gymnasium-robotics 1.4.2)"
