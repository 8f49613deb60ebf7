"""Iterative training: rounds whose agent records the next round's episodes, their folders and
seeds, and an `iterate` stage that resumes after a kill without recording anything again."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from command_line import SHRUNK, run_wmlib

from wmlib import config, data_folder, files, pipeline, search
from wmlib.artefacts import read_manifest
from wmlib.pipeline.controller import search_control
from wmlib.pipeline.episodes import round_collection

SMALL = config.get("small")


def test_a_later_round_lives_in_its_own_folder_and_round_0_where_it_always_did(data_root):
    first = SMALL.data_dir
    assert first == data_root / "small" / "carracing"
    assert config.at_round(SMALL, 1).data_dir == first / "round_1"
    assert config.at_round(SMALL, 0) == SMALL


def test_a_later_round_fine_tunes_for_its_own_generations_and_round_0_for_the_profiles():
    assert search_control(config.at_round(SMALL, 0)) == SMALL.control
    later = search_control(config.at_round(SMALL, 1))
    assert later == replace(SMALL.control, generations=SMALL.iteration.generations)


def test_the_warm_start_searches_at_the_comparisons_budget_like_the_search_shapes():
    warm = search_control(SMALL, "warm")
    assert warm == replace(SMALL.control, generations=SMALL.comparison_generations)
    assert warm == pipeline.shape_control(SMALL.control, {}, SMALL.comparison_generations)


def test_the_z_only_ablation_searches_for_its_own_budget_and_the_full_agent_for_the_profiles():
    assert search_control(SMALL, use_memory=False).generations == SMALL.z_only_generations
    assert search_control(SMALL).generations == SMALL.control.generations
    paper = config.get("paper")
    assert search_control(paper, use_memory=False) == search_control(paper) == paper.control


def test_running_more_rounds_keeps_the_earlier_rounds_artefacts():
    more = replace(SMALL, iteration=replace(SMALL.iteration, rounds=SMALL.iteration.rounds + 1))
    for number in range(1, SMALL.iteration.rounds + 1):
        settings = pipeline.model.memory_settings(config.at_round(SMALL, number))
        assert settings == pipeline.model.memory_settings(config.at_round(more, number))


def test_a_round_the_profile_does_not_run_is_refused_with_the_setting_to_raise():
    with pytest.raises(config.ProfileError, match="iteration.rounds"):
        config.at_round(SMALL, SMALL.iteration.rounds + 1)


def test_each_round_records_with_the_agent_on_tracks_after_every_earlier_rounds():
    rounds = [
        round_collection(config.at_round(SMALL, 0)),
        round_collection(config.at_round(SMALL, 1)),
    ]
    assert rounds[0] == SMALL.rollouts
    assert rounds[1].policy == "agent" and rounds[1].episodes == SMALL.iteration.episodes
    assert rounds[1].seed == SMALL.rollouts.seed + SMALL.rollouts.episodes


def test_every_round_keeps_its_held_out_episodes_out_of_training(tmp_path):
    first = [tmp_path / f"a{index}" for index in range(20)]
    second = [tmp_path / f"b{index}" for index in range(10)]
    train, held_out = pipeline.episodes.split_rounds([first, second], 0.1)
    assert held_out == [*first[-2:], second[-1]]
    assert train == [*first[:-2], *second[:-1]]


def test_a_search_can_start_from_a_given_controller():
    start = np.linspace(-1, 1, 7)
    state = search.new_search(7, config.get("ci").control, start)
    np.testing.assert_array_equal(state["strategy"].mean, start)


@pytest.fixture
def data(built_by_all, tmp_path):
    """A copy of the data root `all` built, without its iterative round."""
    data = tmp_path / "data"
    shutil.copytree(built_by_all[0], data)
    shutil.rmtree(data / "ci" / "carracing" / "round_1")
    shutil.rmtree(data / "ci" / "carracing" / "rounds")
    return data


def test_the_iterate_stage_resumes_after_a_kill_without_recording_again(data):
    carracing = data / "ci" / "carracing"
    command = [sys.executable, "-m", "wmlib", "iterate", *SHRUNK, "--workers", "1"]
    environment = {**os.environ, data_folder.DATA_VARIABLE: str(data), "TQDM_DISABLE": "1"}
    process = subprocess.Popen(
        command, env=environment, start_new_session=True, stderr=subprocess.DEVNULL
    )
    recorded = carracing / "round_1" / "episodes" / "manifest.json"
    deadline = time.monotonic() + 300
    while not (recorded.exists() and json.loads(recorded.read_text())["complete"]):
        assert process.poll() is None and time.monotonic() < deadline, "round 1 never recorded"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    episodes = sorted((carracing / "round_1" / "episodes").glob("episode_*.npz"))
    mtimes = [path.stat().st_mtime_ns for path in episodes]
    assert not read_manifest(carracing / "rounds")["complete"]

    run = run_wmlib("iterate", *SHRUNK, data=data)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [path.stat().st_mtime_ns for path in episodes] == mtimes
    recorded_episodes = [files.load_episode(path) for path in episodes]
    assert {episode.policy for episode in recorded_episodes} == {"agent"}
    first_seed = 3  # after the 3 episodes of round 0 (SHRUNK)
    assert [episode.seed for episode in recorded_episodes] == [first_seed, first_seed + 1]
    summary = read_manifest(carracing / "rounds")["summary"]
    assert summary["rounds"] == 1 and len(summary["means"]) == 2
    for name in ("vae", "mdnrnn", "controller", "evaluation"):
        assert read_manifest(carracing / "round_1" / name)["complete"], name
    assert config.get("ci").iteration.vision_new_episodes_only
    own_training, _ = pipeline.episodes.split_rounds(
        [episodes], config.get("ci").vision.validation_fraction
    )
    vision = read_manifest(carracing / "round_1" / "vae")["summary"]
    assert vision["training_frames"] == files.count_steps(own_training)
    # V is still validated on every round's held-out episodes: one of round 0's 3, one of these 2
    assert vision["validation_episodes"] == 2


def test_the_command_line_refuses_a_round_the_profile_does_not_run(tmp_path):
    run = run_wmlib("controller", "--profile", "ci", "--round", "2", data=tmp_path)
    assert run.returncode == 1 and "raise iteration.rounds" in run.stderr
