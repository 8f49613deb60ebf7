"""Take Cover as a task: the environment, its frames, the paper's data policy, C's action mapping
and inputs, M's weighted done head, dreams that pay for survival, and the Doom pipeline at ci."""

import dataclasses
import json

import numpy as np
import pytest
from command_line import run_wmlib
from PIL import Image

from wmlib import config, controller, dream, files, memory, pipeline, rollouts, stages, vision
from wmlib.env import doom

CI = config.get("ci", "doom")
DOOM_SHRUNK = [
    *("--task", "doom", "--profile", "ci", "--rollouts.episodes", "3"),
    *("--rollouts.max_steps", "40", "--vision.batch_size", "8"),
    *("--control.evaluation_episodes", "2", "--control.evaluation_steps", "30"),
]
"""Doom's ci profile shrunk further, so that its whole pipeline runs in about a minute."""
SHRUNK = dataclasses.replace(
    CI,
    rollouts=dataclasses.replace(CI.rollouts, episodes=3, max_steps=40),
    vision=dataclasses.replace(CI.vision, batch_size=8),
    control=dataclasses.replace(CI.control, evaluation_episodes=2, evaluation_steps=30),
)
"""The profile `DOOM_SHRUNK` sets, to read what it built."""


@pytest.fixture(scope="module")
def env():
    environment = doom.make_env(max_steps=50)
    yield environment
    environment.close()


def test_the_screen_is_the_observation_and_the_skill_is_the_scenarios(env):
    screen, _ = env.reset(seed=5)
    assert screen.shape == doom.RAW_SHAPE and screen.dtype == np.uint8
    assert env.unwrapped.game.get_doom_skill() == doom.SKILL


def test_an_episode_is_the_same_for_the_same_seed_and_truncated_at_max_steps(env):
    def play(seed):
        frames, ended = [env.reset(seed=seed)[0]], False
        while not ended:
            frame, _, terminated, truncated, _ = env.step(doom.STAY)
            frames.append(frame)
            ended = terminated or truncated
        return np.stack(frames), truncated

    (first, truncated), (again, _), (other, _) = play(7), play(7), play(8)
    assert np.array_equal(first, again)
    assert len(first) - 1 <= 50 and (truncated == (len(first) - 1 == 50))
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_the_buttons_of_the_action_indices_are_the_ones_named(env):
    buttons = [button.name for button in env.unwrapped.game.get_available_buttons()]
    pressed = {index: env.unwrapped.button_map[index] for index in range(3)}
    assert not pressed[doom.STAY].any()
    assert buttons[int(np.argmax(pressed[doom.RIGHT]))] == "MOVE_RIGHT"
    assert buttons[int(np.argmax(pressed[doom.LEFT]))] == "MOVE_LEFT"


def test_preprocess_matches_pillows_antialiased_resize(env):
    screen, _ = env.reset(seed=1)
    reference = np.asarray(Image.fromarray(screen).resize((64, 64), Image.Resampling.BILINEAR))
    difference = np.abs(doom.preprocess(screen).astype(int) - reference)
    assert doom.preprocess(screen).shape == (64, 64, 3)
    assert difference.max() <= 2 and difference.mean() < 0.5


def test_preprocess_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"240, 320, 3"):
        doom.preprocess(np.zeros((96, 96, 3), np.uint8))


def test_the_continuous_action_splits_into_buttons_at_a_third():
    values = [-1.0, -0.34, -0.33, 0.0, 0.33, 0.34, 1.0]
    expected = [doom.LEFT, doom.LEFT, doom.STAY, doom.STAY, doom.STAY, doom.RIGHT, doom.RIGHT]
    assert [doom.env_action(np.array([value])) for value in values] == expected
    assert doom.controller_action(np.array([[100.0], [-100.0]])).tolist() == [[1.0], [-1.0]]


@pytest.mark.parametrize("name, longest_hold", [("held_random", 10), ("held_long", doom.LONG_HOLD)])
def test_the_held_data_policies_hold_each_action_for_one_to_their_longest_hold(name, longest_hold):
    policy = doom.TASK.make_policy(name)
    policy.reset(np.random.default_rng(0), (64, 64, 3))
    actions = np.array([policy.act(None)[0] for _ in range(200 * longest_hold)])
    changes = np.flatnonzero(np.diff(actions)) + 1
    holds = np.diff(np.concatenate([[0], changes]))
    expected_mean = (longest_hold + 1) / 2
    assert holds.min() >= 1 and holds.max() == longest_hold
    assert 0.8 * expected_mean < holds.mean() < 1.2 * expected_mean
    assert actions.min() >= -1 and actions.max() < 1


def test_a_recorded_episode_feeds_m_the_continuous_action():
    episode = rollouts.run_episode("doom", "held_random", seed=2, max_steps=30)
    assert episode.observations.shape[1:] == (64, 64, 3) and episode.actions.shape[1] == 1
    assert len(np.unique(episode.actions)) > 1 and np.all(episode.rewards == 1.0)


def test_positions_start_in_the_middle_and_stay_between_the_walls():
    episodes = doom.random_positions("held_long", [0, 1, 2])
    everywhere = np.concatenate(episodes)
    assert all(episode[0] == 384.0 for episode in episodes)
    assert doom.WALLS[0] - 0.5 < everywhere.min() and everywhere.max() < doom.WALLS[1] + 0.5
    assert any(doom.at_a_wall(episode).any() for episode in episodes)
    near = np.array([16.0, 23.0, 25.0, 384.0, 743.0, 745.0, 752.0])
    assert doom.at_a_wall(near).tolist() == [True, True, False, False, False, True, True]


def test_the_fireball_share_counts_only_orange_yellow_pixels():
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    frames[:] = (100, 100, 100)
    frames[1, :4, :4] = (230, 180, 60)
    frames[2, :8, :8] = (120, 80, 40)
    assert doom.fireball_share(frames).tolist() == [0.0, 16 / 4096, 0.0]


def test_a_random_agents_survival_is_its_recorded_episodes_return():
    survived = doom.random_survival("uniform", [4, 5])
    recorded = [
        rollouts.run_episode("doom", "uniform", seed, 2100).rewards.sum() for seed in (4, 5)
    ]
    assert survived.tolist() == recorded


def test_the_doom_controller_reads_z_c_and_h_without_a_bias():
    assert pipeline.controller.controller_dimension(config.get("paper", "doom"), True) == 1088
    z, hidden, cell = np.ones((2, 3)), np.full((2, 4), 2.0), np.full((2, 4), 3.0)
    inputs = controller.features(z, (hidden, cell), reads_cell=True)
    assert inputs[0].tolist() == [1.0] * 3 + [3.0] * 4 + [2.0] * 4
    parameters = np.arange(22, dtype=float).reshape(2, 11) / 100
    actions = controller.act(parameters, inputs, lambda raw: raw, bias=False)
    np.testing.assert_allclose(actions[:, 0], (inputs * parameters).sum(axis=1))


def test_ends_of_episodes_weigh_done_weight_times_in_m_s_loss():
    sizes = dataclasses.replace(CI.memory, hidden_units=8, mixtures=2)
    weighed = memory.build_mdnrnn(dataclasses.replace(sizes, done_weight=10.0), 4, 1)
    plain = memory.build_mdnrnn(dataclasses.replace(sizes, done_weight=1.0), 4, 1)
    plain.set_weights(weighed.get_weights())
    steps = 6
    done = np.zeros((1, steps), np.float32)
    done[0, -1] = 1.0
    batch = (
        np.zeros((1, steps, 4), np.float32),
        np.full((1, steps, 4), -20.0, np.float32),
        np.zeros((1, steps, 1), np.float32),
        done,
        np.ones((1, steps), np.float32),
    )
    _, _, plain_done = plain.loss_terms(batch, training=False)
    _, _, weighed_done = weighed.loss_terms(batch, training=False)
    _, logits, _ = plain(np.zeros((1, steps - 1, 5), np.float32))
    probability = 1 / (1 + np.exp(-np.asarray(logits)[0, -1]))
    np.testing.assert_allclose(
        float(weighed_done) - float(plain_done), -9 * np.log(probability) / (steps - 1), rtol=1e-4
    )


@pytest.mark.parametrize(("done_bias", "expected"), [(20.0, 1), (-20.0, 12)])
def test_a_dream_pays_one_for_every_step_until_m_ends_it(done_bias, expected):
    model = memory.build_mdnrnn(dataclasses.replace(CI.memory, hidden_units=8, mixtures=2), 4, 1)
    kernel, _ = model.done_head.get_weights()
    model.done_head.set_weights([np.zeros_like(kernel), np.array([done_bias], np.float32)])
    settings = dataclasses.replace(CI.dream, steps=12)
    parameters = np.zeros((3, controller.parameter_count(4 + 16, 1, bias=False)))
    returns = dream.dream_returns(
        model,
        None,
        parameters,
        np.zeros((3, 4), np.float32),
        doom.TASK,
        settings,
        dream.SharedNoise(0, repeats=1),
    )
    assert returns.tolist() == [expected] * 3


def test_the_task_picks_its_own_profiles():
    small = config.get("small", "doom")
    assert small.task == "doom" and small.vision.latent_size == 64
    assert small.memory.hidden_units == 512 and small.memory.done_weight == 10.0
    assert config.get("small").task == "carracing" and config.get("small").memory.done_weight == 1
    with pytest.raises(ValueError, match="carracing, doom"):
        config.get("small", "pong")


def test_the_environment_variable_chooses_the_task(monkeypatch):
    monkeypatch.setenv(config.TASK_VARIABLE, "doom")
    monkeypatch.setenv(config.PROFILE_VARIABLE, "ci")
    assert config.active() == CI


@pytest.fixture(scope="module")
def built_doom(tmp_path_factory):
    """A data root in which `python -m wmlib all --task doom` (ci, shrunk) has run, and its run."""
    data = tmp_path_factory.mktemp("doom") / "data"
    return data, run_wmlib("all", *DOOM_SHRUNK, data=data)


def test_all_builds_the_doom_stages_and_only_them(built_doom):
    data, run = built_doom
    assert run.returncode == 0, run.stderr[-3000:]
    doom_stages = stages.for_task(CI)
    assert [stage.name for stage in doom_stages] == [
        "collect", "vae", "latents", "mdnrnn", "controller_dream", "evaluation_dream",
        "temperatures", "iterate",
    ]  # fmt: skip
    for stage in doom_stages:
        assert f"\n{stage.name}: " in run.stdout
    assert sorted(path.name for path in (data / "ci").iterdir()) == ["doom"]


def test_the_temperatures_are_each_scored_in_the_dream_and_in_the_game(built_doom, monkeypatch):
    data, _ = built_doom
    monkeypatch.setenv("WM_DATA", str(data))
    found = pipeline.ensure_temperatures(SHRUNK)
    assert list(found) == list(CI.dream.temperatures)
    for result in found.values():
        assert len(result["real"]) == 2 and len(result["dream"]) == 2
        assert result["parameters"].shape == (1088,)
        assert np.all(result["real"] >= 1) and np.all(result["real"] <= 30)
        assert np.all(result["dream"] >= 1) and np.all(result["dream"] <= CI.dream.steps)
    manifest = json.loads((pipeline.temperatures_dir(SHRUNK) / "manifest.json").read_text())
    assert manifest["summary"]["temperatures"] == list(CI.dream.temperatures)


def test_a_later_round_records_with_the_dream_controller_and_searches_on_in_the_dream(built_doom):
    data, _ = built_doom
    later = data / "ci" / "doom" / "round_1"
    assert (later / "controller_dream").is_dir() and not (later / "controller").exists()
    recorded = json.loads((later / "episodes" / "manifest.json").read_text())
    assert (
        recorded["inputs"]["controller"]
        == json.loads((data / "ci" / "doom" / "controller_dream" / "manifest.json").read_text())[
            "build"
        ]
    )
    searched = json.loads((later / "controller_dream" / "manifest.json").read_text())
    assert searched["inputs"]["controller"] == recorded["inputs"]["controller"]
    rounds = json.loads((data / "ci" / "doom" / "rounds" / "manifest.json").read_text())
    assert rounds["summary"]["rounds"] == 1 and len(rounds["summary"]["means"]) == 2


def test_a_later_rounds_v_fine_tunes_on_a_sample_of_every_rounds_episodes(built_doom):
    data, _ = built_doom
    doom = data / "ci" / "doom"
    rounds = [sorted((doom / name / "episodes").glob("episode_*.npz")) for name in (".", "round_1")]
    training, _ = pipeline.episodes.split_rounds(rounds, CI.vision.validation_fraction)
    budget = CI.iteration.vision_frames
    sampled = pipeline.model.sample_episodes(training, budget, seed=[0, 1])
    assert set(sampled) < set(training) and sampled == sorted(sampled, key=training.index)
    longest = max(files.count_steps([path]) for path in training)
    assert budget <= files.count_steps(sampled) < budget + longest
    assert sampled == pipeline.model.sample_episodes(training, budget, seed=[0, 1])
    assert pipeline.model.sample_episodes(training, 10**6, seed=0) == training
    vision = json.loads((doom / "round_1" / "vae" / "manifest.json").read_text())["summary"]
    assert budget <= vision["training_frames"] < files.count_steps(training)


def test_m_also_learns_every_training_episode_mirrored_left_to_right(built_doom, monkeypatch):
    monkeypatch.setenv("WM_DATA", str(built_doom[0]))
    first = pipeline.ensure_latents(SHRUNK)[0]
    mirrored = files.load_latents(pipeline.model.mirrored_path(first))
    episode = files.load_episode(pipeline.episodes_dir(SHRUNK) / first.name)
    mean, _ = vision.encode(pipeline.ensure_vae(SHRUNK), episode.observations[:, :, ::-1])
    np.testing.assert_allclose(mirrored["mean"], mean, atol=1e-5)
    np.testing.assert_array_equal(mirrored["actions"], -episode.actions)
    training, held_out = pipeline.memory_sequences(SHRUNK)
    assert len(training) == 2 * 2 and len(held_out) == 1  # 3 episodes, 1 held out, 2 mirrored
    np.testing.assert_array_equal(training[2]["actions"], -training[0]["actions"])
    np.testing.assert_array_equal(training[2]["done"], training[0]["done"])


def test_mirroring_is_refused_where_the_world_is_not_symmetric_and_unknown_ones_anywhere():
    carracing = config.get("ci")
    mirrored = dataclasses.replace(carracing.memory, augmentation="mirror")
    with pytest.raises(config.ProfileError, match="'carracing' is not left–right symmetric"):
        pipeline.model.mirror_action(dataclasses.replace(carracing, memory=mirrored))
    with pytest.raises(config.ProfileError, match="memory.augmentation is 'flip'; choose one"):
        dataclasses.replace(CI, memory=dataclasses.replace(CI.memory, augmentation="flip"))


def test_the_video_shrinks_dooms_screens_and_keeps_every_sixth(built_doom):
    data, _ = built_doom
    video = data / "ci" / "doom" / "evaluation_dream" / "agent.gif"
    returns = json.loads((video.parent / "returns.json").read_text())
    filmed = returns[str(CI.control.evaluation_seed)]  # +1 a tic: the steps it played
    with Image.open(video) as gif:
        assert gif.size == (160, 120)
        assert gif.n_frames == -(-(int(filmed) + 1) // doom.TASK.video_stride)


def test_a_stage_names_which_tasks_it_is_built_for():
    assert [stage.name for stage in stages.STAGES if stage.built_for == "dream"] == ["temperatures"]
    with pytest.raises(ValueError, match="built_for must be one of"):
        stages.Stage("x", "x", (), print, print, (), "sometimes")


def test_a_carracing_stage_is_refused_for_doom_in_one_line(built_doom):
    run = run_wmlib("controller", *DOOM_SHRUNK, data=built_doom[0])
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "not built for task 'doom'" in run.stderr


def test_status_has_doom_rows(built_doom):
    run = run_wmlib("status", "--profile", "ci", data=built_doom[0])
    assert run.returncode == 0, run.stderr
    assert "| doom: M (mdnrnn) | ci |" in run.stdout
    assert "| doom: dreams at several temperatures | ci |" in run.stdout
    assert "| doom: C (controller), round 1 | ci |" in run.stdout
