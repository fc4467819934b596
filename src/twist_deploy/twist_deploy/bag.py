"""rosbag2 (MCAP storage) writing with the mcap library, so trials are recorded without `ros2 bag`.

A bag is a directory `NAME/` holding `NAME_0.mcap` and a rosbag2 `metadata.yaml`, which is what
`ros2 bag info/play NAME` opens. Messages arrive already CDR-serialised (rclpy subscriptions with
raw=True), so recording costs no deserialisation. Schemas are the `ros2msg` text rosbag2 writes:
the type's .msg definition followed by each dependency after a separator line.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml
from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType, Writer

_BUILTINS = {
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring",
}  # fmt: skip
_SEPARATOR = "=" * 80


def share_dirs() -> list[Path]:
    """Where installed interface packages keep their share/<pkg>/msg/*.msg files."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes += [sys.prefix, *sorted(str(p) for p in Path("/opt/ros").glob("*"))]
    return [Path(p) / "share" for p in prefixes]


def _find_msg(type_name: str) -> str:
    pkg, _, name = type_name.partition("/msg/")
    for share in share_dirs():
        path = share / pkg / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text()
    raise FileNotFoundError(f"no definition for {type_name} under {[str(s) for s in share_dirs()]}")


def _dependencies(type_name: str, text: str) -> list[str]:
    pkg = type_name.partition("/")[0]
    deps = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or "=" in parts[1] or (len(parts) > 2 and parts[2].startswith("=")):
            continue  # constants carry no nested type
        base = re.sub(r"\[.*\]$", "", parts[0]).split("<=")[0]
        if base in _BUILTINS:
            continue
        dep_pkg, _, dep_name = base.rpartition("/")
        deps.append(f"{dep_pkg or pkg}/msg/{dep_name}")
    return deps


def message_definition(type_name: str) -> str:
    """Full ros2msg schema text for e.g. 'sensor_msgs/msg/Image', dependencies included."""
    seen: list[str] = []

    def visit(t: str) -> None:
        for dep in _dependencies(t, _find_msg(t)):
            if dep not in seen:
                seen.append(dep)
                visit(dep)

    visit(type_name)
    parts = [_find_msg(type_name).strip()]
    for dep in seen:
        pkg, _, name = dep.partition("/msg/")
        parts.append(f"{_SEPARATOR}\nMSG: {pkg}/{name}\n{_find_msg(dep).strip()}")
    return "\n".join(parts) + "\n"


class BagWriter:
    """Write one rosbag2 MCAP bag. Register topics, write CDR bytes, close() to finish.

    The MCAP file is written under a temporary name and renamed on close, so a bag directory with
    an .mcap in it is always a complete bag.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=False)
        self.path = self.directory / f"{self.directory.name}_0.mcap"
        self._tmp = self.path.with_suffix(".mcap.part")
        self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="twist_deploy")
        self._channels: dict[str, tuple[int, str]] = {}
        self._schemas: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._start_ns: int | None = None
        self._end_ns = 0

    def add_topic(self, topic: str, type_name: str) -> None:
        if topic in self._channels:
            return
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                name=type_name.replace("/msg/", "/"),
                encoding=SchemaEncoding.ROS2,
                data=message_definition(type_name).encode(),
            )
        channel = self._writer.register_channel(topic, MessageEncoding.CDR, self._schemas[type_name])
        self._channels[topic] = (channel, type_name)
        self._counts[topic] = 0

    def write(self, topic: str, cdr: bytes, log_time_ns: int) -> None:
        channel, _ = self._channels[topic]
        self._writer.add_message(
            channel,
            log_time=log_time_ns,
            data=bytes(cdr),
            publish_time=log_time_ns,
            sequence=self._counts[topic],
        )
        self._counts[topic] += 1
        self._start_ns = log_time_ns if self._start_ns is None else min(self._start_ns, log_time_ns)
        self._end_ns = max(self._end_ns, log_time_ns)

    def close(self) -> Path:
        self._writer.finish()
        self._file.close()
        os.replace(self._tmp, self.path)
        start = self._start_ns or 0
        topics = [
            {
                "topic_metadata": {
                    "name": topic,
                    "type": type_name,
                    "serialization_format": "cdr",
                    "offered_qos_profiles": "",
                    "type_description_hash": "",
                },
                "message_count": self._counts[topic],
            }
            for topic, (_, type_name) in self._channels.items()
        ]
        info = {
            "rosbag2_bagfile_information": {
                "version": 9,
                "storage_identifier": "mcap",
                "duration": {"nanoseconds": max(0, self._end_ns - start)},
                "starting_time": {"nanoseconds_since_epoch": start},
                "message_count": sum(self._counts.values()),
                "topics_with_message_count": topics,
                "compression_format": "",
                "compression_mode": "",
                "relative_file_paths": [self.path.name],
                "files": [
                    {
                        "path": self.path.name,
                        "starting_time": {"nanoseconds_since_epoch": start},
                        "duration": {"nanoseconds": max(0, self._end_ns - start)},
                        "message_count": sum(self._counts.values()),
                    }
                ],
                "custom_data": {},
                "ros_distro": "kilted",
            }
        }
        (self.directory / "metadata.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
        return self.path
