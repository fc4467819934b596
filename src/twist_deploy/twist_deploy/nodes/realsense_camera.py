"""RealSense colour camera node (pyrealsense2), publishing on the realsense-ros driver's topics."""

from __future__ import annotations

import threading

from builtin_interfaces.msg import Time
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from twist_deploy.nodes.common import SENSOR_QOS, declare, run_node
from twist_deploy.realsense import ColorCamera, ColorStreamConfig

DEFAULTS = {
    "serial": "",
    "width": 640,
    "height": 480,
    "fps": 30,
    "image_topic": "/camera/camera/color/image_raw",
    "camera_info_topic": "/camera/camera/color/camera_info",
    "frame_id": "camera_color_optical_frame",
}


class RealSenseCamera(Node):
    def __init__(self, device=None, **node_kwargs):
        """device: an rs.device to open instead of looking one up by serial (tests pass a software device)."""
        super().__init__("twist_realsense", **node_kwargs)
        p = declare(self, DEFAULTS)
        self.frame_id = p["frame_id"]
        self.camera = ColorCamera(
            ColorStreamConfig(p["width"], p["height"], p["fps"], p["serial"]), device=device
        )
        self.image_pub = self.create_publisher(Image, p["image_topic"], SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, p["camera_info_topic"], SENSOR_QOS)
        self.published = 0
        self.running = True
        self.thread = threading.Thread(target=self.capture, daemon=True, name="realsense")
        self.thread.start()

    def capture(self) -> None:
        while self.running:
            frame = self.camera.read(timeout_s=0.5)
            if frame is None:
                continue
            stamp = Time(sec=int(frame.stamp), nanosec=int((frame.stamp % 1.0) * 1e9))
            h, w = frame.rgb.shape[:2]
            msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w)
            msg.header.stamp, msg.header.frame_id = stamp, self.frame_id
            msg.data = frame.rgb.tobytes()
            self.image_pub.publish(msg)
            self.info_pub.publish(self.camera_info(stamp, h, w))
            self.published += 1

    def camera_info(self, stamp, h: int, w: int) -> CameraInfo:
        i = self.camera.intrinsics()
        info = CameraInfo(height=h, width=w, distortion_model="plumb_bob", d=[float(c) for c in i["coeffs"]])
        info.header.stamp, info.header.frame_id = stamp, self.frame_id
        info.k = [i["fx"], 0.0, i["ppx"], 0.0, i["fy"], i["ppy"], 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [i["fx"], 0.0, i["ppx"], 0.0, 0.0, i["fy"], i["ppy"], 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def destroy_node(self):
        self.running = False
        self.thread.join(timeout=2.0)
        self.camera.close()
        return super().destroy_node()


def main(args=None) -> None:
    run_node(RealSenseCamera, "twist_realsense", args=args)
