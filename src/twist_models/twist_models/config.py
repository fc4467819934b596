"""Typed configuration for the world models, the teacher's training loop and distillation.

A preset (config/presets/<name>.yaml) fills a `Preset`: `model` (network sizes shared by
teacher and student), `teacher` (online Dreamer), `distill` (TWIST student). Every field is
documented once, here; validation raises ValueError naming the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

PRESET_DIR = Path(__file__).resolve().parents[3] / "config" / "presets"


def _positive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{type(obj).__name__}.{name} must be > 0, got {value!r}")


def _non_negative(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{type(obj).__name__}.{name} must be >= 0, got {value!r}")


def _unit(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{type(obj).__name__}.{name} must be in [0, 1], got {value!r}")


@dataclass
class ModelConfig:
    """Sizes of the RSSM and its encoders, decoders and heads (teacher and student share h, z).

    deter: size of the GRU deterministic state h.
    stoch: number of categorical variables in the stochastic state z.
    classes: classes per categorical variable.
    hidden: units of every MLP hidden layer (state encoder/decoder, heads, actor, critic, RSSM).
    layers: hidden layers of the state encoder/decoder and of the actor/critic MLPs.
    cnn_depth: channels of the first DreamerV2 conv layer (then x2, x4, x8).
    unimix: mixture weight of the uniform distribution in every categorical (DreamerV3: 1%).
    image_size: side of the square image input (the DreamerV2 conv stack needs 64).
    state_offset, state_scale: fixed per-dimension normalisation of the privileged state,
        (state - offset) / scale, applied by the state encoder and inverted by the state
        decoder's `predict`; empty = identity (symlog only). Filled per task by
        `task_state_norm` when a teacher run starts; saved in run.yaml and bundle.yaml.
    """

    deter: int = 512
    stoch: int = 32
    classes: int = 32
    hidden: int = 512
    layers: int = 3
    cnn_depth: int = 48
    unimix: float = 0.01
    image_size: int = 64
    state_offset: list[float] = field(default_factory=list)
    state_scale: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        _positive(self, "deter", "stoch", "classes", "hidden", "layers", "cnn_depth")
        _unit(self, "unimix")
        self.state_offset = [float(v) for v in self.state_offset]
        self.state_scale = [float(v) for v in self.state_scale]
        if len(self.state_offset) != len(self.state_scale):
            raise ValueError(f"ModelConfig.state_offset has {len(self.state_offset)} entries, "
                             f"state_scale {len(self.state_scale)}: they must match")  # fmt: skip
        bad = [v for v in self.state_scale if not math.isfinite(v) or v <= 0]
        if bad or not all(math.isfinite(v) for v in self.state_offset):
            raise ValueError(f"ModelConfig.state_scale must be finite and > 0 and state_offset finite, "
                             f"got scale {self.state_scale!r}, offset {self.state_offset!r}")  # fmt: skip
        if self.image_size != 64:
            raise ValueError(
                f"ModelConfig.image_size must be 64 (DreamerV2 conv stack), got {self.image_size!r}"
            )


@dataclass
class TeacherConfig:
    """Online Dreamer on privileged state (the teacher), and its actor-critic.

    env_steps: total environment steps to collect.
    prefill: env steps of uniform random actions before the first update.
    expert_episodes, expert_noise: the first `expert_episodes` prefill episodes are driven by
        twist_sim's scripted expert with Gaussian action noise of std `expert_noise` instead of
        random actions. The paper trains from scratch for 500K steps on a GPU (0, its setting);
        on a 2-core CPU a few demonstrations in the replay show the world model the contact
        dynamics of a push, which random actions almost never produce. They are ordinary
        episodes of D (rendered with DR), so the student sees them too.
    train_every: env steps per gradient update (the train ratio is batch*seq_len/train_every).
    batch_size, seq_len: replay sequences per update and their length.
    horizon: imagination horizon H of the actor-critic.
    imag_starts: posterior states imagination starts from, drawn at random from the batch's
        batch_size * seq_len (0 = all of them, as DreamerV3; fewer makes updates cheaper).
    model_lr, actor_lr, critic_lr: Adam learning rates; grad_clip: global norm clip.
    kl_free: free bits (nats) of the KL terms; kl_dyn, kl_rep: KL balancing weights.
    recon_weight, reward_weight: weights of the decoder and reward losses. Privileged state
        moves 2 cm per step at most: centimetre precision needs a recon weight well above 1
        and few free bits, or the prior never learns what actions do.
    gamma, lam: discount and lambda of the lambda-returns.
    entropy: weight of the actor's entropy regulariser.
    actor_grad: "reinforce" (DreamerV3: score function with the normalised advantage; needs
        the model only to rank actions) or "dynamics" (DreamerV2 for continuous control:
        backpropagate returns through the learned dynamics; needs accurate model gradients).
    return_decay: EMA decay of the 5th/95th return percentiles used to normalise returns.
    slow_critic_every, slow_critic_mix: slow-critic update period and mixing fraction.
    repval: weight of the replay critic loss (DreamerV3, 2024 revision: beta_repval = 0.3): the
        critic also regresses lambda-returns of the replayed real rewards on the batch's
        posterior states, so its values stay anchored to what the environment paid. Without
        it (0) the critic learns only from imagination and, under dynamics actor gradients,
        follows the actor into latent states it overvalues (docs/models.md, sixth session).
    value_bound: not in the paper (False = off). Clamp the slow critic's bootstrap values and
        the critic's lambda-return targets (imagined and replayed) to the discounted returns the
        real rewards seen so far allow, [min(r_min, 0), max(r_max, 0)] / (1 - gamma). A critic
        trained only toward bootstraps of itself can otherwise run away above any return an
        episode can pay (the block lift teacher's seed 1: values of 12,326 where 300 is the most,
        docs/results.md, thirty-third session).
    eval_every, eval_episodes: periodic evaluation (on state, DR off), in env steps.
    checkpoint_every: env steps between checkpoints (rounded up to an episode end).
    belief_offset: not in the paper (0 = off): a radius in metres. The teacher sees the end
        effector's and the cube's positions (block tasks) each moved by its own offset, in a random
        direction at a distance uniform in [0, belief_offset]: one offset per episode while it
        acts, and a fresh one per replayed sequence while its world model and actor-critic learn.
        D records the true states. A teacher trained so is meant to tolerate a student's belief,
        which is a few centimetres off (docs/models.md, twenty-ninth session).
    """

    env_steps: int = 500_000
    prefill: int = 5_000
    expert_episodes: int = 0
    expert_noise: float = 0.3
    train_every: int = 5
    batch_size: int = 16
    seq_len: int = 50
    horizon: int = 15
    imag_starts: int = 0
    model_lr: float = 1e-4
    actor_lr: float = 3e-5
    critic_lr: float = 3e-5
    grad_clip: float = 100.0
    kl_free: float = 1.0
    kl_dyn: float = 0.5
    kl_rep: float = 0.1
    recon_weight: float = 1.0
    reward_weight: float = 1.0
    gamma: float = 0.99
    lam: float = 0.95
    entropy: float = 3e-4
    actor_grad: str = "reinforce"
    return_decay: float = 0.99
    slow_critic_every: int = 1
    slow_critic_mix: float = 0.02
    repval: float = 0.0
    value_bound: bool = False
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 5_000
    belief_offset: float = 0.0

    def __post_init__(self) -> None:
        _positive(self, "env_steps", "train_every", "batch_size", "seq_len", "horizon", "model_lr")
        _positive(self, "actor_lr", "critic_lr", "grad_clip", "eval_every", "eval_episodes")
        _positive(self, "checkpoint_every", "slow_critic_every", "return_decay")
        _non_negative(self, "imag_starts", "prefill", "kl_free", "kl_dyn", "kl_rep", "entropy")
        _non_negative(self, "expert_episodes", "expert_noise")
        _non_negative(self, "recon_weight", "reward_weight", "repval", "belief_offset")
        _unit(self, "gamma", "lam", "slow_critic_mix", "return_decay")
        if self.actor_grad not in ("reinforce", "dynamics"):
            raise ValueError(
                f"TeacherConfig.actor_grad must be 'reinforce' or 'dynamics', got {self.actor_grad!r}"
            )


@dataclass
class DistillConfig:
    """TWIST student distillation (Eq. 3 and Eq. 4).

    steps: gradient updates of the student.
    batch_size, seq_len: sequences of D per update and their length L (paper: 50).
    horizon: imagination horizon H of Eq. 4 (paper: 15).
    imag_starts: posterior states Eq. 4 starts from, drawn at random (0 = all batch * L).
    imagine: use imagined distillation (Eq. 4); False is the paper's Fig. 6 ablation.
    action_noise: std of the Gaussian noise added to the teacher actor's actions in Eq. 4
        (0 switches it off).
    w_h, w_prior, w_post: weights of ||h_T - h_S||^2 and the prior and posterior KL of Eq. 3.
    w_imag_h, w_imag_prior: weights of the h and prior terms of Eq. 4.
    w_belief: weight of a belief term that is not in the paper (0 = the paper's loss): the squared
        error in cm^2 between the positions (end effector, cube) the teacher's frozen state decoder
        reads from the student's posterior and from its own, summed over the positions. It weights
        the latent directions that carry where the cube is, which the teachers' actions turn on
        (docs/models.md, nineteenth session). Block tasks only (their state has those positions).
    augment_p: not in the paper (0 = off): the probability that a frame the student sees passes
        through its own random 3 x 3 convolution (network randomisation, Lee et al., ICLR 2020),
        new colours and textures at the same geometry, against the gap between the appearance splits.
    lr, grad_clip: Adam learning rate and global norm clip of the student.
    log_every, checkpoint_every: in updates; TensorBoard gets the means over each log_every updates.
    """

    steps: int = 100_000
    batch_size: int = 16
    seq_len: int = 50
    horizon: int = 15
    imag_starts: int = 0
    imagine: bool = True
    action_noise: float = 0.3
    w_h: float = 1.0
    w_prior: float = 1.0
    w_post: float = 1.0
    w_imag_h: float = 1.0
    w_imag_prior: float = 1.0
    w_belief: float = 0.0
    augment_p: float = 0.0
    lr: float = 3e-4
    grad_clip: float = 100.0
    log_every: int = 100
    checkpoint_every: int = 1_000

    def __post_init__(self) -> None:
        _positive(self, "steps", "batch_size", "seq_len", "horizon", "lr", "grad_clip")
        _positive(self, "log_every", "checkpoint_every")
        _non_negative(
            self,
            "imag_starts",
            "action_noise",
            "w_h",
            "w_prior",
            "w_post",
            "w_imag_h",
            "w_imag_prior",
            "w_belief",
        )
        if not isinstance(self.imagine, bool):
            raise ValueError(f"DistillConfig.imagine must be a bool, got {self.imagine!r}")
        if not 0.0 <= self.augment_p <= 1.0:
            raise ValueError(
                f"DistillConfig.augment_p must be a probability in [0, 1], got {self.augment_p!r}"
            )


@dataclass
class Preset:
    """A named run configuration: seed, device ("auto" = CUDA if present) and the three parts."""

    name: str = "custom"
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    model: ModelConfig = field(default_factory=ModelConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ValueError(f"Preset.device must be 'auto', 'cpu', 'cuda[:i]' or 'mps', got {self.device!r}")
        _non_negative(self, "seed")
        _positive(self, "threads")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preset:
        d = dict(d)
        parts = {"model": ModelConfig, "teacher": TeacherConfig, "distill": DistillConfig}
        kwargs = {}
        for key, value in d.items():
            if key in parts:
                kwargs[key] = _build(parts[key], value or {})
            elif key in {f.name for f in dataclasses.fields(cls)}:
                kwargs[key] = value
            else:
                raise ValueError(f"unknown preset field {key!r}")
        return cls(**kwargs)


def _build(kind: type, values: dict):
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {kind.__name__} field(s) {sorted(unknown)}")
    return kind(**values)


def load_preset(name_or_path: str | Path, overrides: dict | None = None) -> Preset:
    """Read a preset by name (config/presets/<name>.yaml) or by path; apply nested overrides."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"preset {name_or_path!r} not found (looked for {path})")
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("name", path.stem)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return Preset.from_dict(data)


# Typical magnitudes (metres) of the non-position features of the manipulation tasks: the
# cube-goal distance spans ~0.1-0.3 m at reset, the gripper opens to 0.08 m.
_DIST_SCALE_M = 0.1
_FINGER_SCALE_M = 0.04


def task_names() -> list[str]:
    """Every task twist_sim.make_env makes: the manipulation tasks, then Distracting Control."""
    from twist_sim.distracting import DISTRACTING_TASKS
    from twist_sim.tasks import TASK_NAMES

    return [*TASK_NAMES, *DISTRACTING_TASKS]


def task_state_norm(task: str, state_layout: dict[str, tuple[int, int]]) -> tuple[list[float], list[float]]:
    """Fixed state normalisation (offset, scale) per dimension, from the task spec alone.

    Manipulation tasks (twist_sim.tasks): positions -> (x - workspace centre) / workspace
    half-extent, so the whole reachable box maps to [-1, 1] and a 2 cm step is 0.07-0.14;
    distances / 0.1 m; the gripper width centred on half open; quaternion and the grasp flag
    as they are. Other tasks (Distracting Control proprioception): the identity, i.e.
    DreamerV3's symlog alone; fixed rather than running statistics so that the bundle and
    every checkpoint de-normalise identically whatever data a run saw.
    """
    dim = max(stop for _, stop in state_layout.values())
    offset, scale = [0.0] * dim, [1.0] * dim
    from twist_sim.tasks import TASK_NAMES, WORKSPACE_HIGH, WORKSPACE_LOW

    if task not in TASK_NAMES:
        return offset, scale
    centre = [(lo + hi) / 2 for lo, hi in zip(WORKSPACE_LOW, WORKSPACE_HIGH, strict=True)]
    half = [(hi - lo) / 2 for lo, hi in zip(WORKSPACE_LOW, WORKSPACE_HIGH, strict=True)]
    per_name = {"ee_pos": (centre, half), "cube_pos": (centre, half), "goal_pos": (centre, half),
                "cube_goal_dist": ([0.0], [_DIST_SCALE_M]), "finger_width": ([_FINGER_SCALE_M], [_FINGER_SCALE_M])}  # fmt: skip
    for name, (start, stop) in state_layout.items():
        if name in per_name:
            off, sc = per_name[name]
            if len(off) != stop - start:
                raise ValueError(f"state layout entry {name!r} has {stop - start} dims, expected {len(off)}")
            offset[start:stop], scale[start:stop] = list(off), list(sc)
    return offset, scale


def device_name(device: torch.device) -> str:
    """What a run's compute table names: the GPU's name, or the CPU's model ("AMD EPYC")."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_compute(device: torch.device, threads: int, wall_s: float) -> dict:
    """The `compute` entry of a run.yaml: where the run ran and for how long (twist-report)."""
    return {"device": str(device), "device_name": device_name(device), "threads": threads,
            "wall_s": round(wall_s, 3), "host": platform.node()}  # fmt: skip


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
