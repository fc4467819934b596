"""Workspace invariants: layering, pins, and the README's two commands."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("twist_sim", "twist_models", "twist_deploy")
ROS_MODULES = (
    "rclpy",
    "sensor_msgs",
    "geometry_msgs",
    "std_msgs",
    "std_srvs",
    "visualization_msgs",
    "diagnostic_msgs",
    "builtin_interfaces",
    "rosbag2_py",
    "launch",
    "launch_ros",
)
# The one-way dependency order of DESIGN.md: a package may import only those before it.
ORDER = {name: i for i, name in enumerate(PACKAGES)}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / "src" / package / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_only_nodes_import_ros(package: str) -> None:
    offenders = [
        f"{p.relative_to(ROOT)} imports {sorted(_imports(p) & set(ROS_MODULES))}"
        for p in _sources(package)
        if "nodes" not in p.relative_to(ROOT / "src" / package / package).parts[:-1]
        and _imports(p) & set(ROS_MODULES)
    ]
    assert not offenders, "ROS imports outside nodes/:\n" + "\n".join(offenders)


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    later = {p for p in PACKAGES if ORDER[p] > ORDER[package]}
    offenders = [
        f"{p.relative_to(ROOT)} imports {sorted(_imports(p) & later)}"
        for p in _sources(package)
        if _imports(p) & later
    ]
    assert not offenders, "imports against twist_sim <- twist_models <- twist_deploy:\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_package_manifest_is_ament_python(package: str) -> None:
    root = ET.parse(ROOT / "src" / package / "package.xml").getroot()
    assert root.findtext("name") == package
    assert root.find("export/build_type").text == "ament_python"
    assert (ROOT / "src" / package / "resource" / package).exists()


def test_torch_pinned_to_cpu_build() -> None:
    reqs = (ROOT / "requirements.txt").read_text().splitlines()
    torch = [r for r in reqs if re.match(r"^torch\b", r)]
    assert torch == ["torch==2.13.0"], "a bare torch requirement pulls the CUDA build"
    unpinned = [r for r in reqs if r and not r.startswith("#") and "==" not in r]
    assert not unpinned, f"unpinned requirements: {unpinned}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert ci[-1] == "exec bash scripts/test.sh"


def test_deploy_workspace_box_matches_the_simulated_task() -> None:
    """The sim twin and the policy node must agree on the box the safety module enforces."""
    import yaml
    from twist_sim.tasks import WORKSPACE_HIGH, WORKSPACE_LOW

    params = yaml.safe_load((ROOT / "config" / "deploy.yaml").read_text())
    policy = next(
        v["ros__parameters"] for v in params.values() if "workspace_low" in v.get("ros__parameters", {})
    )
    assert policy["workspace_low"] == pytest.approx(list(WORKSPACE_LOW))
    assert policy["workspace_high"] == pytest.approx(list(WORKSPACE_HIGH))


def test_test_module_basenames_are_unique() -> None:
    """pytest's default import mode refuses two test modules with one basename."""
    names = [p.name for p in (ROOT / "src").glob("*/test/test_*.py")] + [
        p.name for p in (ROOT / "test").glob("test_*.py")
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def _env_sh(extra: str, strict: bool = False, **env: str) -> subprocess.CompletedProcess:
    """Runs `extra` in bash after sourcing scripts/env.sh from the repository root; strict: as the
    scripts source it, under `set -euo pipefail` and as a command of its own (in an && list, set -e
    would not end the shell on a failure inside env.sh)."""
    base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    script = (
        f"set -euo pipefail; source scripts/env.sh; {extra}"
        if strict
        else f"source scripts/env.sh && {extra}"
    )
    return subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_env_sh_under_pipefail_survives_an_ldconfig_listing_longer_than_the_pipe(tmp_path) -> None:
    """The scripts source env.sh under `set -euo pipefail`. Its tcmalloc lookup once stopped
    reading ldconfig's listing at the match, so ldconfig died of SIGPIPE whenever it was still
    writing (a busy CPU, about 1 run in 40) and the script ended silently with status 141. A fake
    ldconfig that names tcmalloc first, then writes 4 MB more, makes that certain."""
    fake = tmp_path / "ldconfig"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "\tlibtcmalloc_minimal.so.4 (libc6,x86-64) => /fake/libtcmalloc_minimal.so.4"\n'
        "head -c 4000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n"
    )
    fake.chmod(0o755)
    done = _env_sh(
        'echo "sourced LD_PRELOAD=$LD_PRELOAD"',
        strict=True,
        TWIST_LDCONFIG=str(fake),
        TWIST_MKL_DISPATCH="vendor",
    )  # check=True: status 141 raises
    assert done.returncode == 0
    assert "sourced LD_PRELOAD=/fake/libtcmalloc_minimal.so.4" in done.stdout


MKL_PROBE = (
    "python -c 'import numpy as np, torch; torch.manual_seed(0); a = torch.randn(96, 80); "
    "b = torch.randn(80, 72); err = float(np.abs((a @ b).numpy() - a.double().numpy() @ b.double().numpy()).max()); "
    'print("max_err", err)\''
)


def test_mkl_dispatch_preload_picks_isa_kernels_and_keeps_numerics() -> None:
    """On a non-Intel CPU env.sh preloads the dispatch library (scripts/mkl_cpu_dispatch.c): MKL then
    reports its AVX2 (or better) kernels, not the generic ones it picks by itself on a CPU without
    AVX-512, and SGEMM stays float32-exact to a float64 reference. TWIST_MKL_DISPATCH=vendor keeps
    MKL's own choice. On Intel nothing is preloaded."""
    lib = ROOT / ".venv" / "lib" / "libtwist_mkl_cpu_dispatch.so"
    assert lib.is_file(), "scripts/setup.sh builds .venv/lib/libtwist_mkl_cpu_dispatch.so"
    cpuinfo = Path("/proc/cpuinfo").read_text()
    intel = "GenuineIntel" in cpuinfo
    on = _env_sh(MKL_PROBE, MKL_VERBOSE="1")
    off = _env_sh(MKL_PROBE, MKL_VERBOSE="1", TWIST_MKL_DISPATCH="vendor")
    preload_on = _env_sh('echo "$LD_PRELOAD"').stdout
    preload_off = _env_sh('echo "$LD_PRELOAD"', TWIST_MKL_DISPATCH="vendor").stdout
    assert str(lib) not in preload_off
    for run in (on, off):
        err = float(re.search(r"max_err (\S+)", run.stdout).group(1))
        assert err < 1e-4, run.stdout
    if intel:
        assert str(lib) not in preload_on
        return
    assert str(lib) in preload_on
    banner_on = next(line for line in on.stdout.splitlines() if line.startswith("MKL_VERBOSE oneMKL"))
    # An instruction set named: "(Intel(R) AVX2) enabled processors" on the AVX2 EPYCs, "Intel(R)
    # Advanced Vector Extensions 512 (Intel(R) AVX-512)" on an AVX-512 one (AMD family 26).
    assert re.search(r"enabled processors|Advanced Vector Extensions", banner_on), banner_on
    # Without the preload MKL picks by vendor: on an AMD CPU without AVX-512 (the AVX2 EPYCs) it names
    # no instruction set, the generic kernels; with AVX-512 (family 26) it takes its AVX-512 kernels.
    if not re.search(r"\bavx512f\b", cpuinfo):
        banner_off = next(line for line in off.stdout.splitlines() if line.startswith("MKL_VERBOSE oneMKL"))
        assert "enabled processors" not in banner_off, banner_off


def test_gpu_check_exits_nonzero_and_names_the_steps_that_failed(tmp_path) -> None:
    """benchmarks/gpu_check.sh runs every step even after one fails (a lent GPU's minutes are
    few), then exits 1 naming the failed steps, so a caller cannot mistake a broken run for a
    measured one. A device name torch does not know fails each training step."""
    # VIRTUAL_ENV tells the script it is not on a bare device machine (nothing to install).
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "DEVICE": "nodevice",
           "PRESETS": "cpu", "REPEATS": "1", "MINUTES": "0", "VIRTUAL_ENV": str(Path(sys.prefix)),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    log = (tmp_path / "out" / "log.txt").read_text()
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "render ok" in log  # the environment step ran and passed
    last = log.strip().splitlines()[-1]
    assert last.endswith("done; failed: bench_train cpu teacher distillation"), last
