"""Learning inside the dream: the reward head's examples, shapes and loss, a dream that pays
what it predicts, and CMA-ES's fitness in dreams."""

import numpy as np
import pytest

from wmlib import config, controller, dream, memory
from wmlib.env import carracing, doom
from wmlib.runtime import keras

TINY = config.MemoryConfig(hidden_units=16, mixtures=3, sequence_length=6, batch_size=2)
HEAD = config.DreamConfig(reward_hidden_units=8, steps=5, episodes_per_candidate=3)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return memory.build_mdnrnn(TINY, 32, 3)


def sequences(lengths, seed=0):
    """Encoded episodes whose reward is the next frame's first latent dimension."""
    rng = np.random.default_rng(seed)
    found = []
    for length in lengths:
        mean = rng.normal(size=(length, 32)).astype(np.float32)
        rewards = np.append(mean[1:, 0], 0.0).astype(np.float32)
        found.append(
            {
                "mean": mean,
                "log_variance": np.full((length, 32), -40.0, np.float32),  # z is μ
                "actions": rng.uniform(-1, 1, (length, 3)).astype(np.float32),
                "rewards": rewards,
                "done": np.zeros(length, np.float32),
            }
        )
    return found


def test_reward_examples_pair_the_next_z_and_ms_memory_with_the_steps_reward(model):
    episodes = sequences([5, 8])
    features, targets = dream.reward_examples(model, episodes, seed=0)
    assert features.shape == (4 + 7, 32 + 16) and targets.shape == (11, 1)
    assert features.dtype == targets.dtype == np.float32
    first = episodes[0]
    np.testing.assert_allclose(features[:4, :32], first["mean"][1:], atol=1e-6)
    np.testing.assert_allclose(targets[:4, 0], first["rewards"][:-1])
    inputs = np.concatenate([first["mean"][:-1], first["actions"][:-1]], axis=-1)
    hidden = np.asarray(model.lstm(inputs[None])[0])[0]
    np.testing.assert_allclose(features[:4, 32:], hidden, atol=1e-5)


def test_the_reward_head_learns_a_reward_its_inputs_hold(model):
    keras.utils.set_random_seed(1)
    features, targets = dream.reward_examples(model, sequences([200] * 10), seed=0)
    held_out = dream.reward_examples(model, sequences([200] * 2, seed=1), seed=0)
    head = dream.build_reward_head(features.shape[1], HEAD)
    assert head(features[:7]).shape == (7, 1)
    before = head.evaluate(*held_out, verbose=0)
    head.fit(features, targets, epochs=20, batch_size=64, verbose=0)
    after = head.evaluate(*held_out, verbose=0)
    assert after < 0.2 * held_out[1].var() and after < before


def test_a_dream_pays_what_the_reward_head_predicts(model):
    head = dream.build_reward_head(32 + 16, HEAD)
    initial = np.random.default_rng(2).normal(size=(3, 32)).astype(np.float32)
    env = memory.DreamEnv(model, initial, seed=0, reward_head=head)
    env.reset()
    z, reward, *_ = env.step(np.zeros((3, 3), np.float32))
    expected = head(np.concatenate([z, np.asarray(env.state[0])], axis=-1))
    assert reward.shape == (3,)
    np.testing.assert_allclose(reward, np.asarray(expected)[:, 0], atol=1e-6)


def test_fitness_in_dreams_is_each_candidates_mean_over_the_same_dreams(model):
    head = dream.build_reward_head(32 + 16, HEAD)
    episodes = sequences([4] * 6)
    first = tuple(np.stack([e[name][0] for e in episodes]) for name in ("mean", "log_variance"))
    search = dream.DreamSearch(model, head, first, carracing.TASK, HEAD)
    candidates = np.random.default_rng(3).normal(scale=0.3, size=(2, (32 + 16 + 1) * 3))
    fitness = search.fitness(candidates, generation=4)
    assert fitness.shape == (2,) and fitness[0] != fitness[1]
    np.testing.assert_array_equal(fitness, search.fitness(candidates, generation=4))
    twice = search.fitness(np.repeat(candidates[:1], 2, axis=0), generation=4)
    assert twice[0] == pytest.approx(twice[1], abs=1e-6)  # the same dreams for every candidate
    assert search.score(candidates[0]) == search.score(candidates[0])


def test_a_controller_of_unknown_origin_is_refused_naming_the_known_ones():
    from wmlib import pipeline

    with pytest.raises(ValueError, match="'real', 'dream', 'warm'"):
        pipeline.controller_dir(config.get("ci"), origin="dreem")


def test_a_batch_of_candidates_dreams_what_each_candidate_dreams_alone():
    """Dreams that end leave the batch; no dream's course depends on which others ended."""
    keras.utils.set_random_seed(1)
    mdnrnn = memory.build_mdnrnn(TINY, 4, 1)
    kernel, _ = mdnrnn.done_head.get_weights()
    mdnrnn.done_head.set_weights([20 * kernel, np.array([-2.0], np.float32)])
    settings = config.DreamConfig(temperature=1.15, steps=40)
    rng = np.random.default_rng(4)
    candidates, dreams = 3, 5
    starts = rng.normal(size=(dreams, 4)).astype(np.float32)
    parameters = rng.normal(
        size=(candidates * dreams, controller.parameter_count(4 + 32, 1, False))
    )
    together = dream.dream_returns(
        mdnrnn,
        None,
        parameters,
        np.tile(starts, (candidates, 1)),
        doom.TASK,
        settings,
        dream.SharedNoise(5, repeats=candidates),
    )
    alone = [
        dream.dream_returns(
            mdnrnn,
            None,
            parameters[row : row + dreams],
            starts,
            doom.TASK,
            settings,
            dream.SharedNoise(5, repeats=1),
        )
        for row in range(0, len(parameters), dreams)
    ]
    np.testing.assert_array_equal(together, np.concatenate(alone))
    assert len(set(together)) > 3 and together.min() < together.max() < settings.steps
