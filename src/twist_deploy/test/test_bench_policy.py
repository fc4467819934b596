"""benchmarks/bench_policy.py runs end to end (a few frames): every image gets its command."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_policy.py"


def test_bench_policy_smoke(bundle, domain_id):
    done = subprocess.run(
        [sys.executable, str(BENCH), "--bundle", str(bundle), "--iters", "20", "--frames", "20",
         "--domain-id", str(domain_id)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert result["step_ms"]["n"] == 20 and result["step_ms"]["p50"] > 0
    e2e = result["e2e_image_to_command_ms"]
    assert e2e["frames"] == 20 and e2e["no_command_within_500ms"] == 0 and e2e["n"] == 20
