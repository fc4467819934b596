import os
from glob import glob

from setuptools import find_packages, setup

package_name = "twist_deploy"
here = os.path.dirname(os.path.abspath(__file__))
# launch/ and config/ live at the workspace root (one place for operators to look) and are
# installed into share/twist_deploy so `ros2 launch twist_deploy block_push.launch.py` finds them.
root = os.path.relpath(os.path.join(here, "..", ".."), here)


def _files(pattern: str) -> list[str]:
    return sorted(glob(os.path.join(root, pattern)))


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", _files("launch/*.launch.py")),
        (f"share/{package_name}/config", _files("config/*.yaml") + _files("config/*.rviz")),
    ],
    install_requires=["setuptools", "numpy", "pyyaml", "twist_sim", "twist_models"],
    zip_safe=True,
    maintainer="TWIST developers",
    maintainer_email="twist@example.org",
    description="TWIST deploy: policy node, safety, adapters, trial manager, bridges, launch files.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = twist_deploy.nodes.policy_node:main",
            "trial_manager = twist_deploy.nodes.trial_manager:main",
            "franky_bridge = twist_deploy.nodes.franky_bridge:main",
            "realsense_camera = twist_deploy.nodes.realsense_camera:main",
            "twist-bringup = twist_deploy.bringup:main",
            "twist-trial-report = twist_deploy.report:main",
        ],
    },
)
