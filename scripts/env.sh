# Sourced by the scripts: headless rendering and loopback-only DDS.
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-77}"  # outside every test range (docs/deploy.md)
export PATH="$PWD/.venv/bin:$PATH"
