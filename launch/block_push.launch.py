"""TWIST deploy for block push: policy node + trial manager, robot or sim twin, camera, RViz.

    ros2 launch twist_deploy block_push.launch.py bundle:=/path/to/bundle
    ros2 launch twist_deploy block_push.launch.py bundle:=B use_sim:=true
    ros2 launch twist_deploy block_push.launch.py bundle:=B robot_interface:=franky robot_ip:=172.16.0.2

robot_interface: pose (CRISP cartesian impedance, FR3 + franka_ros2), multipanda (Panda with
multipanda_ros2), twist (TwistStamped velocity controllers) or franky (our franky bridge).
camera: realsense_ros (realsense2_camera driver), pyrealsense (our capture node) or none.
twist-bringup starts the same graph from Python where `ros2 launch` is not installed.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGUMENTS = {
    "task": ("block_push", "block_push | block_lift"),
    "bundle": ("", "policy bundle directory (required)"),
    "use_sim": ("false", "true: the MuJoCo sim twin stands in for robot and camera"),
    "robot_interface": ("pose", "pose | multipanda | twist | franky"),
    "robot_ip": ("172.16.0.2", "Franka control box address (franky only)"),
    "camera": ("realsense_ros", "realsense_ros | pyrealsense | none"),
    "rviz": ("true", "start RViz with the trial view"),
}


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    use_sim = arg["use_sim"].lower() == "true"
    config = os.path.join(get_package_share_directory("twist_deploy"), "config")
    params = [os.path.join(config, "deploy.yaml")]
    if use_sim:
        params.append(os.path.join(config, "deploy_sim.yaml"))
    # The franky bridge consumes the same PoseStamped targets as CRISP.
    interface = "pose" if arg["robot_interface"] == "franky" else arg["robot_interface"]
    common = {"command_interface": interface}
    nodes = [
        Node(package="twist_deploy", executable="policy_node", name="twist_policy", output="screen",
             parameters=[*params, {"bundle": arg["bundle"], "task": arg["task"], **common}]),
        Node(package="twist_deploy", executable="trial_manager", name="twist_trials", output="screen",
             parameters=[*params, common]),
    ]  # fmt: skip
    if use_sim:
        nodes.append(Node(package="twist_sim", executable="sim_twin", name="twist_sim", output="screen",
                          parameters=[*params, {"task": arg["task"], **common}]))  # fmt: skip
    else:
        if arg["robot_interface"] == "franky":
            nodes.append(Node(package="twist_deploy", executable="franky_bridge", name="twist_franky", output="screen",
                              parameters=[*params, {"robot_ip": arg["robot_ip"]}]))  # fmt: skip
        if arg["camera"] == "realsense_ros":
            nodes.append(Node(package="realsense2_camera", executable="realsense2_camera_node", namespace="camera",
                              name="camera", parameters=[{"rgb_camera.color_profile": "640x480x30", "enable_depth": False}]))  # fmt: skip
        elif arg["camera"] == "pyrealsense":
            nodes.append(Node(package="twist_deploy", executable="realsense_camera", name="twist_realsense",
                              output="screen", parameters=params))  # fmt: skip
    if arg["rviz"].lower() == "true":
        nodes.append(Node(package="rviz2", executable="rviz2", name="rviz2",
                          arguments=["-d", os.path.join(config, "twist.rviz")]))  # fmt: skip
    return nodes


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(name, default_value=default, description=doc)
            for name, (default, doc) in ARGUMENTS.items()
        ]
        + [OpaqueFunction(function=_nodes)]
    )
