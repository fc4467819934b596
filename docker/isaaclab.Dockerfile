# Isaac Lab backend of twist_sim: GPU-parallel collection with the same task spec as the MuJoCo
# backend. Needs an NVIDIA GPU with a recent driver and the NVIDIA container toolkit; it cannot
# run on the CPU-only development machines.
#   docker build -f docker/isaaclab.Dockerfile -t twist-isaaclab .
#   docker run --gpus all -e ACCEPT_EULA=Y -v $PWD/runs:/ws/runs twist-isaaclab \
#       python -c "from twist_sim import make_env; e = make_env('block_push', backend='isaaclab'); print(e.reset(seed=0)[0]['state'])"
FROM nvcr.io/nvidia/isaac-lab:2.3.0

ENV ACCEPT_EULA=Y OMNI_KIT_ACCEPT_EULA=YES
WORKDIR /ws
COPY requirements.txt /ws/requirements.txt
# The Isaac Lab image brings its own Python (isaaclab.sh -p), torch and Isaac Sim; add only what
# twist_sim needs on top (mujoco stays for the shared scene constants and the MuJoCo backend).
RUN grep -E '^(mujoco|gymnasium|gymnasium-robotics|PyYAML|tqdm|pillow)==' requirements.txt > /tmp/req.txt \
    && /workspace/isaaclab/isaaclab.sh -p -m pip install --no-cache-dir -r /tmp/req.txt
COPY src/twist_sim /ws/src/twist_sim
COPY config /ws/config
RUN /workspace/isaaclab/isaaclab.sh -p -m pip install --no-cache-dir --no-deps -e /ws/src/twist_sim
ENV TWIST_CONFIG_DIR=/ws/config
ENTRYPOINT ["/workspace/isaaclab/isaaclab.sh", "-p"]
CMD ["-c", "from twist_sim import make_env; print(make_env('block_push', backend='isaaclab').reset(seed=0)[0]['state'])"]
