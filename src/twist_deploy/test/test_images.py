"""Image message decoding honours encoding and step; malformed messages raise with a reason."""

import array

import numpy as np
import pytest
from twist_deploy.images import ENCODINGS, MalformedImage, decode_image, encode_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_roundtrip_with_row_padding(encoding, pad):
    h, w, step, data = encode_image(RGB, encoding)
    rows = np.frombuffer(data, np.uint8).reshape(h, step)
    padded = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    out = decode_image(encoding, h, w, step + pad, array.array("B", padded.tobytes()))
    np.testing.assert_array_equal(out, RGB)
    assert out.flags.c_contiguous


def test_bgr_really_swaps_channels():
    pixel = np.array([[[10, 20, 30]]], np.uint8)
    np.testing.assert_array_equal(decode_image("bgr8", 1, 1, 3, bytes([30, 20, 10])), pixel)
    np.testing.assert_array_equal(decode_image("rgb8", 1, 1, 3, bytes([10, 20, 30])), pixel)


def test_mono8_replicates_grey():
    out = decode_image("mono8", 2, 2, 3, bytes([1, 2, 0, 3, 4, 0]))
    np.testing.assert_array_equal(out[..., 0], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("big", [0, 1])
def test_sixteen_bit_keeps_high_byte(big):
    values = np.array([[[0x1234, 0xABCD, 0x00FF]]], np.uint16)
    data = values.astype(">u2" if big else "<u2").tobytes()
    np.testing.assert_array_equal(decode_image("rgb16", 1, 1, 6, data, big), [[[0x12, 0xAB, 0x00]]])


@pytest.mark.parametrize(
    "fields, reason",
    [
        (("yuv422", 2, 2, 4, bytes(8)), "encoding"),
        (("rgb8", 0, 2, 6, b""), "size"),
        (("rgb8", 2, 2, 5, bytes(10)), "step"),
        (("rgb8", 2, 2, 6, b""), "data"),
        (("rgb8", 2, 2, 6, bytes(11)), "data"),
        (("bgra8", 4, 4, 16, bytes(16 * 3)), "data"),
    ],
)
def test_malformed_reasons(fields, reason):
    with pytest.raises(MalformedImage) as info:
        decode_image(*fields)
    assert info.value.reason == reason


def test_every_encoding_listed_decodes():
    for encoding, (channels, depth, _) in ENCODINGS.items():
        out = decode_image(encoding, 3, 4, 4 * channels * depth, bytes(3 * 4 * channels * depth))
        assert out.shape == (3, 4, 3) and out.dtype == np.uint8
