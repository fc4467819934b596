"""Static checks of the launch files against a `colcon build` install (there is no `ros2 launch`
here): every executable, parameter file, RViz config and included launch file they name exists
in the install, and every parameter in the deploy YAML is one its node declares, with its type."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
OURS = ("twist_deploy", "twist_sim")
# Provided by the robot PC's ROS install (docker/robot.Dockerfile installs them).
EXTERNAL = {"realsense2_camera": {"realsense2_camera_node"}, "rviz2": {"rviz2"}}


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    if os.environ.get("TWIST_COLCON_INSTALL"):
        return Path(os.environ["TWIST_COLCON_INSTALL"])
    ws = tmp_path_factory.mktemp("colcon")
    colcon = Path(sys.executable).with_name("colcon")
    subprocess.run(
        [str(colcon), "--log-base", str(ws / "log"), "build", "--base-paths", str(ROOT / "src"),
         "--build-base", str(ws / "build"), "--install-base", str(ws / "install")],
        cwd=ws, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return ws / "install"


def _literals(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _nodes(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Node":
            kw = {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}
            found.append((kw["package"], kw["executable"]))
    return found


def test_there_are_launch_files_for_both_tasks():
    assert {p.name for p in LAUNCH_FILES} >= {"block_push.launch.py", "block_lift.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_everything_named_exists_after_colcon_build(path, install):
    share = install / "twist_deploy" / "share" / "twist_deploy"
    assert (share / "launch" / path.name).is_file(), "launch file not installed"
    tree = ast.parse(path.read_text())
    for package, executable in _nodes(tree):
        if package in OURS:
            exe = install / package / "lib" / package / executable
            assert exe.is_file() and os.access(exe, os.X_OK), f"{package}/{executable} not installed"
        else:
            assert executable in EXTERNAL.get(package, ()), f"unexpected external node {package}/{executable}"
    for name in _literals(tree):
        if name.endswith((".yaml", ".rviz")):
            assert (share / "config" / name).is_file(), f"{name} not installed"
        elif name.endswith(".launch.py"):
            assert (share / "launch" / name).is_file(), f"{name} not installed"


def test_push_launch_arguments():
    tree = ast.parse((ROOT / "launch" / "block_push.launch.py").read_text())
    (args,) = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "ARGUMENTS"
    ]
    names = {k.value for k in args.keys}
    assert names >= {"bundle", "use_sim", "robot_interface", "camera", "rviz"}
    nodes = _nodes(tree)
    assert ("twist_deploy", "policy_node") in nodes and ("twist_sim", "sim_twin") in nodes


def _declared() -> dict[str, dict]:
    from twist_deploy.nodes import franky_bridge, policy_node, realsense_camera, trial_manager
    from twist_sim.nodes import sim_twin

    return {
        "twist_policy": policy_node.DEFAULTS,
        "twist_trials": trial_manager.DEFAULTS,
        "twist_sim": sim_twin.DEFAULTS,
        "twist_franky": franky_bridge.DEFAULTS,
        "twist_realsense": realsense_camera.DEFAULTS,
    }


@pytest.mark.parametrize("name", ["deploy.yaml", "deploy_sim.yaml"])
def test_yaml_parameters_are_declared_with_matching_types(name):
    declared = _declared()
    for node, section in yaml.safe_load((ROOT / "config" / name).read_text()).items():
        for key, value in section["ros__parameters"].items():
            assert key in declared[node], f"{name}: {node}.{key} is not declared by the node"
            assert type(value) is type(declared[node][key]), (
                f"{name}: {node}.{key} type differs from the default"
            )


def test_rviz_config_shows_the_operator_view():
    text = (ROOT / "config" / "twist.rviz").read_text()
    rviz = yaml.safe_load(text)
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"] if "Topic" in d}
    assert topics >= {
        "/camera/camera/color/image_raw",
        "/twist_policy/markers",
        "/twist_trials/status_marker",
        "/target_pose",
    }
    assert "best effort" in text.lower()
    tools = {t["Class"] for t in rviz["Visualization Manager"]["Tools"]}
    assert "rviz_default_plugins/PublishPoint" in tools
