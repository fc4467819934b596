"""Trial bags are rosbag2 MCAP files that mcap-ros2 decodes back to the recorded messages."""

import yaml
from geometry_msgs.msg import PoseStamped
from mcap_ros2.reader import read_ros2_messages
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from twist_deploy.bag import BagWriter, message_definition


def test_definition_includes_dependencies():
    text = message_definition("geometry_msgs/msg/PoseStamped")
    for dep in (
        "MSG: std_msgs/Header",
        "MSG: geometry_msgs/Pose",
        "MSG: geometry_msgs/Point",
        "MSG: builtin_interfaces/Time",
    ):
        assert dep in text


def test_roundtrip(tmp_path):
    bag = BagWriter(tmp_path / "trial_001")
    bag.add_topic("/img", "sensor_msgs/msg/Image")
    bag.add_topic("/pose", "geometry_msgs/msg/PoseStamped")
    img = Image(height=2, width=2, encoding="rgb8", step=6)
    img.data = bytes(range(12))
    for i in range(3):
        pose = PoseStamped()
        pose.pose.position.x = 0.1 * i
        bag.write("/pose", serialize_message(pose), 1_000 + i)
    bag.write("/img", serialize_message(img), 2_000)
    path = bag.close()
    assert not list(path.parent.glob("*.part"))
    messages = list(read_ros2_messages(path))
    poses = [m.ros_msg.pose.position.x for m in messages if m.channel.topic == "/pose"]
    assert poses == [0.0, 0.1, 0.2]
    (image,) = [m.ros_msg for m in messages if m.channel.topic == "/img"]
    assert image.encoding == "rgb8" and bytes(image.data) == bytes(range(12))
    meta = yaml.safe_load((path.parent / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == "mcap" and meta["message_count"] == 4
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}
    assert counts == {"/img": 1, "/pose": 3}
