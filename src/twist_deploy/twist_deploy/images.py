"""sensor_msgs/Image <-> numpy without cv_bridge (its binary breaks under NumPy 2).

Works on the message's fields, so it needs no ROS: the node passes msg.encoding, msg.height,
msg.width, msg.step, msg.is_bigendian and msg.data. Rows may be padded (`step` > width * bytes per
pixel); padding is skipped, never read as pixels.
"""

from __future__ import annotations

import numpy as np

# encoding -> (channels, bytes per channel, index of R, G, B in the pixel; mono repeats channel 0)
ENCODINGS: dict[str, tuple[int, int, tuple[int, int, int]]] = {
    "rgb8": (3, 1, (0, 1, 2)),
    "bgr8": (3, 1, (2, 1, 0)),
    "rgba8": (4, 1, (0, 1, 2)),
    "bgra8": (4, 1, (2, 1, 0)),
    "mono8": (1, 1, (0, 0, 0)),
    "rgb16": (3, 2, (0, 1, 2)),
    "bgr16": (3, 2, (2, 1, 0)),
    "mono16": (1, 2, (0, 0, 0)),
}

# 4K RGBA is 33 MB; anything larger than this is a corrupted header, not a camera frame.
MAX_PIXELS = 4096 * 4096


class MalformedImage(ValueError):
    """An image message that cannot be decoded. `reason` is a short tag for counting."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def decode_image(
    encoding: str, height: int, width: int, step: int, data, is_bigendian: int = 0
) -> np.ndarray:
    """Decode image message fields to RGB uint8 (height, width, 3), C-contiguous.

    data: any buffer (bytes, array.array('B'), numpy). 16-bit encodings keep the high byte.
    Raises MalformedImage with reason one of: encoding, size, step, data.
    """
    if encoding not in ENCODINGS:
        raise MalformedImage(
            "encoding", f"unsupported encoding {encoding!r}, expected one of {sorted(ENCODINGS)}"
        )
    channels, depth, rgb = ENCODINGS[encoding]
    if height <= 0 or width <= 0 or height * width > MAX_PIXELS:
        raise MalformedImage("size", f"image size {width}x{height} is empty or implausible")
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise MalformedImage(
            "step", f"step {step} is shorter than one row ({row_bytes} bytes) for {encoding}"
        )
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if buf.size == 0:
        raise MalformedImage("data", "empty data")
    if buf.size != step * height:
        raise MalformedImage("data", f"data has {buf.size} bytes, expected step*height = {step * height}")
    rows = buf.reshape(height, step)[:, :row_bytes]
    if depth == 1:
        pixels = rows.reshape(height, width, channels)
    else:
        dtype = ">u2" if is_bigendian else "<u2"
        wide = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
        pixels = (wide >> 8).astype(np.uint8)
    return np.ascontiguousarray(pixels[:, :, list(rgb)])


def encode_image(rgb: np.ndarray, encoding: str = "rgb8") -> tuple[int, int, int, bytes]:
    """Encode RGB uint8 (height, width, 3) as `encoding` (8-bit encodings only).

    Returns (height, width, step, data) for the message fields.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected RGB uint8 (H, W, 3), got {rgb.shape} {rgb.dtype}")
    if encoding not in ENCODINGS or ENCODINGS[encoding][1] != 1:
        raise ValueError(f"encode_image supports the 8-bit encodings, got {encoding!r}")
    channels, _, order = ENCODINGS[encoding]
    h, w = rgb.shape[:2]
    if channels == 1:
        # ITU-R BT.601 luma, as OpenCV's RGB2GRAY.
        pixels = np.rint(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(
            np.uint8
        )
    else:
        pixels = np.empty((h, w, channels), np.uint8)
        pixels[:, :, list(order)] = rgb
        if channels == 4:
            pixels[:, :, 3] = 255
    return h, w, w * channels, np.ascontiguousarray(pixels).tobytes()
