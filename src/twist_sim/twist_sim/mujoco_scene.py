"""MJCF for the MuJoCo backend: Franka Panda on a table with a 4 cm cube.

The Panda kinematic chain and meshes come from the installed gymnasium-robotics wheel
(kitchen_franka/franka_assets, Apache-2.0), read at run time. Rendering cost is mesh-bound
(DESIGN.md: ~4 frames/s with the detailed visual meshes, ~1,700 with the low-poly ones), so
the scene shows the low-poly *collision* meshes as the visual robot, has no shadows and no
reflections. The DR texture bank is baked into the model once as textures; domain
randomisation only switches `mat_texid`, which costs nothing per step.
"""

from __future__ import annotations

import copy
import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from twist_sim.tasks import CUBE_HALF_M

# Camera: a RealSense D435i colour stream (4:3, 42 deg vertical FOV) after the shared
# preprocessing (centre square crop) is a square image with a 42 deg field of view, so the
# sim renders that square directly. Pose: in front of the robot, looking back at it.
CAMERA_POS = (1.10, 0.30, 0.52)
CAMERA_LOOKAT = (0.47, 0.0, 0.13)
CAMERA_FOVY_DEG = 42.0
MATERIALS = ("robot", "table", "background", "cube")
ARM_JOINTS = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
# Site offsets along link7's z axis: the peg tip (push) and the point between the finger pads (lift).
PEG_TIP_Z = 0.21
PINCH_Z = 0.24


def franka_assets_dir() -> Path:
    """Folder of the Panda MJCF in the installed gymnasium-robotics package."""
    # find_spec locates the package without importing it (its import prints a banner).
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("gymnasium-robotics is not installed; pip install gymnasium-robotics==1.4.2")
    path = Path(spec.submodule_search_locations[0]) / "envs/assets/kitchen_franka/franka_assets"
    if not (path / "chain.xml").exists():
        raise FileNotFoundError(f"Panda assets not found at {path}; install gymnasium-robotics==1.4.2")
    return path


def camera_xyaxes(pos: np.ndarray, lookat: np.ndarray) -> np.ndarray:
    """MuJoCo camera xyaxes (6,) for a camera at pos looking at lookat with world z up."""
    fwd = np.asarray(lookat, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return np.concatenate([right, up])


def _robot_chain(assets: Path, with_gripper: bool) -> tuple[ET.Element, list[ET.Element]]:
    """Panda chain with low-poly visuals; the hand becomes a peg when there is no gripper."""
    chain = ET.parse(assets / "chain.xml").getroot().find("body")
    chain = copy.deepcopy(chain)
    meshes = []
    for m in ET.parse(assets / "assets.xml").getroot().iter("mesh"):
        if m.get("file", "").startswith("collision/"):
            meshes.append(m)
    for body in chain.iter("body"):
        body.set("gravcomp", "1")  # the real Panda compensates gravity in its controller
        for geom in list(body.findall("geom")):
            cls = geom.get("class")
            if cls == "panda_viz" and geom.get("mesh") != "finger_viz":
                body.remove(geom)
            elif cls == "panda_col" or geom.get("mesh") == "finger_viz":
                geom.set("material", "robot")
                geom.set("group", "0")
                geom.set("rgba", "1 1 1 1")
                if geom.get("mesh") == "finger_viz":
                    geom.set("class", "panda_viz")
                    geom.attrib.pop("rgba")
        if body.get("name") == "panda0_link7":
            link7 = body
    if with_gripper:
        site_z = PINCH_Z
    else:
        for child in list(link7):
            if child.tag == "body" or (child.tag == "geom" and child.get("mesh") == "hand_col"):
                link7.remove(child)
        ET.SubElement(
            link7,
            "geom",
            name="peg",
            type="capsule",
            fromto=f"0 0 0.107 0 0 {PEG_TIP_Z - 0.012}",
            size="0.012",
            material="robot",
            group="0",
            mass="0.3",
            contype="1",
            conaffinity="1",
        )
        site_z = PEG_TIP_Z
    for site in list(link7.findall("site")):
        link7.remove(site)
    # Site frame = finger frame: its y axis is the direction in which the fingers open.
    ET.SubElement(link7, "site", name="ee", pos=f"0 0 {site_z}", quat="0.92388 0 0 -0.382683", size="0.005")
    return chain, meshes


def build_mjcf(
    with_gripper: bool, bank_size: int, texture_size: int, timestep: float, image_size: int
) -> str:
    """The scene as an MJCF string (meshes referenced from the installed package)."""
    assets = franka_assets_dir()
    chain, meshes = _robot_chain(assets, with_gripper)
    xy = camera_xyaxes(np.array(CAMERA_POS), np.array(CAMERA_LOOKAT))
    defaults = ET.parse(assets / "assets.xml").getroot().find("default")

    root = ET.Element("mujoco", model="twist_" + ("lift" if with_gripper else "push"))
    ET.SubElement(root, "compiler", angle="radian", meshdir=str(assets / "meshes"))
    ET.SubElement(root, "option", timestep=f"{timestep}", integrator="implicitfast", cone="elliptic")
    ET.SubElement(root, "size", nuser_actuator="5")
    visual = ET.SubElement(root, "visual")
    # The offscreen buffer is exactly the image (software GL clears and resolves all of it),
    # without multisampling: at 64x64 anti-aliasing costs more than the rest of the frame.
    ET.SubElement(visual, "global", offwidth=str(image_size), offheight=str(image_size))
    ET.SubElement(visual, "quality", shadowsize="0", offsamples="0")
    ET.SubElement(visual, "headlight", ambient="0.25 0.25 0.25", diffuse="0.3 0.3 0.3", specular="0 0 0")
    root.append(defaults)

    asset = ET.SubElement(root, "asset")
    for m in meshes:
        asset.append(m)
    for i in range(bank_size):
        ET.SubElement(
            asset,
            "texture",
            name=f"bank{i}",
            type="2d",
            builtin="flat",
            width=str(texture_size),
            height=str(texture_size),
            rgb1="0.5 0.5 0.5",
        )
    nominal = {
        "robot": ".92 .92 .9 1",
        "table": ".55 .42 .3 1",
        "background": ".35 .4 .45 1",
        "cube": ".2 .4 .85 1",
    }
    for name in MATERIALS:
        ET.SubElement(asset, "material", name=name, rgba=nominal[name], reflectance="0", specular="0.2")
    ET.SubElement(asset, "material", name="goal", rgba="0.9 0.05 0.05 1", reflectance="0")

    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", name="key", pos="0.8 0.6 1.6", dir="-0.4 -0.3 -1", diffuse="0.6 0.6 0.6")
    ET.SubElement(world, "light", name="fill", pos="0.2 -0.8 1.4", dir="0.2 0.5 -1", diffuse="0.4 0.4 0.4")
    # No floor: the table fills the lower part of the view and the wall the rest; a floor plane
    # would cost a quarter of the frame time while hardly ever being seen.
    ET.SubElement(
        world, "geom", name="wall", type="box", pos="-0.7 0 0.25", size="0.02 2.5 1.2", material="background"
    )
    ET.SubElement(
        world, "geom", name="table", type="box", pos="0.45 0 -0.375", size="1.0 1.2 0.375", material="table"
    )
    ET.SubElement(
        world,
        "camera",
        name="front",
        pos=" ".join(f"{v:.5f}" for v in CAMERA_POS),
        xyaxes=" ".join(f"{v:.5f}" for v in xy),
        fovy=f"{CAMERA_FOVY_DEG}",
    )
    world.append(chain)
    cube = ET.SubElement(world, "body", name="cube", pos=f"0.5 0 {CUBE_HALF_M}")
    ET.SubElement(cube, "freejoint", name="cube")
    ET.SubElement(
        cube,
        "geom",
        name="cube",
        type="box",
        size=f"{CUBE_HALF_M} {CUBE_HALF_M} {CUBE_HALF_M}",
        mass="0.05",
        material="cube",
        condim="4",
        friction="1 0.005 0.0001",
    )
    goal = ET.SubElement(world, "body", name="goal", mocap="true", pos="0.55 0.1 0")
    if not with_gripper:
        ET.SubElement(
            goal,
            "geom",
            name="goal",
            type="cylinder",
            size="0.025 0.001",
            material="goal",
            contype="0",
            conaffinity="0",
        )

    actuator = ET.SubElement(root, "actuator")
    # Position servos on the joints track the IK solution. Gains are stiffer than the kitchen
    # model's so that a 2 cm step settles within one 0.1 s control period.
    for i, joint in enumerate(ARM_JOINTS):
        kp, frc = (4000, 87) if i < 4 else (600, 12)
        ET.SubElement(
            actuator,
            "position",
            name=f"a{i + 1}",
            joint=joint,
            kp=str(kp),
            forcerange=f"-{frc} {frc}",
            forcelimited="true",
        )
    if with_gripper:
        for i, joint in enumerate(FINGER_JOINTS):
            ET.SubElement(
                actuator,
                "position",
                name=f"finger{i + 1}",
                joint=joint,
                kp="500",
                ctrlrange="0 0.04",
                forcerange="-70 70",
            )
    return ET.tostring(root, encoding="unicode")
