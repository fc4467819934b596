"""benchmarks/bench_policy.py runs end to end (a few frames): every image gets its command; and its
watchdog turns a hang into a failure that shows where it hung."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_policy.py"


def _run_bench(args: list[str], tmp_path: Path, timeout_s: float) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the benchmark. Output goes to files and the benchmark gets
    a process group of its own, ended here: a policy node it started and could not stop (the
    watchdog exits at once) must neither outlive the test nor hold a pipe open to it."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, str(BENCH), *args], stdout=stdout, stderr=stderr,
                                start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=timeout_s)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return proc.returncode, out.read_text(), err.read_text()


def test_bench_policy_smoke(bundle, domain_id, tmp_path):
    rc, stdout, stderr = _run_bench(
        ["--bundle", str(bundle), "--iters", "20", "--frames", "20", "--domain-id", str(domain_id),
         "--watchdog-s", "240"], tmp_path, timeout_s=300,
    )  # fmt: skip
    assert rc == 0, stderr[-4000:]
    result = json.loads(stdout[stdout.index("{") :])
    assert result["step_ms"]["n"] == 20 and result["step_ms"]["p50"] > 0
    e2e = result["e2e_image_to_command_ms"]
    assert e2e["frames"] == 20 and e2e["no_command_within_500ms"] == 0 and e2e["n"] == 20


def test_bench_policy_watchdog_ends_a_run_that_overstays_and_shows_where(bundle, domain_id, tmp_path):
    # Two seconds are less than the whole run takes: the watchdog must fire, wherever it is.
    rc, _, stderr = _run_bench(["--bundle", str(bundle), "--domain-id", str(domain_id), "--watchdog-s", "2"],
                               tmp_path, timeout_s=120)  # fmt: skip
    assert rc == 1 and "Timeout (0:00:02)!" in stderr and "most recent call first" in stderr, stderr[-2000:]
