# Training image: CUDA PyTorch (PyPI's Linux torch wheel is the CUDA build) + the three workspace packages, for the `paper` preset on a GPU.
#   docker build -f docker/training.Dockerfile -t twist-train .
#   docker run --gpus all -v $PWD/runs:/ws/runs twist-train \
#       twist-train-teacher --task block_push --preset paper --out runs/teacher_push
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive MUJOCO_GL=egl PYOPENGL_PLATFORM=egl
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-pip libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /ws
COPY requirements.txt /ws/requirements.txt
RUN python3 -m venv /ws/.venv \
    && /ws/.venv/bin/pip install --no-cache-dir torch==2.13.0 \
    && grep -v '^torch==' requirements.txt | grep -vE '^(ros-kilted|colcon|mcap|franky|pyrealsense2)' > /tmp/req.txt \
    && /ws/.venv/bin/pip install --no-cache-dir -r /tmp/req.txt
COPY src /ws/src
COPY config /ws/config
RUN /ws/.venv/bin/pip install --no-cache-dir --no-deps -e src/twist_sim -e src/twist_models
ENV PATH=/ws/.venv/bin:$PATH
CMD ["twist-train-teacher", "--help"]
