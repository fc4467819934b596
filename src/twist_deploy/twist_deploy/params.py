"""ROS 2 parameter files (the `ros__parameters` YAML that `ros2 launch` passes to nodes), read
without ROS so the Python bring-up and the launch files share one set of files."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


def config_dir() -> Path:
    """config/ of the source workspace, or share/twist_deploy/config of a colcon install."""
    if CONFIG_DIR.is_dir():
        return CONFIG_DIR
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("twist_deploy")) / "config"


def load_params(paths: list[Path], node_name: str) -> dict:
    """Merge the parameters for `node_name` (or the `/**` wildcard) from each file, later files win."""
    merged: dict = {}
    for path in paths:
        data = yaml.safe_load(Path(path).read_text()) or {}
        for key in ("/**", node_name, f"/{node_name}"):
            section = data.get(key) or {}
            if not isinstance(section, dict) or "ros__parameters" not in section:
                if section:
                    raise ValueError(f"{path}: section {key!r} has no ros__parameters")
                continue
            merged.update(section["ros__parameters"])
    return merged
