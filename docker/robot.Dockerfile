# Robot PC image: ROS 2 Jazzy, the RealSense driver, RViz, CPU PyTorch and this workspace built
# with colcon, so `ros2 launch twist_deploy block_push.launch.py` runs as on a native install.
#   docker build -f docker/robot.Dockerfile -t twist-robot .
#   docker run --rm -it --net=host --privileged -v /dev:/dev -v $PWD/bundles:/bundles -v $PWD/runs:/ws/runs \
#       twist-robot ros2 launch twist_deploy block_push.launch.py bundle:=/bundles/push
# --net=host: DDS to the controller PC and to RViz; --privileged + /dev: USB access for the RealSense.
# TORCH_INDEX: PyTorch's CPU-only wheel index (PyPI's Linux wheel is the larger CUDA build, which
# also runs on the CPU); leave empty to use PyPI.
FROM ros:jazzy-ros-base

ARG TORCH_INDEX=""
ENV DEBIAN_FRONTEND=noninteractive MUJOCO_GL=egl PYOPENGL_PLATFORM=egl
RUN apt-get update && apt-get install -y --no-install-recommends \
        ros-jazzy-realsense2-camera ros-jazzy-rviz2 ros-jazzy-diagnostic-msgs ros-jazzy-std-srvs \
        ros-jazzy-visualization-msgs python3-venv python3-pip python3-colcon-common-extensions \
        libusb-1.0-0 libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /ws
COPY requirements.txt /ws/requirements.txt
# --system-site-packages: rclpy and the message packages come from /opt/ros/jazzy, not from the
# Kilted wheels the development machines use; those and colcon are filtered out here.
RUN python3 -m venv --system-site-packages /ws/.venv \
    && /ws/.venv/bin/pip install --no-cache-dir ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} torch==2.13.0 \
    && grep -v '^torch==' requirements.txt | grep -vE '^(ros-kilted|colcon|tensorboard|rliable|matplotlib|arch|pandas|dm-control|pytest|hypothesis|ruff)' > /tmp/req.txt \
    && /ws/.venv/bin/pip install --no-cache-dir -r /tmp/req.txt
COPY src /ws/src
COPY launch /ws/launch
COPY config /ws/config
ENV PATH=/ws/.venv/bin:$PATH
RUN . /opt/ros/jazzy/setup.sh && colcon build --base-paths src \
    && /ws/.venv/bin/pip install --no-cache-dir --no-deps -e src/twist_sim -e src/twist_models -e src/twist_deploy
RUN printf '. /opt/ros/jazzy/setup.sh\n. /ws/install/setup.sh\nexec "$@"\n' > /ws/entrypoint.sh
ENTRYPOINT ["/bin/sh", "/ws/entrypoint.sh"]
CMD ["ros2", "launch", "twist_deploy", "block_push.launch.py", "--show-args"]
