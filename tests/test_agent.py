"""The agent: V, M and C driving CarRacing in lock-step, in worker processes, and through the
pipeline's controller and evaluation stages."""

import dataclasses
import shutil

import numpy as np
import pytest
from PIL import Image

from wmlib import (
    agent,
    config,
    data_folder,
    files,
    memory,
    pipeline,
    search,
    training,
    vision,
)
from wmlib.config import FrameConfig
from wmlib.env import carracing
from wmlib.rollouts import run_episode
from wmlib.runtime import keras
from wmlib.workers import WorkerPool

CI = config.get("ci")


@pytest.fixture(scope="module")
def models():
    """An untrained V and M: the agent's plumbing does not depend on their training."""
    return vision.build_vae(CI.vision), memory.build_mdnrnn(CI.memory, 32, 3)


def reference_actions(vae, mdnrnn, parameters, seed, frames, action_noise=0.0):
    """The agent written out for one environment, one step at a time, without batching: z's
    noise, then (when it explores) the noise on C's raw outputs, from the episode's generator."""
    noise = np.random.default_rng(seed)
    weights, bias = parameters[:864].reshape(288, 3), parameters[864:]
    state = mdnrnn.initial_state(1)
    actions = []
    for frame in frames:
        mean, log_variance = vision.encode(vae, carracing.preprocess(frame)[None])
        z = mean[0] + np.exp(0.5 * log_variance[0]) * noise.standard_normal(32)
        raw = np.concatenate([z, np.asarray(state[0])[0]]) @ weights + bias
        if action_noise:
            raw = raw + action_noise * noise.standard_normal(3)
        action = carracing.controller_action(raw)
        _, _, state = mdnrnn.step(z[None].astype(np.float32), action[None], state)
        actions.append(action)
    return np.array(actions)


def test_the_batched_agent_acts_as_the_unbatched_reference(models):
    vae, mdnrnn = models
    rng = np.random.default_rng(1)
    parameters = rng.normal(scale=0.5, size=(3, 867)).astype(np.float32)
    seeds = [11, 12, 13]
    frames = rng.integers(0, 256, size=(4, 3, 96, 96, 3), dtype=np.uint8)
    driver = agent.Agent(vae, mdnrnn, carracing.TASK)
    driver.reset(parameters, seeds)
    batched = np.stack([driver.act(frames[step]) for step in range(4)], axis=1)
    for row, seed in enumerate(seeds):
        expected = reference_actions(vae, mdnrnn, parameters[row], seed, frames[:, row])
        np.testing.assert_allclose(batched[row], expected, atol=1e-4)


def test_an_exploring_agent_perturbs_cs_outputs_and_m_takes_in_the_action_taken(models):
    vae, mdnrnn = models
    rng = np.random.default_rng(3)
    parameters = rng.normal(scale=0.5, size=(2, 867)).astype(np.float32)
    frames = rng.integers(0, 256, size=(4, 2, 96, 96, 3), dtype=np.uint8)
    driver = agent.Agent(vae, mdnrnn, carracing.TASK)
    driver.reset(parameters, [21, 22], action_noise=0.5)
    explored = np.stack([driver.act(frames[step]) for step in range(4)], axis=1)
    for row, seed in enumerate([21, 22]):
        expected = reference_actions(vae, mdnrnn, parameters[row], seed, frames[:, row], 0.5)
        np.testing.assert_allclose(explored[row], expected, atol=1e-4)
        greedy = reference_actions(vae, mdnrnn, parameters[row], seed, frames[:, row])
        assert np.abs(explored[row] - greedy).max() > 0.05


def test_an_episode_scores_the_same_alone_and_in_a_lock_step_batch(models):
    vae, mdnrnn = models
    parameters = np.random.default_rng(2).normal(scale=0.3, size=(2, 867)).astype(np.float32)
    driver = agent.Agent(vae, mdnrnn, carracing.TASK)
    together = agent.drive(driver, parameters, [5, 6], max_steps=30)
    alone = [
        agent.drive(driver, parameters[i : i + 1], [seed], 30)[0] for i, seed in enumerate([5, 6])
    ]
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_the_z_only_agent_drives_without_m(models):
    vae, _ = models
    driver = agent.Agent(vae, None, carracing.TASK)
    returns, recordings = agent.drive(driver, np.zeros((1, 99)), [3], max_steps=12, record=[0])
    frames, rewards = recordings[0]
    assert len(frames) == 13 and len(rewards) == 12
    assert returns[0] == pytest.approx(sum(rewards))
    assert driver.state is None  # M's memory was never started


# Driving in worker processes: the workers load V and M from files, as the pipeline's do.

HIDDEN_UNITS = 16
"""M's size in the worker tests: C then has (32 + 16 + 1) × 3 = 147 parameters."""
SETTINGS = dataclasses.replace(
    CI.control, training_steps=15, evaluation_steps=15, environments_per_task=3
)
"""Short episodes, and batches of three that mix candidates, to test how they are paired."""


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """Paths of an untrained V and M saved as the pipeline saves them.

    V's z is its mean (σ ≈ 0), so that what C sees is a function of the frame alone."""
    directory = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    vae = vision.build_vae(CI.vision)
    log_variance = vae.encoder.get_layer("log_variance")
    log_variance.kernel.assign(np.zeros(log_variance.kernel.shape))
    log_variance.bias.assign(np.full(log_variance.bias.shape, -30.0))
    mdnrnn = memory.build_mdnrnn(
        dataclasses.replace(CI.memory, hidden_units=HIDDEN_UNITS, mixtures=3), 32, 3
    )
    training.save_atomically(vae, directory / "vae.keras")
    training.save_atomically(mdnrnn, directory / "mdnrnn.keras")
    return str(directory / "vae.keras"), str(directory / "mdnrnn.keras")


def pedal_controller(gas: bool, inputs: int) -> np.ndarray:
    """A controller that ignores its inputs: full gas, or full brake."""
    parameters = np.zeros((inputs + 1) * 3)
    parameters[-2:] = [5.0, -5.0] if gas else [-5.0, 5.0]
    return parameters


def test_fitness_is_each_candidates_mean_over_the_same_tracks(saved_models):
    files_ = agent.AgentFiles("carracing", FrameConfig(), *saved_models)
    inputs = 32 + HIDDEN_UNITS
    candidates = np.stack([pedal_controller(True, inputs), pedal_controller(False, inputs)])
    seeds = [1, 2]
    with agent.Rollouts(files_, SETTINGS, workers=2) as rollouts:
        fitness = rollouts.fitness(candidates, seeds)
    driver = files_.load()
    episodes = [
        [agent.drive(driver, candidate[None], [seed], SETTINGS.training_steps)[0] for seed in seeds]
        for candidate in candidates
    ]
    assert len(np.unique(episodes)) == 4  # every pairing scores differently, so none can hide
    np.testing.assert_allclose(fitness, np.mean(episodes, axis=1), rtol=1e-6)


def test_z_only_files_drive_in_the_workers_as_the_z_only_agent_in_process(saved_models):
    vae_path, _ = saved_models
    files_ = agent.AgentFiles("carracing", FrameConfig(), vae_path, mdnrnn=None)
    parameters = np.random.default_rng(3).normal(scale=0.5, size=99)
    seeds = [1, 2]
    with agent.Rollouts(files_, SETTINGS, workers=1) as rollouts:
        returns = rollouts.score(parameters, seeds)
    vae = keras.models.load_model(vae_path, compile=False)
    driver = agent.Agent(vae, None, carracing.TASK)
    expected = agent.drive(driver, np.tile(parameters, (2, 1)), seeds, SETTINGS.evaluation_steps)
    np.testing.assert_allclose(returns, expected, rtol=1e-6)


def steering_on_z(count: int) -> np.ndarray:
    """Controllers that steer hard on z at full gas: any change in what V sees changes the path."""
    rng = np.random.default_rng(0)
    weights = np.zeros((count, 32, 3))
    weights[:, :, 0] = rng.normal(scale=1000.0, size=(count, 32))
    bias = np.tile([0.0, 3.0, -3.0], (count, 1))
    return np.concatenate([weights.reshape(count, -1), bias], axis=1)


def test_a_batch_films_the_episode_on_the_videos_seed_as_it_scores_it(saved_models, tmp_path):
    files_ = agent.AgentFiles("carracing", FrameConfig(), *saved_models)
    parameters, seeds = np.random.default_rng(4).normal(size=(32 + HIDDEN_UNITS + 1) * 3), [4, 5, 6]
    video = agent.Video(seed=5, path=str(tmp_path / "five.gif"))
    with agent.Rollouts(files_, SETTINGS, workers=1) as rollouts:
        returns = rollouts.score(parameters, seeds, video)
    assert agent.video_return(video.path) == returns[1]
    frames = Image.open(video.path).n_frames
    assert frames == -(-(SETTINGS.evaluation_steps + 1) // carracing.TASK.video_stride)


def test_the_frame_settings_reach_the_workers(saved_models):
    vae_path, _ = saved_models
    usual = agent.AgentFiles("carracing", FrameConfig(), vae_path, None)
    cropped = dataclasses.replace(usual, frame=FrameConfig(dashboard_row=60))
    parameters, seeds = steering_on_z(4), [1, 2, 3, 4]
    with WorkerPool(1, time_limit=600) as pool:
        usual_returns, cropped_returns = pool.map(
            agent.rollout_task, [(usual, parameters, seeds, 60), (cropped, parameters, seeds, 60)]
        )
    assert not np.array_equal(usual_returns, cropped_returns)


def test_agent_files_load_an_agent_with_their_frame_settings(saved_models):
    vae_path, mdnrnn_path = saved_models
    frame = FrameConfig(dashboard_row=60)
    loaded = agent.AgentFiles("carracing", frame, vae_path, mdnrnn_path).load()
    assert loaded.frame_config == frame and loaded.task is carracing.TASK
    assert loaded.mdnrnn.hidden_units == HIDDEN_UNITS


# The pipeline's controller and evaluation stages, at a tiny budget.

TINY = dataclasses.replace(
    CI,
    name="tiny",
    rollouts=dataclasses.replace(CI.rollouts, episodes=3, max_steps=10),
    vision=config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64),
    memory=config.MemoryConfig(
        sequence_length=4, batch_size=2, hidden_units=HIDDEN_UNITS, training_steps=2
    ),
    control=dataclasses.replace(CI.control, training_steps=10, evaluation_steps=10),
)


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    """A data root in which the tiny profile's C has been trained (and V and M before it)."""
    root = tmp_path_factory.mktemp("trained") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(data_folder.DATA_VARIABLE, str(root))
        pipeline.ensure_controller(TINY, workers=1)
    return root


def test_the_pipeline_trains_and_evaluates_c_and_reuses_what_it_built(trained_root, monkeypatch):
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(trained_root))
    evaluation = pipeline.ensure_evaluation(TINY, workers=1)
    assert evaluation["seeds"] == search.evaluation_seeds(TINY.control)
    assert evaluation["returns"].shape == (2,)
    video = pipeline.evaluation_dir(TINY) / "agent.gif"
    assert agent.video_return(video) == evaluation["returns"][0]  # the very episode scored
    manifest = pipeline.read_manifest(pipeline.controller_dir(TINY))
    assert manifest["complete"] and manifest["summary"]["parameters"] == (32 + 16 + 1) * 3
    again = pipeline.ensure_evaluation(TINY, workers=1)
    np.testing.assert_array_equal(again["returns"], evaluation["returns"])
    assert pipeline.read_manifest(pipeline.controller_dir(TINY)) == manifest


SENTINEL = 12345.0
"""A return no 10-step episode can score: it can only have come from the file written before."""


def test_an_interrupted_evaluation_keeps_its_scores_but_films_and_scores_an_unfilmed_first(
    trained_root, tmp_path, monkeypatch
):
    root = tmp_path / "data"
    shutil.copytree(trained_root, root)
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(root))
    shutil.rmtree(pipeline.evaluation_dir(TINY), ignore_errors=True)
    first, second = search.evaluation_seeds(TINY.control)
    pipeline.evaluation_dir(TINY).mkdir(parents=True)
    scored_before = {str(first): -SENTINEL, str(second): SENTINEL}  # the first was never filmed
    files.write_json(pipeline.evaluation_dir(TINY) / "returns.json", scored_before)

    evaluation = pipeline.ensure_evaluation(TINY, workers=1)

    best = pipeline.ensure_controller(TINY)["best"]["parameters"]
    driver = agent.Agent(
        pipeline.ensure_vae(TINY), pipeline.ensure_mdnrnn(TINY), carracing.TASK, TINY.frame
    )
    scored = agent.drive(driver, best[None], [first], TINY.control.evaluation_steps)
    assert evaluation["returns"][1] == SENTINEL
    assert evaluation["returns"][0] == pytest.approx(scored[0], rel=1e-6)
    video = pipeline.evaluation_dir(TINY) / "agent.gif"
    assert agent.video_return(video) == evaluation["returns"][0]
    summary = pipeline.read_manifest(pipeline.evaluation_dir(TINY))["summary"]
    assert summary["mean"] == round((scored[0] + SENTINEL) / 2, 1)


def test_the_agent_as_a_data_policy_records_an_episode_of_its_noisy_actions(saved_models):
    parameters = (
        np.random.default_rng(4)
        .normal(scale=0.3, size=(32 + HIDDEN_UNITS + 1) * 3)
        .astype(np.float32)
    )
    files_ = agent.AgentFiles("carracing", FrameConfig(), *saved_models)
    policy = agent.AgentPolicy(files_, parameters, action_noise=0.3)
    episode = run_episode("carracing", policy, seed=7, max_steps=12)
    again = run_episode("carracing", policy, seed=7, max_steps=12)
    assert episode.policy == "agent" and episode.steps == 12 and episode.seed == 7
    np.testing.assert_array_equal(episode.actions, again.actions)
    quiet = run_episode(
        "carracing", agent.AgentPolicy(files_, parameters, 0.0), seed=7, max_steps=12
    )
    assert not np.allclose(episode.actions, quiet.actions)
