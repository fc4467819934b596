"""Is a teacher's critic calibrated? Its values on real states against what the episodes paid. JSON.

    python benchmarks/critic_calibration.py --teacher checkpoints/teacher_block_push [--episodes 10]

On the last `episodes` episodes of the run's replay (replay.npz, then D), filtered by the
teacher's world model (posterior states):
  real.critic            mean critic value v(s_t) at steps t = 0..39 of each episode
  real.return_100        mean discounted sum of the next 100 real rewards after s_t (gamma of
                         the run); a calibrated critic sits near it (plus a tail worth
                         gamma^100 v(s_{t+100}), about 0.37 v, reported as real.tail_critic)
  imagined.critic_start, imagined.critic_end
                         mean critic value at the start and after H steps of the actor's
                         imagination from posterior states every 5 steps
  imagined.reward        mean reward the world model predicts per imagined step
An imagination-only critic can be self-consistent along imagination (critic_start = sum of
imagined rewards + gamma^H critic_end) and still far above the real returns: the actor steers
the latent into states the critic overvalues (docs/models.md, "Replay critic loss").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from twist_models.checkpoint import load_teacher
from twist_models.networks import symexp
from twist_models.snapshot import run_episodes

LOOKAHEAD = 100


def calibration(run: Path, episodes: int = 10, seed: int = 0) -> dict:
    agent, meta, _ = load_teacher(run)
    cfg = agent.cfg
    eps = [ep for ep in run_episodes(run) if len(ep["reward"]) > LOOKAHEAD + 40][-episodes:]
    if not eps:
        raise ValueError(f"{run}: no episode longer than {LOOKAHEAD + 40} steps in its replay")
    g = torch.Generator().manual_seed(seed)
    disc = cfg.gamma ** np.arange(LOOKAHEAD)
    real, imagined = [], []
    with torch.no_grad():
        for ep in eps:
            state = torch.as_tensor(ep["state"]).float()[None]
            action = torch.as_tensor(ep["action"]).float()[None]
            first = torch.as_tensor(ep["is_first"]).bool()[None]
            post, _ = agent.wm.rssm.observe(agent.wm.embed({"state": state}), action, first, generator=g)
            feat = agent.wm.rssm.feature(post)[0]
            value = symexp(agent.ac.critic(feat).squeeze(-1)).numpy()
            reward = ep["reward"]
            for t in range(40):
                ret = float((disc * reward[t + 1 : t + 1 + LOOKAHEAD]).sum())
                real.append((value[t], ret, cfg.gamma**LOOKAHEAD * value[t + LOOKAHEAD]))
            starts = list(range(0, len(reward) - 1, 5))
            start = {k: v[0, starts] for k, v in post.items()}

            def policy(f: torch.Tensor) -> torch.Tensor:
                return agent.ac.actor.sample(f, g)[0]

            states, _ = agent.wm.rssm.imagine(start, policy, cfg.horizon, generator=g)
            f = agent.wm.rssm.feature(states)
            v = symexp(agent.ac.critic(f).squeeze(-1))
            r = symexp(agent.wm.reward(f[1:]).squeeze(-1))
            imagined.append((float(v[0].mean()), float(v[-1].mean()), float(r.mean())))
    real_a, imag_a = np.array(real), np.array(imagined)
    return {
        "run": str(run), "task": meta["task"], "env_steps": meta.get("env_steps"), "episodes": len(eps),
        "gamma": cfg.gamma, "horizon": cfg.horizon, "repval": cfg.repval,
        "real": {"critic": float(real_a[:, 0].mean()), "return_100": float(real_a[:, 1].mean()),
                 "tail_critic": float(real_a[:, 2].mean())},
        "imagined": {"critic_start": float(imag_a[:, 0].mean()), "critic_end": float(imag_a[:, 1].mean()),
                     "reward": float(imag_a[:, 2].mean())},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, type=Path, help="teacher run or snapshot")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(calibration(args.teacher, args.episodes), indent=2))


if __name__ == "__main__":
    main()
