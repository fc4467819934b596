"""The one image preprocessing function, shared by training, evaluation and the robot node.

Images are RGB uint8 (height, width, 3). Preprocessing centre-crops to a square (or to an
explicit crop box), then resizes to (size, size) with area averaging. It returns uint8 so the
same bytes go into the dataset and into the model; the model's encoder does the float
conversion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PreprocessSpec:
    """How a camera image becomes a model input.

    size: side of the square model input in pixels.
    crop: (top, left, height, width) box in the raw image, or None for the largest centred square.
    """

    size: int = 64
    crop: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 8:
            raise ValueError(f"PreprocessSpec.size must be an int >= 8, got {self.size!r}")
        if self.crop is not None:
            if len(self.crop) != 4 or any(int(c) != c for c in self.crop):
                raise ValueError(
                    f"PreprocessSpec.crop must be 4 ints (top, left, height, width), got {self.crop!r}"
                )
            top, left, h, w = self.crop
            if top < 0 or left < 0 or h <= 0 or w <= 0:
                raise ValueError(
                    f"PreprocessSpec.crop must be non-negative with positive size, got {self.crop!r}"
                )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["crop"] = list(self.crop) if self.crop is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessSpec:
        crop = d.get("crop")
        return cls(size=int(d["size"]), crop=tuple(int(c) for c in crop) if crop is not None else None)


def preprocess_image(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Crop and resize one RGB image.

    image: uint8 (height, width, 3). Returns uint8 (spec.size, spec.size, 3), C-contiguous.
    Raises ValueError for anything that is not an RGB uint8 image or a crop outside it.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", None)
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got shape={shape} dtype={dtype}")
    h, w = image.shape[:2]
    if spec.crop is None:
        side = min(h, w)
        top, left, ch, cw = (h - side) // 2, (w - side) // 2, side, side
    else:
        top, left, ch, cw = spec.crop
        if top + ch > h or left + cw > w:
            raise ValueError(f"crop {spec.crop} lies outside the {h}x{w} image")
    crop = image[top : top + ch, left : left + cw]
    if crop.shape[0] == spec.size and crop.shape[1] == spec.size:
        return np.ascontiguousarray(crop)
    resized = Image.fromarray(crop).resize((spec.size, spec.size), Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.uint8)
