"""Each task's three profiles (`config.PROFILE_NAMES`): `ci`, `small` and `paper`.

CarRacing's `paper` profile has Ha & Schmidhuber's settings from their code; Doom's has those of
their Take Cover experiment (z of 64, an LSTM of 512, a done head whose positives weigh 10 times,
C on [z, c, h] without a bias, episodes of at most 2,100 steps, the controller trained in M's
dream at τ = 1.15). `config.get(name, task)` picks one.
"""

from dataclasses import replace
from functools import partial

from wmlib.config import (
    ControlConfig,
    DreamConfig,
    IterationConfig,
    MemoryConfig,
    Profile,
    RolloutConfig,
    VisionConfig,
)

CI_ITERATION = IterationConfig(
    rounds=1, episodes=2, vision_epochs=1, memory_training_steps=10, generations=2
)
"""One short round of iterative training, so that `ci` runs every stage of every task."""
DOOM_STEPS = 2100
"""The paper's cap on a Take Cover episode, in the real game and in the dream."""
DOOM_MEMORY = partial(MemoryConfig, hidden_units=512, sequence_length=500, done_weight=10.0)
"""The paper's Doom M: an LSTM of 512 over sequences of 500 steps, episode ends weighed ×10."""
DOOM_CONTROL = partial(ControlConfig, training_steps=DOOM_STEPS, evaluation_steps=DOOM_STEPS)
"""C in Take Cover is scored over whole episodes of up to 2,100 steps."""

PROFILES = {
    "carracing": {
        "ci": Profile(
            name="ci",
            description="every chapter in minutes, for the tests",
            rollouts=RolloutConfig(episodes=6, max_steps=120, policy="brownian"),
            comparison_episodes=2,
            vision=VisionConfig(epochs=1),
            memory=MemoryConfig(sequence_length=100, batch_size=4, training_steps=20),
            control=ControlConfig(
                population_size=4,
                episodes_per_candidate=1,
                generations=2,
                training_steps=40,
                mean_evaluation_interval=1,
                mean_evaluation_episodes=1,
                evaluation_episodes=2,
                evaluation_steps=60,
                environments_per_task=2,
            ),
            comparison_generations=2,
            iteration=replace(CI_ITERATION, vision_new_episodes_only=True),
            dream=DreamConfig(
                reward_epochs=1,
                population_size=4,
                episodes_per_candidate=2,
                generations=2,
                steps=20,
                mean_evaluation_episodes=4,
            ),
        ),
        "small": Profile(
            name="small",
            description="a few hours on 2 cores; the published book",
            rollouts=RolloutConfig(episodes=200, policy="brownian"),
            comparison_episodes=8,
            vision=VisionConfig(epochs=5),
            memory=MemoryConfig(batch_size=16, training_steps=500),
            control=ControlConfig(
                population_size=16,
                episodes_per_candidate=2,
                generations=75,
                training_steps=500,
                mean_evaluation_interval=5,
                mean_evaluation_episodes=32,
            ),
            z_only_generations=25,
            iteration=IterationConfig(rounds=2, episodes=200, vision_new_episodes_only=True),
        ),
        "paper": Profile(
            name="paper",
            description="the paper's settings, weeks on many cores",
            rollouts=RolloutConfig(policy="cauchy_weights"),
            comparison_episodes=16,
            control=ControlConfig(mean_evaluation_episodes=1024),
        ),
    },
    "doom": {
        "ci": Profile(
            name="ci",
            description="every chapter in minutes, for the tests",
            task="doom",
            rollouts=RolloutConfig(episodes=6, max_steps=120, policy="held_random"),
            comparison_episodes=2,
            iteration=replace(CI_ITERATION, vision_frames=60),
            vision=VisionConfig(latent_size=64, epochs=1),
            memory=DOOM_MEMORY(
                sequence_length=100, batch_size=4, training_steps=20, augmentation="mirror"
            ),
            control=DOOM_CONTROL(
                mean_evaluation_interval=1,
                evaluation_episodes=2,
                evaluation_steps=60,
                environments_per_task=2,
            ),
            dream=DreamConfig(
                temperature=1.15,
                temperatures=(0.10, 1.15),
                population_size=4,
                episodes_per_candidate=2,
                generations=2,
                steps=20,
                mean_evaluation_episodes=4,
            ),
        ),
        "small": Profile(
            name="small",
            description="about 2.5 hours on 2 cores; the published book",
            task="doom",
            rollouts=RolloutConfig(episodes=500, max_steps=DOOM_STEPS, policy="held_random"),
            comparison_episodes=100,
            vision=VisionConfig(latent_size=64, epochs=3),
            memory=DOOM_MEMORY(batch_size=16, training_steps=500, augmentation="mirror"),
            control=DOOM_CONTROL(mean_evaluation_interval=5),
            iteration=IterationConfig(rounds=3, episodes=500),
            dream=DreamConfig(
                temperature=1.15,
                temperatures=(0.10, 1.00, 1.15, 1.30),
                population_size=32,
                episodes_per_candidate=8,
                generations=20,
                steps=DOOM_STEPS,
                mean_evaluation_episodes=64,
            ),
        ),
        "paper": Profile(
            name="paper",
            description="the paper's settings, days on many cores",
            task="doom",
            rollouts=RolloutConfig(max_steps=DOOM_STEPS, policy="held_random"),
            comparison_episodes=100,
            vision=VisionConfig(latent_size=64),
            memory=DOOM_MEMORY(),
            control=DOOM_CONTROL(),
            dream=DreamConfig(
                temperature=1.15, generations=200, steps=DOOM_STEPS, mean_evaluation_episodes=1024
            ),
        ),
    },
}
"""The profiles by task and name."""
