"""C, the agent, the resumable CMA-ES search and the evaluation tracks."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from wmlib import config, control, env, memory, vision

SETTINGS = config.get("ci").control


@pytest.fixture(scope="module")
def models():
    """An untrained V and M: the agent's plumbing does not depend on their training."""
    profile = config.get("ci")
    return vision.build_vae(profile.vision), memory.build_mdnrnn(profile.memory)


def test_the_controller_has_the_papers_867_parameters_and_99_for_z_only():
    assert control.parameter_count() == 867
    assert control.parameter_count(use_memory=False) == 99


def test_actions_are_w_times_features_plus_b_squashed_into_carracings_ranges():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 288)).astype(np.float32)
    parameters = rng.normal(scale=2.0, size=(5, 867)).astype(np.float32)
    actions = control.act(parameters, features)
    for row in range(5):
        weights, bias = parameters[row, :864].reshape(288, 3), parameters[row, 864:]
        raw = np.tanh(features[row] @ weights + bias)
        expected = [raw[0], (raw[1] + 1) / 2, max(raw[2], 0.0)]
        np.testing.assert_allclose(actions[row], expected, rtol=1e-5, atol=1e-6)
    assert np.all(actions[:, 0] >= -1) and np.all(actions[:, 0] <= 1)
    assert np.all(actions[:, 1:] >= 0) and np.all(actions[:, 1:] <= 1)
    assert np.all((actions >= env.ACTION_LOW) & (actions <= env.ACTION_HIGH))


def test_zero_parameters_drive_straight_at_half_gas():
    np.testing.assert_allclose(control.act(np.zeros((1, 99)), np.ones((1, 32))), [[0, 0.5, 0]])


def reference_actions(vae, mdnrnn, parameters, seed, frames):
    """The agent written out for one environment, one step at a time, without batching."""
    noise = np.random.default_rng(seed)
    weights, bias = parameters[:864].reshape(288, 3), parameters[864:]
    state = mdnrnn.initial_state(1)
    actions = []
    for frame in frames:
        mean, log_variance = vision.encode(vae, env.preprocess(frame)[None])
        z = mean[0] + np.exp(0.5 * log_variance[0]) * noise.standard_normal(32)
        action = env.controller_action(
            np.concatenate([z, np.asarray(state[0])[0]]) @ weights + bias
        )
        _, _, state = mdnrnn.step(z[None].astype(np.float32), action[None], state)
        actions.append(action)
    return np.array(actions)


def test_the_batched_agent_acts_as_the_unbatched_reference(models):
    vae, mdnrnn = models
    rng = np.random.default_rng(1)
    parameters = rng.normal(scale=0.5, size=(3, 867)).astype(np.float32)
    seeds = [11, 12, 13]
    frames = rng.integers(0, 256, size=(4, 3, 96, 96, 3), dtype=np.uint8)
    agent = control.Agent(vae, mdnrnn)
    agent.reset(parameters, seeds)
    batched = np.stack([agent.act(frames[step]) for step in range(4)], axis=1)
    for row, seed in enumerate(seeds):
        expected = reference_actions(vae, mdnrnn, parameters[row], seed, frames[:, row])
        np.testing.assert_allclose(batched[row], expected, atol=1e-4)


def test_an_episode_scores_the_same_alone_and_in_a_lock_step_batch(models):
    vae, mdnrnn = models
    parameters = np.random.default_rng(2).normal(scale=0.3, size=(2, 867)).astype(np.float32)
    agent = control.Agent(vae, mdnrnn)
    together = control.drive(agent, parameters, [5, 6], max_steps=30)
    alone = [
        control.drive(agent, parameters[i : i + 1], [seed], 30)[0] for i, seed in enumerate([5, 6])
    ]
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_the_z_only_agent_never_runs_m(models):
    vae, _ = models
    agent = control.Agent(vae)
    returns, recordings = control.drive(agent, np.zeros((1, 99)), [3], max_steps=12, record=True)
    frames, rewards = recordings[0]
    assert len(frames) == 13 and len(rewards) == 12
    assert returns[0] == pytest.approx(sum(rewards))


def test_evaluation_tracks_are_fixed_and_apart_from_training_and_collection():
    small = config.get("small")
    first = control.evaluation_seeds(small.control)
    assert first == control.evaluation_seeds(small.control) == list(range(1_000_000, 1_000_100))
    during = control.mean_evaluation_seeds(small.control)
    training = {
        seed
        for generation in range(small.control.generations)
        for seed in control.training_seeds(small.control, generation)
    }
    collection = set(range(small.rollouts.seed, small.rollouts.seed + small.rollouts.episodes))
    assert len(training) == small.control.generations * small.control.episodes_per_candidate
    for a, b in [(first, during), (first, training), (during, training), (first, collection)]:
        assert not set(a) & set(b)


def test_the_penalised_fitness_is_the_papers_weight_decay():
    candidates = np.array([[1.0, 3.0], [0.0, 0.0]])
    fitness = control.penalised(np.array([10.0, 10.0]), candidates, 0.01)
    np.testing.assert_allclose(fitness, [10.0 - 0.01 * 5.0, 10.0])


SEARCH_SCRIPT = """
import os, signal, sys
from pathlib import Path
import numpy as np
from wmlib import config, control
import dataclasses

settings = dataclasses.replace(
    config.get("ci").control, population_size=6, generations=int(sys.argv[2]),
    mean_evaluation_interval=2,
)

def fitness(candidates, generation):
    if generation == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return -np.sum((candidates - 0.5) ** 2, axis=1) * (1 + generation)

control.search(fitness, lambda mean: -np.sum((mean - 0.5) ** 2), 5, settings, Path(sys.argv[1]))
"""


def run_search(directory, generations, kill_at=-1):
    script = textwrap.dedent(SEARCH_SCRIPT)
    return subprocess.run(
        [sys.executable, "-c", script, str(directory), str(generations), str(kill_at)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


def test_a_killed_search_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    assert run_search(tmp_path / "straight", 5).returncode == 0
    killed = run_search(tmp_path / "killed", 5, kill_at=3)
    assert killed.returncode == -9
    assert len(json.loads((tmp_path / "killed" / "history.json").read_text())) == 3
    assert run_search(tmp_path / "killed", 5).returncode == 0

    def results(name):
        history = json.loads((tmp_path / name / "history.json").read_text())
        state = control.load_search(tmp_path / name)
        for record in history:
            record.pop("seconds")
        return history, np.asarray(state["strategy"].mean), state["best"]["parameters"]

    straight, killed = results("straight"), results("killed")
    assert straight[0] == killed[0]
    assert len(straight[0]) == 5 and "mean_score" in straight[0][1]
    np.testing.assert_array_equal(straight[1], killed[1])
    np.testing.assert_array_equal(straight[2], killed[2])


def test_a_corrupt_search_file_names_itself_and_the_fix(tmp_path):
    (tmp_path / "search.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"search.pkl is not a readable CMA-ES search.*Delete"):
        control.load_search(tmp_path)


def test_the_video_shows_the_reward_so_far(tmp_path):
    frames = [np.zeros((96, 96, 3), np.uint8) for _ in range(5)]
    pictures = control.video_frames(frames, [1.0, 2.0, 3.0, 4.0], scale=2, stride=2)
    assert len(pictures) == 3 and pictures[0].size == (192, 192)
    assert np.asarray(pictures[1]).max() > 200  # the text is drawn in white
    control.write_gif(tmp_path / "agent.gif", pictures, frames_per_second=25)
    from PIL import Image

    with Image.open(tmp_path / "agent.gif") as gif:
        assert gif.n_frames == 3
    assert not list(tmp_path.glob(".*partial"))


def test_the_pipeline_trains_and_evaluates_c_and_reuses_what_it_built(tiny_profile):
    from wmlib import pipeline

    profile = dataclasses.replace(
        tiny_profile,
        vision=config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64),
        memory=config.MemoryConfig(
            sequence_length=4, batch_size=2, hidden_units=16, training_steps=2
        ),
        control=dataclasses.replace(tiny_profile.control, training_steps=10, evaluation_steps=10),
    )
    evaluation = pipeline.ensure_evaluation(profile, workers=1)
    assert evaluation["seeds"] == control.evaluation_seeds(profile.control)
    assert evaluation["returns"].shape == (2,)
    assert (pipeline.evaluation_dir(profile) / "agent.gif").exists()
    manifest = pipeline.read_manifest(pipeline.controller_dir(profile))
    assert manifest["complete"] and manifest["summary"]["parameters"] == (32 + 16 + 1) * 3
    again = pipeline.ensure_evaluation(profile, workers=1)
    np.testing.assert_array_equal(again["returns"], evaluation["returns"])
    assert pipeline.read_manifest(pipeline.controller_dir(profile)) == manifest
