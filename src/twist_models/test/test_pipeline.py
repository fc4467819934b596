"""End to end on the debug preset: teacher -> dataset -> distil -> export -> eval; exact resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from twist_models.bundle import export, read_bundle
from twist_models.checkpoint import student_lineage
from twist_models.config import load_preset
from twist_models.distill import distil
from twist_models.evaluate import main as eval_main
from twist_models.policy import StudentPolicy
from twist_models.snapshot import run_episodes, snapshot
from twist_models.train_teacher import train

pytest.importorskip("twist_sim.dataset")
torch.set_num_threads(1)


def _teacher(tmp_path, name, env_steps, max_minutes=None):
    preset = load_preset("debug", {"teacher": {"env_steps": env_steps}})
    return train("block_push", preset, tmp_path / name, progress=False, max_minutes=max_minutes)


def test_resume_continues_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "egl")
    straight = _teacher(tmp_path, "straight", 450)
    # A time budget of 0 minutes stops the 450-step run at its first checkpoint (150 steps).
    assert _teacher(tmp_path, "split", 450, max_minutes=0)["env_steps"] == 150
    # The same run carried through a snapshot (checkpoint + state replay, no images) to a copy.
    assert snapshot(tmp_path / "split", tmp_path / "snap")["env_steps"] == 150
    assert not (tmp_path / "snap" / "dataset").exists()
    # run.yaml names where the run ran (the report's compute table); the snapshot keeps that with
    # the wall-clock of the checkpoint it copied.
    live = yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())
    snap = yaml.safe_load((tmp_path / "snap" / "run.yaml").read_text())
    assert live["compute"]["device"] == "cpu" and live["compute"]["device_name"] not in ("", "auto")
    assert snap["compute"]["device_name"] == live["compute"]["device_name"]
    assert snap["compute"]["wall_s"] == snap["wall_s"] and snap["env_steps"] == 150
    shutil.copytree(tmp_path / "snap", tmp_path / "carried")
    resumed = _teacher(tmp_path, "split", 450)
    assert straight == resumed == _teacher(tmp_path, "carried", 450) and resumed["updates"] > 0
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    for other in ("split", "carried"):
        b = torch.load(tmp_path / other / "checkpoint.pt", weights_only=False)
        for key, value in a["agent"]["agent"].items():
            assert torch.equal(value, b["agent"]["agent"][key]), (other, key)
        assert a["updates"] == b["updates"] and a["env_steps"] == b["env_steps"] == 450
        assert a["agent"]["wm_opt"]["state"][0]["step"] == b["agent"]["wm_opt"]["state"][0]["step"]
    from twist_sim.dataset import EpisodeDataset

    # The carried run's D holds the episodes collected after the snapshot; replay.npz the rest.
    carried_d = EpisodeDataset(tmp_path / "carried" / "dataset")
    straight_d = EpisodeDataset(tmp_path / "straight" / "dataset")
    assert len(carried_d) == 2
    np.testing.assert_array_equal(carried_d.episode(1)["image"], straight_d.episode(2)["image"])
    # A snapshot of the carried run holds all three episodes, and distillation from a snapshot
    # (no D of its own) asks for --data.
    assert snapshot(tmp_path / "carried", tmp_path / "snap2")["episodes"] == 3
    with pytest.raises(ValueError, match="no matching dataset D"):
        distil(tmp_path / "snap2", load_preset("debug"), tmp_path / "student", progress=False)

    da, db = EpisodeDataset(tmp_path / "straight" / "dataset"), EpisodeDataset(tmp_path / "split" / "dataset")
    assert len(da) == len(db) == 3 and da.num_steps == 450
    for i in range(3):
        np.testing.assert_array_equal(da.episode(i)["image"], db.episode(i)["image"])
    # Running the finished command again changes nothing: no duplicated episodes.
    assert _teacher(tmp_path, "split", 450) == resumed
    assert len(EpisodeDataset(tmp_path / "split" / "dataset")) == 3


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teacher")
    counters = _teacher(tmp, "teacher", 300)
    assert counters["env_steps"] == 300 and counters["episodes"] == 2
    return tmp / "teacher"


def test_distillation_resume_continues_exactly(teacher_run, tmp_path):
    preset = load_preset("debug", {"distill": {"steps": 4, "checkpoint_every": 2}})
    distil(teacher_run, preset, tmp_path / "straight", progress=False)
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), tmp_path / "split", progress=False)
    wall_first_session = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)["wall_s"]
    # A spent time budget checkpoints the update in hand (3, between checkpoints) and stops.
    assert distil(teacher_run, preset, tmp_path / "split", progress=False, max_minutes=0)["updates"] == 3
    assert torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)["updates"] == 3
    assert yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())["updates"] == 3
    distil(teacher_run, preset, tmp_path / "split", progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert a["updates"] == b["updates"] == 4
    for key, value in a["distiller"]["student"].items():
        assert torch.equal(value, b["distiller"]["student"][key]), key
    # Wall-clock accumulates over the two sessions and reaches run.yaml for the report.
    split = yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())
    assert b["wall_s"] > wall_first_session > 0
    assert split["compute"]["wall_s"] == pytest.approx(b["wall_s"], abs=1e-3)
    assert split["wall_s"] == pytest.approx(b["wall_s"], abs=0.1)
    assert split["compute"]["device"] == "cpu" and split["compute"]["threads"] == 1


def test_distillation_init_from_starts_at_another_students_weights(teacher_run, tmp_path):
    """--init-from copies the weights (not updates or optimiser); a bad source is refused."""
    first = tmp_path / "first"
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), first, progress=False)
    weights = torch.load(first / "checkpoint.pt", weights_only=False)["distiller"]["student"]
    second = tmp_path / "second"
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 1, "checkpoint_every": 1, "lr": 1e-12}}),
           second, progress=False, init_from=first)  # fmt: skip
    ckpt = torch.load(second / "checkpoint.pt", weights_only=False)
    assert ckpt["updates"] == 1
    for key, value in weights.items():  # one update at lr 1e-12 leaves the copied weights in place
        assert torch.allclose(ckpt["distiller"]["student"][key], value, atol=1e-9), key
    assert yaml.safe_load((second / "run.yaml").read_text())["init_from"] == str(first.resolve())
    # The lineage (for the report's compute) holds the source's updates and wall-clock at the start.
    first_wall = torch.load(first / "checkpoint.pt", weights_only=False)["wall_s"]
    lineage = [{"run": str(first.resolve()), "updates": 2, "wall_s": round(first_wall, 1)}]
    assert yaml.safe_load((second / "run.yaml").read_text())["init_lineage"] == lineage
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), second, progress=False)  # resume
    second_meta = yaml.safe_load((second / "run.yaml").read_text())
    assert second_meta["init_from"] == str(first.resolve()) and second_meta["init_lineage"] == lineage
    # A third generation inherits both; it stays recorded when the ancestors are gone.
    third = tmp_path / "third_gen"
    distil(
        teacher_run, load_preset("debug", {"distill": {"steps": 1}}), third, progress=False, init_from=second
    )
    expected = [
        {"run": str(second.resolve()), "updates": 2, "wall_s": round(second_meta["wall_s"], 1)},
        *lineage,
    ]
    assert student_lineage(third) == expected
    shutil.rmtree(first)
    shutil.rmtree(second)
    assert student_lineage(third) == expected
    # A run from before lineages were recorded: followed through init_from while the runs exist.
    meta = yaml.safe_load((third / "run.yaml").read_text())
    meta.pop("init_lineage")
    (third / "run.yaml").write_text(yaml.safe_dump(meta))
    assert student_lineage(third) == [{"run": str(second.resolve()), "updates": None, "wall_s": None}]
    with pytest.raises(ValueError, match="no student checkpoint"):
        distil(teacher_run, load_preset("debug"), tmp_path / "third", progress=False, init_from=tmp_path)


def test_distillation_init_from_a_bundle_starts_at_its_students_weights(teacher_run, tmp_path):
    """--init-from a policy bundle (a shipped student keeps no student checkpoint): its student's
    weights, and the lineage its provenance records; a bundle of another task is refused."""
    first = tmp_path / "first"
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), first, progress=False)
    bundle = export(teacher_run, first, tmp_path / "bundle")
    tiny_lr = load_preset("debug", {"distill": {"steps": 1, "checkpoint_every": 1, "lr": 1e-12}})
    second = tmp_path / "second"
    distil(teacher_run, tiny_lr, second, progress=False, init_from=bundle)
    weights = torch.load(first / "checkpoint.pt", weights_only=False)["distiller"]["student"]
    ckpt = torch.load(second / "checkpoint.pt", weights_only=False)
    assert ckpt["updates"] == 1
    for key, value in weights.items():
        assert torch.allclose(ckpt["distiller"]["student"][key], value, atol=1e-9), key
    meta = yaml.safe_load((second / "run.yaml").read_text())
    assert meta["init_from"] == str(bundle.resolve())
    lineage = [{"run": str(first.resolve()), "bundle": str(bundle.resolve()), "updates": 2, "wall_s": None}]
    assert meta["init_lineage"] == lineage
    # scripts/ship_bundle.sh keeps the student's run.yaml in training/: its wall-clock joins in.
    (bundle / "training").mkdir()
    shutil.copy(first / "run.yaml", bundle / "training" / "student_run.yaml")
    third = tmp_path / "third"
    distil(teacher_run, tiny_lr, third, progress=False, init_from=bundle)
    wall = yaml.safe_load((first / "run.yaml").read_text())["wall_s"]
    assert student_lineage(third) == [{**lineage[0], "wall_s": round(wall, 1)}]
    shutil.rmtree(first)  # the lineage stays recorded
    assert student_lineage(third)[0]["updates"] == 2
    spec = yaml.safe_load((bundle / "bundle.yaml").read_text())
    (bundle / "bundle.yaml").write_text(yaml.safe_dump({**spec, "task": "block_lift"}, sort_keys=False))
    with pytest.raises(ValueError, match="a block_lift bundle, this teacher's task is block_push"):
        distil(teacher_run, tiny_lr, tmp_path / "fourth", progress=False, init_from=bundle)
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (bundle / "student.safetensors").write_bytes(b"not tensors")
    with pytest.raises(ValueError, match="student.safetensors: sha256 does not match"):
        distil(teacher_run, tiny_lr, tmp_path / "fourth", progress=False, init_from=bundle)


def test_end_to_end_debug_pipeline(teacher_run, tmp_path):
    run = teacher_run
    from twist_sim.dataset import EpisodeDataset

    data = EpisodeDataset(run / "dataset")
    ep = data.episode(0)
    assert ep["image"].shape == (151, 64, 64, 3) and ep["state"].shape == (151, 14)
    assert ep["is_first"][0] and ep["is_last"][-1] and not ep["is_terminal"].any()

    result = distil(run, load_preset("debug"), tmp_path / "student", progress=False)
    assert result["updates"] == 4 and np.isfinite(result["distil/loss"]) and result["distil/loss"] > 0
    assert (tmp_path / "student" / "tb").is_dir()
    # resume of a finished distillation does nothing more
    assert distil(run, load_preset("debug"), tmp_path / "student", progress=False)["updates"] == 4

    bundle = export(run, tmp_path / "student", tmp_path / "bundle")
    spec, _ = read_bundle(bundle)
    assert spec.task == "block_push" and spec.action_dim == 3 and spec.provenance["teacher_env_steps"] == 300
    assert spec.provenance["student_data"] == [] and spec.provenance["student_data_steps"] == 300
    assert spec.provenance["student_init_lineage"] == []  # distilled from scratch
    policy = StudentPolicy.load(bundle)
    assert policy.step(ep["image"][0]).shape == (3,)

    out = tmp_path / "eval.json"
    eval_main(["--bundle", str(bundle), "--split", "heldout", "--episodes", "1", "--json", str(out),
               "--compare-teacher", str(run)])  # fmt: skip
    result = json.loads(out.read_text())
    assert result["method"] == "twist" and result["split"] == "heldout"
    assert 0.0 <= result["success_rate"] <= 1.0 and len(result["returns"]) == 1 and result["mean_return"] < 0
    assert 0.0 <= result["action_gap_to_teacher"] <= 2.0 and result["belief_error_m"] > 0
    # The cube relative to the gripper: at most the sum of the two errors, whose mean is belief_error_m.
    assert 0.0 < result["belief_error_relative_m"] <= 2 * result["belief_error_m"] + 1e-9
    assert 0.0 < result["action_gap_of_zero_action"] <= 1.0

    # On recorded episodes of D (the last one here): the same two figures, teacher-forced.
    eval_main(["--bundle", str(bundle), "--compare-teacher", str(run), "--on-dataset", str(run / "dataset"),
               "--episodes", "1", "--json", str(out)])  # fmt: skip
    agreement = json.loads(out.read_text())
    assert agreement["dataset_episodes"] == [1] and agreement["steps"] == 151
    assert 0.0 < agreement["action_gap_to_teacher"] <= 2.0 and agreement["h_mse"] > 0
    with pytest.raises(ValueError, match="holds 2 episodes"):
        eval_main(["--bundle", str(bundle), "--compare-teacher", str(run), "--on-dataset", str(run / "dataset"),
                   "--episodes", "3"])  # fmt: skip
    eval_main(["--teacher", str(run), "--episodes", "1", "--json", str(tmp_path / "oracle.json")])
    oracle = json.loads((tmp_path / "oracle.json").read_text())
    assert oracle["method"] == "oracle"
    # Gap and belief error per 10 steps of the episode (150 steps: 15 windows), with the student driving.
    assert result["driver"] == "student" and len(result["action_gap_by_step"]) == 15
    assert np.mean(result["action_gap_by_step"]) == pytest.approx(result["action_gap_to_teacher"], rel=1e-3)
    assert len(result["belief_error_m_by_step"]) == 15
    # --teacher-drives: the teacher acts, so the episode is the Oracle's own (same return), and the
    # student's gap is measured on the teacher's states.
    eval_main(["--bundle", str(bundle), "--compare-teacher", str(run), "--teacher-drives", "--episodes", "1",
               "--json", str(out)])  # fmt: skip
    driven = json.loads(out.read_text())
    assert driven["method"] == "teacher_drives" and driven["driver"] == "teacher"
    assert driven["returns"] == pytest.approx(oracle["returns"], abs=1e-6)
    assert 0.0 <= driven["action_gap_to_teacher"] <= 2.0
    with pytest.raises(SystemExit):
        eval_main(["--bundle", str(bundle), "--teacher-drives", "--episodes", "1"])


def test_teacher_run_saves_task_state_normalisation(teacher_run):
    from twist_models.checkpoint import load_teacher, read_run
    from twist_models.config import task_state_norm

    meta = read_run(teacher_run)
    offset, scale = task_state_norm("block_push", {k: tuple(v) for k, v in meta["state_layout"].items()})
    assert (
        meta["preset"]["model"]["state_offset"] == offset and meta["preset"]["model"]["state_scale"] == scale
    )
    agent, _, _ = load_teacher(teacher_run)
    torch.testing.assert_close(agent.wm.encoder.norm.scale, torch.tensor(scale))
    torch.testing.assert_close(agent.wm.decoder.norm.offset, torch.tensor(offset))


def test_expert_prefill_episodes_come_first_and_succeed(tmp_path):
    """teacher.expert_episodes: the first episodes of D are the scripted expert's (noise-free
    here, so they solve the push); the rest of the prefill is random."""
    from twist_sim.dataset import EpisodeDataset

    overrides = {"teacher": {"env_steps": 450, "prefill": 450, "expert_episodes": 2, "expert_noise": 0.0}}
    train("block_push", load_preset("debug", overrides), tmp_path / "run", progress=False)
    data = EpisodeDataset(tmp_path / "run" / "dataset")
    assert len(data) == 3
    returns = [float(data.episode(i)["reward"].sum()) for i in range(3)]
    assert all(bool(data.episode(i)["success"][-1]) for i in range(2))
    assert min(returns[:2]) > 0 > returns[2]  # success bonus vs. a random episode


def test_expert_prefill_needs_a_scripted_expert(tmp_path):
    preset = load_preset("debug", {"teacher": {"env_steps": 10, "expert_episodes": 1}})
    with pytest.raises(ValueError, match="expert_episodes > 0 needs a scripted expert"):
        train("cartpole_balance", preset, tmp_path / "run", progress=False)


def test_belief_offset_moves_the_positions_the_teacher_sees_and_d_keeps_the_true_state(tmp_path, monkeypatch):
    """teacher.belief_offset (not in the paper): while it acts the teacher sees the end effector
    and the cube each moved by one offset per episode, within the radius; D records the truth."""
    from twist_sim.dataset import EpisodeDataset

    from twist_models import train_teacher

    seen: list[np.ndarray] = []
    real_act = train_teacher.Dreamer.act

    def act(self, state, carry, explore=False):
        if explore:  # collecting D (the periodic evaluation acts on the true state, deterministically)
            seen.append(state[0].cpu().numpy().copy())
        return real_act(self, state, carry, explore=explore)

    monkeypatch.setattr(train_teacher.Dreamer, "act", act)
    overrides = {"teacher": {"env_steps": 300, "prefill": 0, "belief_offset": 0.05}}
    train("block_push", load_preset("debug", overrides), tmp_path / "run", progress=False)
    run = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())
    assert run["preset"]["teacher"]["belief_offset"] == 0.05
    layout = run["state_layout"]
    data = EpisodeDataset(tmp_path / "run" / "dataset")
    assert len(data) == 2 and len(seen) == data.num_steps  # the agent acted at every step
    offsets = []
    for i in range(2):
        states = data.episode(i)["state"]
        ep_seen = np.stack(seen[i * (len(states) - 1) : (i + 1) * (len(states) - 1)])
        diff = ep_seen - states[:-1]
        np.testing.assert_allclose(diff, np.broadcast_to(diff[0], diff.shape), atol=1e-6)  # one per episode
        moved = np.zeros(diff.shape[1], bool)
        for name in ("ee_pos", "cube_pos"):
            lo, hi = layout[name]
            moved[lo:hi] = True
            assert 0 < np.linalg.norm(diff[0, lo:hi]) <= 0.05 + 1e-6
        assert not diff[0, ~moved].any()  # nothing else moves (the cube-goal distance stays true)
        offsets.append(diff[0])
    assert not np.allclose(offsets[0], offsets[1])


def test_replay_sequences_get_their_own_belief_offset_and_a_zero_radius_leaves_the_stream():
    from twist_models.train_teacher import StateReplay, belief_offset

    positions = [slice(0, 3), slice(3, 6)]
    rng = np.random.default_rng(0)
    row = rng.normal(size=14).astype(np.float32)  # the same state at every step: any start shows the offset
    episode = {"state": np.tile(row, (151, 1)), "action": np.zeros((151, 3), np.float32),
               "reward": rng.normal(size=151).astype(np.float32), "is_first": np.arange(151) == 0,
               "is_terminal": np.zeros(151, bool)}  # fmt: skip
    plain, zero, moved = (StateReplay(np.random.default_rng(1)), StateReplay(np.random.default_rng(1), 0.0, positions),
                          StateReplay(np.random.default_rng(1), 0.05, positions))  # fmt: skip
    for replay in (plain, zero, moved):
        replay.add(episode)
    a, b, c = plain.sample(8, 50), zero.sample(8, 50), moved.sample(8, 50)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # The first sequence is the same (its offset is drawn after its start), its positions moved.
    for key in ("action", "reward", "is_first"):
        np.testing.assert_array_equal(a[key][0], c[key][0])
    diff = c["state"] - row
    for i in range(8):
        assert np.allclose(diff[i], diff[i, 0], atol=1e-6)  # one offset per sequence
        assert (
            0 < np.linalg.norm(diff[i, 0, :3]) <= 0.05 + 1e-6
            and 0 < np.linalg.norm(diff[i, 0, 3:6]) <= 0.05 + 1e-6
        )
        assert not diff[i, 0, 6:].any()
    assert not np.allclose(diff[0, 0], diff[1, 0])
    norms = [np.linalg.norm(belief_offset(positions, 14, 0.05, rng)[:3]) for _ in range(2000)]
    assert max(norms) <= 0.05 and 0.022 < np.mean(norms) < 0.028  # uniform in [0, radius]
    with pytest.raises(ValueError, match="belief_offset = 0.05 needs a state with an end effector"):
        StateReplay(np.random.default_rng(1), 0.05, [])


def test_teacher_rollouts_resume_and_feed_the_student(teacher_run, tmp_path):
    """twist-teacher-rollouts: D's format, same data for the same seed however often it is
    resumed, a guard against mixing teachers; twist-distill --data samples it with D."""
    from twist_models.rollouts import teacher_rollouts
    from twist_sim.dataset import EpisodeDataset

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    teacher_rollouts(teacher_run, 2, straight, seed=3, progress=False)
    teacher_rollouts(teacher_run, 1, resumed, seed=3, progress=False)
    counts = teacher_rollouts(teacher_run, 2, resumed, seed=3, progress=False)  # continues at episode 1
    assert counts["episodes"] == 2 and counts["steps"] == EpisodeDataset(straight).num_steps
    own = EpisodeDataset(teacher_run / "dataset").episode(0)
    a, b = EpisodeDataset(straight), EpisodeDataset(resumed)
    for i in range(2):
        ea, eb = a.episode(i), b.episode(i)
        assert set(ea) == set(own)
        for key, value in ea.items():
            assert value.dtype == own[key].dtype and value.shape[1:] == own[key].shape[1:], key
            np.testing.assert_array_equal(value, eb[key], err_msg=key)
    assert not np.array_equal(a.episode(0)["state"], a.episode(1)["state"])  # distinct episodes
    assert a.entries[0]["teacher_run"] == str(teacher_run.resolve())
    with pytest.raises(ValueError, match="another teacher or seed"):
        teacher_rollouts(teacher_run, 3, straight, seed=4, progress=False)

    preset = load_preset("debug", {"distill": {"steps": 1}})
    out = tmp_path / "student"
    distil(teacher_run, preset, out, progress=False, data=[straight])
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert meta["data"] == [str(straight.resolve())]
    assert meta["dataset_steps"] == EpisodeDataset(teacher_run / "dataset").num_steps + a.num_steps
    with pytest.raises(ValueError, match="resume it with those"):
        distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), out, progress=False,
               data=[resumed])  # fmt: skip
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 2}}), out, progress=False)  # keeps --data
    assert yaml.safe_load((out / "run.yaml").read_text())["data"] == [str(straight.resolve())]
    # More --data after the recorded ones: added on resume (a DAgger round on the same optimiser).
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 3}}), out, progress=False,
           data=[straight, resumed])  # fmt: skip
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert meta["data"] == [str(straight.resolve()), str(resumed.resolve())] and meta["updates"] == 3
    assert meta["data_added"] == [{"updates": 2, "data": [str(resumed.resolve())]}]
    assert meta["dataset_steps"] == EpisodeDataset(teacher_run / "dataset").num_steps + 2 * a.num_steps
    adam = torch.load(out / "checkpoint.pt", weights_only=False)["distiller"]["opt"]["state"]
    assert {int(v["step"]) for v in adam.values()} == {3}  # Adam went on (a fresh one would be at 1)
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 4}}), out, progress=False)  # keeps all
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert len(meta["data"]) == 2 and len(meta["data_added"]) == 1 and meta["updates"] == 4
    assert meta["distill_changed"] == []  # only `steps` changed so far
    # Other settings on a resume (a term switched on part-way) are recorded with the update count.
    distil(
        teacher_run, load_preset("debug", {"distill": {"steps": 5, "augment_p": 0.5}}), out, progress=False
    )
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert meta["distill_changed"] == [{"updates": 4, "distill": {"augment_p": 0.5}}]
    assert meta["preset"]["distill"]["augment_p"] == 0.5 and meta["updates"] == 5


def test_distill_refuses_data_of_another_teacher(teacher_run, tmp_path):
    from twist_sim.dataset import EpisodeDataset, write_episode

    foreign = tmp_path / "foreign"
    episode = EpisodeDataset(teacher_run / "dataset").episode(0)
    updates = yaml.safe_load((teacher_run / "run.yaml").read_text())["updates"]
    write_episode(foreign, episode, metadata={"teacher_run": "/elsewhere", "teacher_updates": updates})
    older = tmp_path / "older"  # this teacher run, but before it was trained further
    write_episode(
        older, episode, metadata={"teacher_run": str(teacher_run.resolve()), "teacher_updates": updates - 1}
    )
    for data in (foreign, older):
        with pytest.raises(ValueError, match="must match the teacher"):
            distil(teacher_run, load_preset("debug", {"distill": {"steps": 1}}), tmp_path / "s", progress=False,
                   data=[data])  # fmt: skip


def test_distill_resume_refuses_a_teacher_trained_further(teacher_run, tmp_path):
    """A student resumes only against the teacher checkpoint it was distilled from."""
    teacher = tmp_path / "teacher"
    shutil.copytree(teacher_run, teacher)
    preset = load_preset("debug", {"distill": {"steps": 1}})
    distil(teacher, preset, tmp_path / "s", progress=False)
    run = yaml.safe_load((teacher / "run.yaml").read_text())
    assert yaml.safe_load((tmp_path / "s" / "run.yaml").read_text())["teacher_updates"] == run["updates"]
    (teacher / "run.yaml").write_text(yaml.safe_dump({**run, "updates": run["updates"] + 1}))
    with pytest.raises(ValueError, match="trained further"):
        distil(teacher, load_preset("debug", {"distill": {"steps": 2}}), tmp_path / "s", progress=False)


def test_action_gap_teacher_filters_the_executed_actions(teacher_run, tmp_path):
    """--compare-teacher: the teacher's latent follows the actions the env executed (the
    student's), not the teacher's own, so the gap compares the two on the same history."""
    from twist_models.checkpoint import load_teacher
    from twist_models.evaluate import evaluate_bundle
    from twist_models.testing import make_debug_bundle

    teacher, _, _ = load_teacher(teacher_run)
    executed, fed = [], []

    class Recording:
        device = teacher.device

        def act(self, state, carry, explore):
            fed.append(None if carry is None else carry[1][0].numpy().copy())
            return teacher.act(state, carry, explore)

    bundle = make_debug_bundle(tmp_path / "bundle", task="block_push", seed=0)
    policy_step = StudentPolicy.step

    def step(self, image):
        executed.append(policy_step(self, image))
        return executed[-1]

    import unittest.mock

    with unittest.mock.patch.object(StudentPolicy, "step", step):
        evaluate_bundle(bundle, episodes=1, teacher=Recording())
    assert fed[0] is None and len(fed) == len(executed) > 10
    for t in range(1, len(fed)):
        np.testing.assert_array_equal(fed[t], executed[t - 1])


def test_critic_calibration_benchmark_reads_a_teacher_run(teacher_run):
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "critic_calibration.py"
    spec = importlib.util.spec_from_file_location("critic_calibration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.calibration(teacher_run, episodes=2)
    assert out["task"] == "block_push" and out["episodes"] == 2 and out["repval"] == 0.3
    values = [*out["real"].values(), *out["imagined"].values()]
    assert len(values) == 6 and all(np.isfinite(values))
    # No real reward is positive before the success bonus: a random-start push pays < 0.
    assert out["real"]["return_100"] < 0
    module.LOOKAHEAD = 1000  # longer than any episode: refused with the reason
    with pytest.raises(ValueError, match="no episode longer than 1040 steps"):
        module.calibration(teacher_run, episodes=2)


def test_distillation_stops_on_sigterm_with_the_update_in_hand_checkpointed(
    teacher_run, tmp_path, monkeypatch
):
    """`kill PID` on a distillation run checkpoints and returns instead of losing the updates since
    the last checkpoint; the handlers in place before are back afterwards, and a second signal
    would have acted as before."""
    import os
    import signal

    from twist_models.checkpoint import StopRequest
    from twist_models.student import Distiller

    calls = {"n": 0}
    real_update = Distiller.update

    def update(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_update(self, batch)

    monkeypatch.setattr(Distiller, "update", update)
    before = signal.getsignal(signal.SIGTERM)
    preset = load_preset("debug", {"distill": {"steps": 50, "checkpoint_every": 40}})
    result = distil(teacher_run, preset, tmp_path / "killed", progress=False)
    assert 2 <= result["updates"] < 40  # before the first regular checkpoint
    ckpt = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)
    assert ckpt["updates"] == result["updates"]
    assert yaml.safe_load((tmp_path / "killed" / "run.yaml").read_text())["updates"] == result["updates"]
    assert signal.getsignal(signal.SIGTERM) is before
    # The same command continues to the end.
    monkeypatch.setattr(Distiller, "update", real_update)
    assert distil(teacher_run, preset, tmp_path / "killed", progress=False)["updates"] == 50

    # A second signal while stopping runs the handler that was there before.
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested == signal.SIGINT and seen == []
            os.kill(os.getpid(), signal.SIGINT)
            assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_teacher_stops_on_sigterm_at_the_end_of_the_episode_in_hand(tmp_path, monkeypatch):
    """`kill PID` on a teacher run: it ends the episode it is in, checkpoints there (long before the
    next regular checkpoint) and returns; the same command then gives the run that never stopped,
    weights included."""
    import os
    import signal

    from twist_models import train_teacher

    real_collect = train_teacher.collect_episode
    calls = {"n": 0}

    def collect(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_collect(*args, **kwargs)

    preset = load_preset("debug", {"teacher": {"env_steps": 450, "checkpoint_every": 10_000}})
    straight = train("block_push", preset, tmp_path / "straight", progress=False)
    monkeypatch.setattr(train_teacher, "collect_episode", collect)
    before = signal.getsignal(signal.SIGTERM)
    stopped = train("block_push", preset, tmp_path / "killed", progress=False)
    assert stopped["env_steps"] == 300 and stopped["episodes"] == 2
    assert yaml.safe_load((tmp_path / "killed" / "run.yaml").read_text())["env_steps"] == 300
    assert signal.getsignal(signal.SIGTERM) is before
    monkeypatch.setattr(train_teacher, "collect_episode", real_collect)
    assert train("block_push", preset, tmp_path / "killed", progress=False) == straight
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)
    assert a["updates"] == b["updates"] > 0
    for key, value in a["agent"]["agent"].items():
        assert torch.equal(value, b["agent"]["agent"][key]), key


def test_student_driven_rollouts_dagger(teacher_run, tmp_path):
    """twist-teacher-rollouts --driver: the student bundle acts on the images (every recorded
    action is the student's on the recorded image), --beta mixes in the teacher, the data is
    reproducible and resumable, and twist-distill takes it as a dataset of this teacher."""
    from twist_models.rollouts import main as rollouts_main
    from twist_models.rollouts import teacher_rollouts
    from twist_sim.dataset import EpisodeDataset

    distil(teacher_run, load_preset("debug", {"distill": {"steps": 1}}), tmp_path / "student", progress=False)
    bundle = export(teacher_run, tmp_path / "student", tmp_path / "bundle")
    driven = tmp_path / "driven"
    counts = teacher_rollouts(teacher_run, 2, driven, seed=5, progress=False, driver=bundle)
    assert counts["episodes"] == 2
    data = EpisodeDataset(driven)
    assert data.entries[0]["source"] == "student_rollouts" and data.entries[0]["beta"] == 0.0
    assert data.entries[0]["driver"] == str(bundle.resolve())
    policy = StudentPolicy.load(bundle)
    for i in range(2):
        ep = data.episode(i)
        policy.reset()
        for t in range(len(ep["action"]) - 1):  # action[t + 1] was taken on image[t]
            np.testing.assert_allclose(policy.step(ep["image"][t]), ep["action"][t + 1], atol=1e-6)
    policy.reset()
    with pytest.raises(RuntimeError, match="needs a step"):
        policy.executed(np.zeros(3, np.float32))
    policy.step(data.episode(0)["image"][0])
    for bad in (np.zeros(2, np.float32), np.full(3, np.nan, np.float32)):
        with pytest.raises(ValueError, match="executed action must be 3 finite numbers"):
            policy.executed(bad)
    # Half the steps the exploring teacher acts: other actions, the same data when resumed.
    mixed, resumed = tmp_path / "mixed", tmp_path / "mixed_resumed"
    teacher_rollouts(teacher_run, 2, mixed, seed=5, progress=False, driver=bundle, beta=0.5)
    teacher_rollouts(teacher_run, 1, resumed, seed=5, progress=False, driver=bundle, beta=0.5)
    teacher_rollouts(teacher_run, 2, resumed, seed=5, progress=False, driver=bundle, beta=0.5)
    a, b = EpisodeDataset(mixed), EpisodeDataset(resumed)
    for i in range(2):
        for key, value in a.episode(i).items():
            np.testing.assert_array_equal(value, b.episode(i)[key], err_msg=key)
    np.testing.assert_array_equal(a.episode(0)["state"][0], data.episode(0)["state"][0])  # same start
    assert not np.allclose(a.episode(0)["action"], data.episode(0)["action"])
    with pytest.raises(ValueError, match="another teacher or seed"):  # beta is part of the source
        teacher_rollouts(teacher_run, 3, mixed, seed=5, progress=False, driver=bundle)
    with pytest.raises(ValueError, match="give --driver"):
        teacher_rollouts(teacher_run, 1, tmp_path / "x", progress=False, beta=0.5)
    with pytest.raises(SystemExit):
        rollouts_main(["--teacher", str(teacher_run), "--episodes", "1", "--out", str(tmp_path / "y"),
                       "--driver", str(bundle), "--beta", "1.5"])  # fmt: skip
    # A student distils on it as on any matching dataset of its teacher.
    result = distil(teacher_run, load_preset("debug", {"distill": {"steps": 1}}), tmp_path / "dagger",
                    progress=False, data=[driven, mixed])  # fmt: skip
    assert result["updates"] == 1


def test_teacher_state_noise_benchmark(teacher_run):
    """benchmarks/teacher_state_noise.py: at error 0 the shifted copy is the teacher itself (gap 0,
    and driving it gives the Oracle's own episodes); a shifted state moves the actions."""
    import importlib.util

    from twist_models.checkpoint import load_teacher
    from twist_models.evaluate import evaluate_teacher

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "teacher_state_noise.py"
    spec = importlib.util.spec_from_file_location("teacher_state_noise", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.state_noise_gaps(teacher_run, [0.0, 0.05], episodes=2, shifted_drives=True)
    exact, shifted = out["errors"]["0.0"], out["errors"]["0.05"]
    assert out["task"] == "block_push" and out["driver"] == "shifted"
    assert exact["action_gap"] == 0.0 and shifted["action_gap"] > 0.0 and exact["steps"] > 10
    oracle = evaluate_teacher(load_teacher(teacher_run)[0], "block_push", 2, seed=1_000_000)
    assert exact["mean_return"] == pytest.approx(oracle["mean_return"])
    assert exact["success_rate"] == oracle["success_rate"]


def test_belief_driven_teacher_benchmark(teacher_run, tmp_path):
    """benchmarks/belief_driven_teacher.py: the teacher acts on the state with the student's
    believed positions (or the whole believed state); the student filters what was executed."""
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "belief_driven_teacher.py"
    spec = importlib.util.spec_from_file_location("belief_driven_teacher", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layout = {"ee_pos": (0, 3), "cube_pos": (3, 6), "goal_pos": (6, 9)}
    state = np.arange(9, dtype=np.float32)
    belief = {"ee_pos": np.full(3, -1.0, np.float32), "cube_pos": np.full(3, -2.0, np.float32),
              "goal_pos": np.full(3, -3.0, np.float32)}  # fmt: skip
    np.testing.assert_array_equal(module.believed_state(state, belief, layout, "positions"),
                                  [-1, -1, -1, -2, -2, -2, 6, 7, 8])  # fmt: skip
    np.testing.assert_array_equal(
        module.believed_state(state, belief, layout, "all"), [-1] * 3 + [-2] * 3 + [-3] * 3
    )
    distil(teacher_run, load_preset("debug", {"distill": {"steps": 1}}), tmp_path / "student", progress=False)
    bundle = export(teacher_run, tmp_path / "student", tmp_path / "bundle")
    rows = {b: module.belief_driven(bundle, teacher_run, b, episodes=2) for b in ("positions", "all")}
    for row in rows.values():
        assert row["episodes"] == 2 and 0 <= row["successes"] <= 2 and np.isfinite(row["mean_return"])
        assert row["belief_error_cm"] > 0 and row["belief_error_relative_cm"] > 0
    assert rows["positions"]["mean_return"] != rows["all"]["mean_return"]  # different states drive
    with pytest.raises(ValueError, match="believed must be 'positions' or 'all'"):
        module.belief_driven(bundle, teacher_run, "none", episodes=1)


def test_a_resume_keeps_the_runs_own_seed(tmp_path, monkeypatch):
    """A run of seed 1 continued without --seed continues seed 1 (its episodes, its replay
    sampling), exactly as an uninterrupted run of seed 1; a resume with another --seed is refused
    before anything is written."""
    from twist_models.train_teacher import main as teacher_main

    monkeypatch.setenv("MUJOCO_GL", "egl")
    common = ["--task", "block_push", "--preset", "debug", "--env-steps", "300"]
    teacher_main([*common, "--seed", "1", "--out", str(tmp_path / "straight")])
    teacher_main([*common, "--seed", "1", "--out", str(tmp_path / "split"), "--max-minutes", "0"])
    assert yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())["env_steps"] == 150
    teacher_main([*common, "--out", str(tmp_path / "split")])  # continued the way the scripts do
    meta = yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())
    assert meta["preset"]["seed"] == 1 and meta["env_steps"] == 300
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert a["updates"] == b["updates"] > 0
    for key, value in a["agent"]["agent"].items():
        assert torch.equal(value, b["agent"]["agent"][key]), key
    before = (tmp_path / "split" / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match=r"run of seed 1; it resumes only with that seed \(got seed 2\)"):
        teacher_main([*common, "--env-steps", "450", "--seed", "2", "--out", str(tmp_path / "split")])
    assert (tmp_path / "split" / "checkpoint.pt").read_bytes() == before
    # The library refuses it too, for callers that build their own preset.
    with pytest.raises(ValueError, match="resumes only with that seed"):
        train("block_push", load_preset("debug", {"seed": 0, "teacher": {"env_steps": 450}}), tmp_path / "split",
              progress=False)  # fmt: skip


def test_value_bound_runs_resume_exactly(tmp_path, monkeypatch):
    """--value-bound (not in the paper) is kept in run.yaml, bounds the critic from the rewards in
    replay, and a run split by a resume (the bound refilled from replay, not the checkpoint; the
    flag taken from run.yaml when the resume leaves it out) ends as the straight run does."""
    from twist_models.dreamer import ActorCritic
    from twist_models.train_teacher import main as teacher_main
    from twist_sim.dataset import EpisodeDataset

    monkeypatch.setenv("MUJOCO_GL", "egl")
    common = ["--task", "block_push", "--preset", "debug", "--env-steps", "300", "--value-bound"]
    teacher_main([*common, "--out", str(tmp_path / "straight")])
    teacher_main([*common, "--out", str(tmp_path / "split"), "--max-minutes", "0"])
    bounds: list = []
    real_range = ActorCritic.value_range

    def value_range(self, cfg):
        bounds.append(real_range(self, cfg))
        return bounds[-1]

    monkeypatch.setattr(ActorCritic, "value_range", value_range)
    teacher_main([*common[:-1], "--out", str(tmp_path / "split")])  # no --value-bound: run.yaml's
    meta = yaml.safe_load((tmp_path / "split" / "run.yaml").read_text())
    assert meta["preset"]["teacher"]["value_bound"] is True and meta["env_steps"] == 300
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert a["updates"] == b["updates"] > 0
    for key, value in a["agent"]["agent"].items():
        assert torch.equal(value, b["agent"]["agent"][key]), key
    # The first update after the resume is bounded by the first episode's rewards, from replay.
    first = EpisodeDataset(tmp_path / "split" / "dataset").episode(0)["reward"]
    gamma = meta["preset"]["teacher"]["gamma"]
    want = (min(first.min(), 0.0) / (1 - gamma), max(first.max(), 0.0) / (1 - gamma))
    assert bounds and bounds[0] == pytest.approx(want, rel=1e-5)


def test_a_teacher_resume_keeps_the_runs_env_steps_expert_episodes_belief_offset_and_value_bound(
    tmp_path, monkeypatch
):
    """twist-train-teacher on an existing run takes what its command line leaves out of env_steps,
    expert_episodes, belief_offset and value_bound from run.yaml, not from the preset (a run given
    --expert-episodes 520 at a resume keeps 520 at the next, a run given --env-steps 130000 goes on
    to 130K); what the command line gives wins."""
    import twist_models.train_teacher as train_teacher
    from twist_models.checkpoint import write_yaml

    seen: list = []
    monkeypatch.setattr(
        train_teacher, "train", lambda task, preset, out, *a, **k: seen.append(preset.teacher) or {}
    )
    out = tmp_path / "run"
    base = ["--task", "block_lift", "--preset", "debug", "--out", str(out)]
    train_teacher.main(base)  # a new run: the preset's
    default = seen[-1]
    recorded = {"env_steps": 1234, "expert_episodes": 520, "belief_offset": 0.05, "value_bound": True}
    assert all(getattr(default, k) != v for k, v in recorded.items())
    out.mkdir()
    write_yaml(out / "run.yaml", {"task": "block_lift", "preset": {"teacher": recorded}})
    train_teacher.main(base)
    assert {k: getattr(seen[-1], k) for k in recorded} == recorded
    given = ["--env-steps", "77", "--expert-episodes", "3", "--belief-offset", "0", "--no-value-bound"]
    train_teacher.main([*base, *given])
    assert {k: getattr(seen[-1], k) for k in recorded} == dict(
        zip(recorded, (77, 3, 0.0, False), strict=True)
    )
    assert train_teacher.RESUME_KEEPS == tuple(recorded)


def test_a_student_resume_keeps_the_runs_steps(tmp_path, monkeypatch):
    """twist-distill on an existing run without --steps goes on to the run's own target, not to
    the preset's; --steps wins."""
    import twist_models.distill as distill_module
    from twist_models.checkpoint import write_yaml

    seen: list = []
    monkeypatch.setattr(
        distill_module, "distil", lambda teacher, preset, *a, **k: seen.append(preset.distill) or {}
    )
    out = tmp_path / "s"
    base = ["--teacher", str(tmp_path / "t"), "--preset", "debug", "--out", str(out)]
    distill_module.main(base)
    assert seen[-1].steps != 100000
    out.mkdir()
    write_yaml(out / "run.yaml", {"preset": {"distill": {"steps": 100000}}})
    distill_module.main(base)
    assert seen[-1].steps == 100000
    distill_module.main([*base, "--steps", "3"])
    assert seen[-1].steps == 3


def test_a_student_resume_keeps_its_seed(teacher_run, tmp_path):
    from twist_models.distill import main as distill_main

    out = tmp_path / "s"
    distill_main(
        ["--teacher", str(teacher_run), "--preset", "debug", "--out", str(out), "--seed", "3", "--steps", "1"]
    )
    with pytest.raises(ValueError, match=r"Preset.threads must be > 0, got 0"):
        distill_main(
            ["--teacher", str(teacher_run), "--preset", "debug", "--out", str(out), "--threads", "0"]
        )
    # --threads sets the torch threads of this call only; the run resumes with its seed and data.
    try:
        distill_main(
            [
                "--teacher",
                str(teacher_run),
                "--preset",
                "debug",
                "--out",
                str(out),
                "--steps",
                "2",
                "--threads",
                "2",
            ]
        )
    finally:
        torch.set_num_threads(1)  # the other tests' setting
    meta = yaml.safe_load((out / "run.yaml").read_text())
    assert meta["preset"]["seed"] == 3 and meta["updates"] == 2
    assert meta["preset"]["threads"] == 2 and meta["compute"]["threads"] == 2
    with pytest.raises(ValueError, match="run of seed 3"):
        distil(teacher_run, load_preset("debug", {"distill": {"steps": 3}}), out, progress=False)


def test_run_overrides_take_the_recorded_seed_and_pass_the_device(tmp_path):
    from twist_models.checkpoint import run_overrides, write_yaml

    assert run_overrides(tmp_path / "new", None, None) == {}
    assert run_overrides(tmp_path / "new", 4, "cuda") == {"seed": 4, "device": "cuda"}
    write_yaml(tmp_path / "run.yaml", {"preset": {"seed": 4}})
    assert run_overrides(tmp_path, None, "cpu") == {"seed": 4, "device": "cpu"}
    assert run_overrides(tmp_path, 4, None) == {"seed": 4}
    with pytest.raises(ValueError, match=f"{tmp_path} is a run of seed 4"):
        run_overrides(tmp_path, 0, None)


def test_a_teacher_keeps_its_best_periodic_evaluation(tmp_path, monkeypatch):
    """RUN/best holds the weights of the run's best periodic evaluation (success rate first, then
    return), across a resume; it loads as a teacher, cannot be trained on, and a snapshot of the
    run leaves it out. A snapshot of the best is a run again (the run's replay and evaluations up
    to the best), which goes on exactly as the run went on from there. The evaluations are the
    real ones with scripted scores, so that the best is not the last."""
    import twist_models.train_teacher as train_teacher
    from twist_models.checkpoint import load_teacher

    # At 150, 300, 450; the best's snapshot at 450; the run at 600.
    scores = iter([(0.0, 1.0), (0.0, 3.0), (0.0, 2.0), (0.0, 0.0), (0.1, -50.0)])
    weights: dict = {}
    real = train_teacher.evaluate_teacher

    def scripted(agent, *args, **kwargs):
        result = real(agent, *args, **kwargs)
        weights[len(weights)] = {k: v.clone() for k, v in agent.training_state()["agent"].items()}
        success_rate, mean_return = next(scores)
        return {**result, "success_rate": success_rate, "mean_return": mean_return}

    monkeypatch.setattr(train_teacher, "evaluate_teacher", scripted)
    monkeypatch.setenv("MUJOCO_GL", "egl")
    out = tmp_path / "run"

    def run(env_steps, **kwargs):
        preset = load_preset("debug", {"teacher": {"env_steps": env_steps, "eval_every": 150}})
        train("block_push", preset, out, progress=False, **kwargs)
        return yaml.safe_load((out / "best" / "run.yaml").read_text())

    assert run(450, max_minutes=0)["best_of"]["env_steps"] == 150  # stopped at 150
    best = run(450)  # resumed: 3.0 at 300 beats 1.0, and 2.0 at 450 does not beat it
    assert best["env_steps"] == best["best_of"]["env_steps"] == 300
    assert (best["best_of"]["success_rate"], best["best_of"]["return"]) == (0.0, 3.0)
    agent, _, _ = load_teacher(out / "best")
    for key, value in agent.training_state()["agent"].items():
        assert torch.equal(value, weights[1][key]), key
    assert torch.load(out / "best" / "checkpoint.pt", weights_only=False)["updates"] == best["updates"]
    snap_best = tmp_path / "snap_best"
    snapshot(out / "best", snap_best)
    snap = yaml.safe_load((snap_best / "run.yaml").read_text())
    assert "best_of" not in snap and snap["from_best"]["env_steps"] == snap["env_steps"] == 300
    assert snap["from_best"]["run"] == str(out)
    assert sum(len(ep["reward"]) - 1 for ep in run_episodes(snap_best)) == 300
    evals = [json.loads(line)["env_steps"] for line in (snap_best / "eval.jsonl").read_text().splitlines()]
    assert evals == [150, 300] and (snap_best / "tb").is_dir()
    preset = load_preset("debug", {"teacher": {"env_steps": 450, "eval_every": 150}})
    train("block_push", preset, snap_best, progress=False)  # from the best at 300 to 450
    assert any(not torch.equal(value, weights[1][key]) for key, value in weights[2].items())  # it learned
    for key, value in weights[3].items():  # what the run itself held at 450
        assert torch.equal(value, weights[2][key]), key
    # Success first: 1 of 10 at 600 beats 0 of 10 at 300, whatever the returns.
    assert run(600)["best_of"]["env_steps"] == 600
    with pytest.raises(ValueError, match="best periodic evaluation"):
        train("block_push", load_preset("debug"), out / "best", progress=False)
    snapshot(out, tmp_path / "snap")
    assert not (tmp_path / "snap" / "best").exists()
    shutil.copytree(out / "best", tmp_path / "lonely" / "best")  # without its run
    with pytest.raises(ValueError, match="was kept at env step 600, but the episodes of its run"):
        snapshot(tmp_path / "lonely" / "best", tmp_path / "snap_lonely")
