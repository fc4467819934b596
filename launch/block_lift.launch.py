"""TWIST deploy for block lift: block_push.launch.py with task:=block_lift (same arguments).

ros2 launch twist_deploy block_lift.launch.py bundle:=/path/to/lift_bundle [use_sim:=true]
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    push = os.path.join(get_package_share_directory("twist_deploy"), "launch", "block_push.launch.py")
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(push), launch_arguments={"task": "block_lift"}.items()
            )
        ]
    )
