"""RViz markers for the operator view: workspace box, goal, commanded target, belief, status."""

from __future__ import annotations

import itertools

from geometry_msgs.msg import Point
from visualization_msgs.msg import Marker, MarkerArray


def _marker(ns: str, kind: int, frame: str, stamp, rgba, scale) -> Marker:
    m = Marker()
    m.header.frame_id, m.header.stamp = frame, stamp
    m.ns, m.id, m.type, m.action = ns, 0, kind, Marker.ADD
    m.pose.orientation.w = 1.0
    m.scale.x, m.scale.y, m.scale.z = scale
    m.color.r, m.color.g, m.color.b, m.color.a = rgba
    return m


def sphere(ns: str, frame: str, stamp, position, rgba, diameter: float = 0.03) -> Marker:
    m = _marker(ns, Marker.SPHERE, frame, stamp, rgba, (diameter,) * 3)
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in position)
    return m


def cube(ns: str, frame: str, stamp, position, rgba, side: float = 0.04) -> Marker:
    m = sphere(ns, frame, stamp, position, rgba)
    m.type = Marker.CUBE
    m.scale.x = m.scale.y = m.scale.z = side
    return m


def box_edges(ns: str, frame: str, stamp, low, high, rgba=(0.2, 0.6, 1.0, 0.8)) -> Marker:
    """The workspace box as 12 line segments."""
    m = _marker(ns, Marker.LINE_LIST, frame, stamp, rgba, (0.004, 0.0, 0.0))
    corners = list(itertools.product(*zip(low, high, strict=True)))
    for a, b in itertools.combinations(corners, 2):
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            m.points += [
                Point(x=float(a[0]), y=float(a[1]), z=float(a[2])),
                Point(x=float(b[0]), y=float(b[1]), z=float(b[2])),
            ]
    return m


def text(ns: str, frame: str, stamp, position, message: str, rgba=(1.0, 1.0, 1.0, 1.0)) -> Marker:
    m = sphere(ns, frame, stamp, position, rgba)
    m.type, m.text = Marker.TEXT_VIEW_FACING, message
    m.scale.z = 0.04
    return m


def operator_view(frame: str, stamp, box, target, belief: dict, goal) -> MarkerArray:
    """Workspace box, commanded target (yellow), the student's belief decoded by the teacher's
    state decoder (green end effector, blue cube) and the clicked goal (red)."""
    out = MarkerArray()
    out.markers.append(box_edges("workspace", frame, stamp, box.low, box.high))
    out.markers.append(sphere("target", frame, stamp, target, (1.0, 0.8, 0.0, 1.0), 0.02))
    out.markers.append(sphere("belief_ee", frame, stamp, belief["ee_pos"], (0.2, 1.0, 0.2, 0.6)))
    out.markers.append(cube("belief_cube", frame, stamp, belief["cube_pos"], (0.2, 0.4, 1.0, 0.6)))
    if goal is not None:
        out.markers.append(sphere("goal", frame, stamp, goal, (1.0, 0.0, 0.0, 0.8), 0.05))
    return out
