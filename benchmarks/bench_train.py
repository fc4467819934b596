"""Update cost of TWIST vs an image Dreamer, at one model size, on this machine. Prints JSON.

    python benchmarks/bench_train.py --preset cpu --threads 1 --repeats 7 [--compile] [--device cuda]

Measures one gradient update (median and min of `repeats`, after warm-up) of:
  teacher        Dreamer on state: world model (state in, state out) + actor-critic
  student        TWIST distillation: student image encoder + RSSM against the frozen teacher,
                 Eq. 3 on (batch, L) sequences + Eq. 4 imagination (the preset's distill part)
  image_dreamer  Dreamer on images: conv encoder + conv decoder world model + actor-critic,
                 what Dreamer w/ DR pays per update
and the ratio student / image_dreamer (TWIST's claim: well below 1; target <= 0.5).
All three use the preset's model sizes, batch size and sequence length; random data. On a GPU
(--device cuda) each timed update ends with torch.cuda.synchronize(), so a time is the update's
own and not the launch of its kernels.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
from twist_models.config import load_preset
from twist_models.dreamer import Dreamer, to_torch
from twist_models.student import Distiller, Student

STATE_DIM, ACTION_DIM = 14, 3


def make_batch(batch: int, length: int, seed: int = 0, device: str = "cpu") -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    data = {
        "state": rng.normal(size=(batch, length, STATE_DIM)).astype(np.float32),
        "image": rng.integers(0, 256, (batch, length, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (batch, length, ACTION_DIM)).astype(np.float32),
        "reward": rng.normal(size=(batch, length)).astype(np.float32),
        "is_first": np.zeros((batch, length), bool),
        "is_terminal": np.zeros((batch, length), bool),
    }
    return to_torch(data, torch.device(device))


def timed(fn, repeats: int, warmup: int, device: str = "cpu") -> dict[str, float]:
    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the RSSM's obs_step and img_step"
    )
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:i] on a GPU")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    torch.set_num_threads(args.threads)
    preset = load_preset(args.preset)
    model, teacher_cfg, distill_cfg = preset.model, preset.teacher, preset.distill
    device = args.device
    batch = make_batch(distill_cfg.batch_size, distill_cfg.seq_len, device=device)

    teacher = Dreamer("state", "state", STATE_DIM, ACTION_DIM, model, teacher_cfg, seed=0, device=device)
    image_dreamer = Dreamer(
        "image", "image", STATE_DIM, ACTION_DIM, model, teacher_cfg, seed=0, device=device
    )
    frozen = Dreamer("state", "state", STATE_DIM, ACTION_DIM, model, teacher_cfg, seed=0, device=device)
    distiller = Distiller(frozen, Student(ACTION_DIM, model), distill_cfg, seed=0, device=device)
    if args.compile:
        for rssm in (teacher.wm.rssm, image_dreamer.wm.rssm, frozen.wm.rssm, distiller.student.rssm):
            rssm.obs_step = torch.compile(rssm.obs_step, dynamic=False)
            rssm.img_step = torch.compile(rssm.img_step, dynamic=False)

    results = {
        "teacher": timed(lambda: teacher.update(batch), args.repeats, args.warmup, device),
        "student": timed(lambda: distiller.update(batch), args.repeats, args.warmup, device),
        "image_dreamer": timed(lambda: image_dreamer.update(batch), args.repeats, args.warmup, device),
    }
    print(json.dumps({
        "preset": preset.name, "threads": args.threads, "compile": args.compile, "repeats": args.repeats,
        "batch_size": distill_cfg.batch_size, "seq_len": distill_cfg.seq_len, "horizon": distill_cfg.horizon,
        "imag_starts": {"teacher": teacher_cfg.imag_starts, "student": distill_cfg.imag_starts},
        "model": model.__dict__, "torch": str(torch.__version__), "cpu": platform.processor() or platform.machine(),
        "device": device, "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "update_s": results,
        "ratio_student_over_image_dreamer": results["student"]["median_s"] / results["image_dreamer"]["median_s"],
        "ratio_teacher_over_image_dreamer": results["teacher"]["median_s"] / results["image_dreamer"]["median_s"],
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
