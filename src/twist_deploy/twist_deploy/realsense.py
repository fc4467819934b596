"""RealSense colour capture with pyrealsense2 (for setups without the realsense-ros driver).

Opens the colour sensor of a device (a real camera by serial, or any rs.device such as an
rs.software_device that tests feed) at an RGB8 profile and hands out the newest frame. ROS-free;
nodes/realsense_camera.py publishes what it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

try:
    import pyrealsense2 as rs
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError(
        "pyrealsense2 failed to import; `pip install pyrealsense2` and install libusb-1.0-0 (Debian)"
    ) from exc


@dataclass(frozen=True)
class ColorStreamConfig:
    """width, height, fps: the colour profile to open (RGB8). serial: camera serial, "" = first."""

    width: int = 640
    height: int = 480
    fps: int = 30
    serial: str = ""

    def __post_init__(self) -> None:
        for name in ("width", "height", "fps"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"ColorStreamConfig.{name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ColorFrame:
    rgb: np.ndarray  # uint8 (height, width, 3)
    stamp: float  # seconds since the epoch (host clock)
    number: int


def find_device(serial: str):
    devices = list(rs.context().query_devices())
    if not devices:
        raise RuntimeError("no RealSense camera connected")
    for dev in devices:
        if not serial or dev.get_info(rs.camera_info.serial_number) == serial:
            return dev
    found = [d.get_info(rs.camera_info.serial_number) for d in devices]
    raise RuntimeError(f"no RealSense camera with serial {serial!r}; connected: {found}")


class ColorCamera:
    def __init__(self, cfg: ColorStreamConfig, device=None):
        self.cfg = cfg
        self.device = device if device is not None else find_device(cfg.serial)
        self.sensor, self.profile = self._find_profile()
        # Room for two: the newest frame is taken and older ones are drained, never queued.
        self.queue = rs.frame_queue(2)
        self.sensor.open(self.profile)
        self.sensor.start(self.queue)

    def _find_profile(self):
        seen = []
        for sensor in self.device.query_sensors():
            for profile in sensor.get_stream_profiles():
                if profile.stream_type() != rs.stream.color or not profile.is_video_stream_profile():
                    continue
                video = profile.as_video_stream_profile()
                seen.append(f"{video.width()}x{video.height()}@{video.fps()} {profile.format()}")
                if (video.width(), video.height(), video.fps(), profile.format()) == (
                    self.cfg.width, self.cfg.height, self.cfg.fps, rs.format.rgb8,
                ):  # fmt: skip
                    return sensor, video
        want = f"{self.cfg.width}x{self.cfg.height}@{self.cfg.fps} format.rgb8"
        raise ValueError(f"camera offers no colour profile {want}; it offers: {sorted(set(seen))}")

    def intrinsics(self) -> dict:
        i = self.profile.get_intrinsics()
        return {
            "fx": i.fx,
            "fy": i.fy,
            "ppx": i.ppx,
            "ppy": i.ppy,
            "coeffs": list(i.coeffs),
            "model": str(i.model),
        }

    def read(self, timeout_s: float = 1.0) -> ColorFrame | None:
        """The newest frame, waiting up to timeout_s for one; None on timeout."""
        ok, frame = self.queue.try_wait_for_frame(int(timeout_s * 1000))
        if not ok:
            return None
        while newer := self.queue.poll_for_frame():  # an empty frame is falsy
            frame = newer
        video = frame.as_video_frame()
        h, w = video.get_height(), video.get_width()
        rows = np.asanyarray(video.get_data()).reshape(h, -1)
        rgb = np.array(rows[:, : w * 3].reshape(h, w, 3), copy=True)
        # Hardware-clock stamps are not host time: fall back to arrival time for those.
        domain = video.get_frame_timestamp_domain()
        host = domain in (rs.timestamp_domain.system_time, rs.timestamp_domain.global_time)
        stamp = video.get_timestamp() / 1e3 if host else time.time()
        return ColorFrame(rgb=rgb, stamp=stamp, number=int(video.get_frame_number()))

    def close(self) -> None:
        self.sensor.stop()
        self.sensor.close()
