"""`twist-bringup TASK --sim`: the launch file's node graph in one Python process, then trials.

The same nodes and parameter files as launch/TASK.launch.py, for machines without `ros2 launch`
(tests, the demo). Runs --trials trials back to back and prints the session summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="twist-bringup", description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("block_push", "block_lift"))
    parser.add_argument(
        "--sim",
        action="store_true",
        required=True,
        help="run against the sim twin (the only mode without a robot)",
    )
    parser.add_argument(
        "--bundle", type=Path, help="policy bundle directory (default: an untrained debug bundle)"
    )
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--session-dir", type=Path, default=Path("runs/deploy"))
    parser.add_argument("--interface", default="pose", choices=("pose", "multipanda", "twist"))
    parser.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    args = parser.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    from twist_deploy.nodes.graph import Graph

    bundle = args.bundle
    if bundle is None:
        from twist_models.testing import make_debug_bundle

        bundle = make_debug_bundle(Path(tempfile.mkdtemp(prefix="twist_bundle_")), task=args.task, seed=0)
        print(f"[twist-bringup] no --bundle: using an UNTRAINED debug bundle at {bundle}", file=sys.stderr)
    graph = Graph(
        args.task, bundle, domain_id=args.domain_id, session_dir=args.session_dir, interface=args.interface
    )
    try:
        graph.run_trials(args.trials)
        print(json.dumps(graph.state(), indent=2))
    finally:
        graph.shutdown()
