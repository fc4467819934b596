# Sourced by the scripts: headless rendering and loopback-only DDS.
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-77}"  # outside every test range (docs/deploy.md)
export PATH="$PWD/.venv/bin:$PATH"
# tcmalloc instead of glibc malloc: glibc maps and unmaps every tensor above 32 MB, so each
# update of an image model page-faults its activations in anew; TWIST_MALLOC=system keeps glibc.
# awk reads ldconfig's whole listing: one that stopped at the match would end the pipe under
# ldconfig, whose SIGPIPE (with pipefail, under the scripts' set -e) ended the sourcing script
# silently, about 1 run in 40 with the CPU busy. TWIST_LDCONFIG: another ldconfig to ask (tests).
if [ "${TWIST_MALLOC:-tcmalloc}" = tcmalloc ]; then
  tcmalloc=$({ "${TWIST_LDCONFIG:-/sbin/ldconfig}" -p 2>/dev/null || true; } \
    | awk '$1 == "libtcmalloc_minimal.so.4" && !found {print $NF; found = 1}')
  if [ -n "$tcmalloc" ] && [[ ":${LD_PRELOAD:-}:" != *":$tcmalloc:"* ]]; then
    export LD_PRELOAD="$tcmalloc${LD_PRELOAD:+:$LD_PRELOAD}"
  fi
  unset tcmalloc
fi
# On a CPU that is not Intel's, torch's MKL runs generic SGEMM kernels unless told the CPU is
# Intel's (scripts/mkl_cpu_dispatch.c); with it, the AVX2 kernels: a teacher update 1.80 -> 1.52 s
# on AMD EPYC (docs/models.md). TWIST_MKL_DISPATCH=vendor keeps MKL's own choice.
mkl_dispatch="$PWD/.venv/lib/libtwist_mkl_cpu_dispatch.so"
if [ "${TWIST_MKL_DISPATCH:-isa}" = isa ] && [ -f "$mkl_dispatch" ] \
  && ! grep -q -m1 GenuineIntel /proc/cpuinfo 2>/dev/null \
  && [[ ":${LD_PRELOAD:-}:" != *":$mkl_dispatch:"* ]]; then
  export LD_PRELOAD="$mkl_dispatch${LD_PRELOAD:+:$LD_PRELOAD}"
fi
unset mkl_dispatch
