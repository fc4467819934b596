"""RealSense capture through the real SDK: frames injected with rs.software_device come out of the
node as sensor_msgs/Image + CameraInfo on the driver's topics, pixel for pixel."""

import time

import numpy as np
import pyrealsense2 as rs
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from twist_deploy.images import decode_image
from twist_deploy.nodes.common import SENSOR_QOS, spin_in_thread
from twist_deploy.realsense import ColorCamera, ColorStreamConfig

W, H, FPS = 64, 48, 30


def software_camera():
    dev = rs.software_device()
    sensor = dev.add_sensor("Color")
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = rs.stream.color, 0, 0
    stream.width, stream.height, stream.fps, stream.bpp, stream.fmt = W, H, FPS, 3, rs.format.rgb8
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = W, H, 55.0, 56.0, 31.5, 23.5
    intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
    stream.intrinsics = intr
    profile = sensor.add_video_stream(stream).as_video_stream_profile()
    keep = []  # the SDK reads the pixels after on_video_frame returns

    def inject(rgb: np.ndarray, number: int, stamp_s: float) -> None:
        frame = rs.software_video_frame()
        keep.append(np.ascontiguousarray(rgb))
        frame.pixels, frame.stride, frame.bpp = keep[-1], W * 3, 3
        frame.timestamp, frame.domain, frame.frame_number = (
            stamp_s * 1e3,
            rs.timestamp_domain.system_time,
            number,
        )
        frame.profile = profile
        sensor.on_video_frame(frame)

    return dev, inject


def test_profile_mismatch_is_a_clear_error():
    dev, _ = software_camera()
    with pytest.raises(ValueError, match="640x480@30"):
        ColorCamera(ColorStreamConfig(), device=dev)


def test_newest_frame_only():
    dev, inject = software_camera()
    cam = ColorCamera(ColorStreamConfig(W, H, FPS), device=dev)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(2)]
    for i, f in enumerate(frames):
        inject(f, i, 1000.0 + i)
    got = cam.read(timeout_s=2.0)
    cam.close()
    assert got.number == 1 and got.stamp == pytest.approx(1001.0)
    np.testing.assert_array_equal(got.rgb, frames[1])


def test_node_publishes_injected_frames(domain_id):
    from twist_deploy.nodes.realsense_camera import RealSenseCamera

    dev, inject = software_camera()
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    params = [Parameter("width", value=W), Parameter("height", value=H), Parameter("fps", value=FPS)]
    node = RealSenseCamera(device=dev, context=ctx, parameter_overrides=params)
    client = rclpy.create_node("rs_test", context=ctx)
    images, infos = [], []
    client.create_subscription(Image, "/camera/camera/color/image_raw", images.append, SENSOR_QOS)
    client.create_subscription(CameraInfo, "/camera/camera/color/camera_info", infos.append, SENSOR_QOS)
    executor = MultiThreadedExecutor(num_threads=2, context=ctx)
    executor.add_node(node)
    executor.add_node(client)
    spin_in_thread(executor)
    try:
        deadline = time.monotonic() + 5.0
        while node.image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
        t0 = time.time()
        for i in range(50):  # best effort: keep injecting until one arrives
            inject(rgb, i, t0 + i / FPS)
            time.sleep(1 / FPS)
            if images and infos:
                break
        assert images and infos
        msg = images[-1]
        np.testing.assert_array_equal(
            decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.data), rgb
        )
        assert msg.header.stamp.sec >= int(t0) and msg.header.frame_id == "camera_color_optical_frame"
        np.testing.assert_allclose(
            np.array(infos[-1].k).reshape(3, 3), [[55.0, 0, 31.5], [0, 56.0, 23.5], [0, 0, 1]]
        )
    finally:
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        client.destroy_node()
        rclpy.try_shutdown(context=ctx)
