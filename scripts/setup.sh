#!/usr/bin/env bash
# Installs everything the workspace needs on a fresh Debian machine: system libraries
# (Mesa EGL for headless MuJoCo rendering, libusb for pyrealsense2, tcmalloc) and a project venv
# with the pinned Python packages and the three packages in editable mode.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# libtcmalloc-minimal4: scripts/env.sh preloads it (image updates 20-25% faster, docs/models.md).
# gcc: builds the small MKL dispatch library below.
apt_pkgs=(libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libusb-1.0-0 libtcmalloc-minimal4 gcc)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.twist-requirements
want=$(cat requirements.txt src/*/setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] pip install -r requirements.txt"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps \
    -e src/twist_sim -e src/twist_models -e src/twist_deploy
  echo "$want" > "$stamp"
fi
# scripts/env.sh preloads this on non-Intel CPUs so torch's MKL runs its AVX2 kernels there
# (scripts/mkl_cpu_dispatch.c says why).
lib=.venv/lib/libtwist_mkl_cpu_dispatch.so
if [ ! -f "$lib" ] || [ scripts/mkl_cpu_dispatch.c -nt "$lib" ]; then
  gcc -shared -fPIC -O2 -o "$lib.tmp" scripts/mkl_cpu_dispatch.c && mv "$lib.tmp" "$lib"
fi
echo "[setup] ok: $(.venv/bin/python --version)"
