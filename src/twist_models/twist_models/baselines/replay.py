"""Image replay for the baselines: complete episodes in memory, sampled as sequences or transitions.

Episodes use the dataset convention (length T + 1, action[t] led to step t, reward[t] received
arriving at t). They are persisted with twist_sim.dataset.write_episode, so a resumed run
reloads exactly the episodes a crash left complete.
"""

from __future__ import annotations

import numpy as np

KEYS = ("state", "image", "action", "reward", "is_first", "is_terminal")


class EpisodeReplay:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.episodes: list[dict[str, np.ndarray]] = []

    def add(self, episode: dict[str, np.ndarray]) -> None:
        self.episodes.append({k: np.asarray(episode[k]) for k in KEYS})

    @property
    def num_steps(self) -> int:
        """Env steps held (each episode stores T + 1 entries for T steps)."""
        return sum(len(e["reward"]) - 1 for e in self.episodes)

    def sample_sequences(self, batch: int, length: int) -> dict[str, np.ndarray]:
        """Uniform windows inside episodes: dict of arrays shaped (batch, length, ...)."""
        out = {k: [] for k in KEYS}
        for _ in range(batch):
            ep = self.episodes[int(self.rng.integers(len(self.episodes)))]
            if len(ep["reward"]) < length:
                raise ValueError(f"episodes hold {len(ep['reward'])} entries, fewer than seq_len={length}")
            start = int(self.rng.integers(len(ep["reward"]) - length + 1))
            for k in KEYS:
                out[k].append(ep[k][start : start + length])
        return {k: np.stack(v) for k, v in out.items()}

    def sample_transitions(self, batch: int) -> dict[str, np.ndarray]:
        """(o_t, s_t, a_{t+1}, r_{t+1}, o_{t+1}, s_{t+1}) tuples, each array shaped (batch, ...)."""
        seq = self.sample_sequences(batch, 2)
        return {
            "image": seq["image"][:, 0],
            "state": seq["state"][:, 0],
            "action": seq["action"][:, 1],
            "reward": seq["reward"][:, 1],
            "next_image": seq["image"][:, 1],
            "next_state": seq["state"][:, 1],
            "not_done": 1.0 - seq["is_terminal"][:, 1].astype(np.float32),
        }
