"""Hyperparameters of every stage and the three profiles that scale them.

A profile is one frozen `Profile`: the same code runs the `ci` profile in minutes for the tests,
the `small` profile in a few hours on a 2-core laptop (what the published book shows), and the
`paper` profile with Ha & Schmidhuber's settings. Chapters and the command line never hard-code
a budget; they ask `active()` for the profile chosen by the `WM_PROFILE` environment variable
(and `WM_TASK` for the task). Each task's three profiles are in `wmlib.profiles`.
"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from wmlib.data_folder import task_folder
from wmlib.errors import WorldModelsError

PROFILE_VARIABLE = "WM_PROFILE"
DEFAULT_PROFILE = "small"
PROFILE_NAMES = ("ci", "small", "paper")
"""The three budgets, the same for every task (`wmlib.profiles` holds each task's)."""
TASK_VARIABLE = "WM_TASK"
DEFAULT_TASK = "carracing"
PRECISIONS = {None: "float32", "bfloat16": "mixed_bfloat16"}
"""A model's `precision` setting → the Keras dtype policy its body trains under; in bfloat16, with
float32 weights, faster on CPUs with AVX512-BF16 or AMX and on recent GPUs (bench/precision.py).
Heads compute in float32, and a trained model is saved to compute in float32 (`training`)."""
AUGMENTATIONS = (None, "mirror")
"""What M may learn beside the recorded episodes (`MemoryConfig.augmentation`)."""


@dataclass(frozen=True)
class FrameConfig:
    """How a 96×96×3 CarRacing frame becomes V's input (chapter 1)."""

    dashboard_row: int = 84
    """Rows from this one down hold the dashboard (speed, ABS, steering bars) and are cropped."""
    size: int = 64
    """Side of the square frame V sees after the crop is resized."""


@dataclass(frozen=True)
class RolloutConfig:
    """How the episodes that V and M learn from are collected (chapter 1)."""

    episodes: int = 10_000
    """Number of episodes recorded to disk."""
    max_steps: int = 1000
    """Steps after which an episode is truncated; CarRacing-v3's own time limit is 1000."""
    policy: str = "random_weights"
    """Data-collection policy, a key of the task's `policies` (`wmlib.env.Task.policies`)."""
    seed: int = 0
    """Episode i is played with seed `seed + i`, so a collection is reproducible and resumable."""


@dataclass(frozen=True)
class VisionConfig:
    """The ConvVAE, V (chapter 2)."""

    latent_size: int = 32
    """Size of z, the compressed frame."""
    kl_tolerance: float = 0.5
    """The KL term is floored at `kl_tolerance * latent_size` nats per example."""
    learning_rate: float = 1e-4
    """Adam's learning rate."""
    batch_size: int = 100
    """Frames per gradient step."""
    epochs: int = 10
    """Passes over all recorded frames."""
    validation_fraction: float = 0.05
    """Share of the episodes (at least one) held out of training to measure the loss on."""
    shuffle_buffer: int = 10_000
    """Frames mixed in memory when shuffling across episodes (the data set never is loaded)."""
    seed: int = 0
    """Seeds the weights, the shuffling and the sampling noise of training."""
    precision: str | None = None
    """None: V trains in float32; "bfloat16": its convolutions compute in bfloat16 while it
    trains, its weights and heads in float32 (`PRECISIONS`); the trained V computes in float32."""


@dataclass(frozen=True)
class MemoryConfig:
    """The MDN-RNN, M (chapters 3 to 5)."""

    hidden_units: int = 256
    """Size of the LSTM's hidden and cell state."""
    mixtures: int = 5
    """Gaussians in the mixture predicted for each latent dimension."""
    sequence_length: int = 999
    """Steps per training sequence (an episode of 1000 frames gives 999 transitions)."""
    batch_size: int = 100
    """Sequences per gradient step."""
    learning_rate: float = 1e-3
    """Adam's learning rate."""
    gradient_clip: float = 1.0
    """Gradients are clipped to this norm."""
    training_steps: int = 4000
    """Gradient steps in all."""
    done_weight: float = 1.0
    """Weight of a step that ends the episode in the done head's loss: the paper's Doom M weighs
    them 10 times, since an episode ends once in hundreds of steps and a dream must end too."""
    seed: int = 0
    """Seeds the weights, the choice of training windows and the resampling of z."""
    precision: str | None = None
    """None: M trains in float32; "bfloat16": its LSTM computes in bfloat16 while it trains,
    its weights and heads in float32 (`PRECISIONS`); the trained M computes in float32."""
    augmentation: str | None = None
    """None: M learns the recorded episodes; "mirror": each training episode also mirrored left
    to right (frames flipped, actions by `Task.mirror_action`), for a left–right symmetric task."""


@dataclass(frozen=True)
class ControlConfig:
    """The controller C and its CMA-ES search (chapters 6 to 8)."""

    population_size: int = 64
    """Candidate controllers per CMA-ES generation."""
    episodes_per_candidate: int = 16
    """A candidate's fitness is its mean return over this many episodes."""
    initial_step_size: float = 0.1
    """CMA-ES's σ₀; the search starts from all-zero parameters."""
    weight_decay: float = 0.01
    """Fitness is penalised by this times the mean squared parameter."""
    generations: int = 1800
    """CMA-ES generations (the paper's run took about 1,800)."""
    training_steps: int = 1000
    """Steps after which a training episode is cut short; CarRacing's own limit is 1,000."""
    mean_evaluation_interval: int = 25
    """Every this many generations CMA-ES's mean is scored on fixed tracks; the best-scoring mean
    is the controller the search returns (the paper's code did this every 25 generations)."""
    mean_evaluation_episodes: int = 64
    """Episodes (fixed seeds, `evaluation_steps` long) of each evaluation of the mean. The paper's
    code drove 1,024 (its 64 workers × 16 episodes each), which the `paper` profile sets."""
    evaluation_episodes: int = 100
    """Episodes (fixed seeds) over which the final controller is scored."""
    evaluation_steps: int = 1000
    """Length of every evaluation episode: CarRacing's own 1,000 steps, on which the paper's
    scores are measured (shorter only in `ci`)."""
    environments_per_task: int = 16
    """Environments a worker steps in lock-step, so that V and M run batched over them; a `small`
    generation's rollouts ran fastest with 16 (bench/README.md)."""
    seed: int = 0
    """Seeds CMA-ES's sampling."""
    training_seed: int = 2_000_000
    """First seed of the training tracks: generation g drives the next `episodes_per_candidate`
    tracks after generation g − 1's, apart from the data-collection seeds."""
    evaluation_seed: int = 1_000_000
    """First seed of the fixed evaluation tracks, far from the collection and training seeds."""


@dataclass(frozen=True)
class IterationConfig:
    """Iterative training (chapter 9): later rounds in which the previous round's agent drives,
    with noisy actions, to record episodes; V and M are fine-tuned on every round's episodes and
    CMA-ES restarts from the previous controller (round 0 is the pipeline as the paper ran it)."""

    rounds: int = 0
    """Rounds after the first; the paper ran none for CarRacing, the seed's 893 needed one."""
    episodes: int = 5000
    """Episodes recorded in each round by the previous round's agent."""
    action_noise: float = 0.3
    """Standard deviation of the noise on C's raw outputs while a round records: the car mostly
    follows the road as C would, and M also sees what other actions lead to."""
    vision_epochs: int = 1
    """Epochs of fine-tuning V (a fresh Adam, V's learning rate)."""
    vision_new_episodes_only: bool = False
    """Fine-tune V on the episodes this round recorded only, not on every round's (the seed's
    recipe): an epoch then costs the same in every round instead of growing with each. V starts
    from the previous round's, is validated on every round's held-out episodes, and M still
    learns from every round's."""
    vision_frames: int | None = None
    """Frames V fine-tunes on in a later round, at most: a random sample of its training episodes
    (drawn anew each round, every round in proportion to its frames) holding about this many,
    so that V's epoch stops growing with the rounds while still seeing every round's play. None:
    every training episode."""
    memory_training_steps: int = 500
    """Gradient steps of fine-tuning M on every round's episodes (a fresh Adam)."""
    generations: int = 25
    """CMA-ES generations of each later round's real search: it starts from the previous round's
    controller, so it fine-tunes one rather than searching from zeros as round 0 does. (A search
    in M's dream runs `dream.generations` in every round.)"""


@dataclass(frozen=True)
class DreamConfig:
    """C trained inside M's dream (chapter 9): a reward head on M, and CMA-ES in `DreamEnv`."""

    reward_hidden_units: int = 64
    """Units of the reward head's hidden layer; it reads [z_{t+1}, h_{t+1}] and predicts r_t."""
    reward_epochs: int = 5
    """Epochs of fitting the reward head on M's training episodes, M itself left as it is."""
    temperature: float = 1.0
    """The dream's temperature (mixture logits ÷ τ, noise × √τ)."""
    temperatures: tuple[float, ...] = (0.10, 0.50, 1.00, 1.15, 1.30)
    """The temperatures the comparison of dreams trains a controller at, one search each (the
    paper's Doom table; the `temperatures` stage)."""
    population_size: int = 64
    """Candidates per CMA-ES generation in the dream (the paper's population)."""
    episodes_per_candidate: int = 16
    """Dreams per candidate, each from a real episode's first frame (the paper's 16)."""
    generations: int = 25
    """CMA-ES generations in the dream."""
    steps: int = 500
    """Steps after which a dream is cut short, unless M's done head ends it first."""
    mean_evaluation_episodes: int = 256
    """Dreams (fixed starts and noise) on which the search's mean is scored, to keep the best."""


@dataclass(frozen=True)
class PoolConfig:
    """How worker processes are watched (chapter 8): each task's time limit, and its retries.

    A worker that crashes, or runs a task past its time limit, is replaced and the task sent
    again. The limit follows the task's length (`time_limit`), so that a hung worker is noticed in
    about the time a healthy one would have needed; bench/README.md has the step times measured.
    """

    step_seconds: float = 0.02
    """Seconds one environment step may take in a worker, the agent's V, M and C included: about
    three times the 6.3 ms measured with Gymnasium's renderer (which a reader may choose), so
    that only a hung worker runs out of time."""
    margin_seconds: float = 10.0
    """Seconds added to every task's limit for what does not grow with its steps: making the
    environments, writing the episode file, a machine busy with other work."""
    startup_seconds: float = 20.0
    """Seconds added to every task's limit for a fresh worker's start (spawning, importing
    TensorFlow, loading V and M): 3 to 4 s measured, allowed for a cold disk and a slow machine."""
    retries: int = 2
    """Times a task is sent again after its worker crashed or ran past the time limit, before the
    run stops with an error."""

    def time_limit(self, episodes: int, steps: int) -> float:
        """Seconds a task of `episodes` episodes of at most `steps` steps may take in a worker."""
        return self.startup_seconds + self.margin_seconds + episodes * steps * self.step_seconds


@dataclass(frozen=True)
class Profile:
    """Every stage's settings at one budget."""

    name: str
    """The name `WM_PROFILE` selects it by."""
    description: str
    """What the profile is for, printed at the top of every chapter."""
    rollouts: RolloutConfig
    """Data collection."""
    comparison_episodes: int
    """Episodes per policy in the comparisons of data-collection policies (chapter 1) and of
    random agents (chapter 10's baselines)."""
    comparison_generations: int = 25
    """CMA-ES generations of the searches compared at one budget: chapter 8's search shapes and
    chapter 9's real search warm-started from the dream's controller. Fixed apart from
    `control.generations`, so that a longer search for C does not multiply their cost."""
    z_only_generations: int | None = None
    """CMA-ES generations of the paper's ablation, C on z only (None: `control.generations`, as
    the paper ran it); a budget of its own, so that `all` can stop it sooner than the full
    agent's search (chapter 8 shows both curves)."""
    task: str = "carracing"
    """The environment the agent learns, a key of `wmlib.env.TASKS`."""
    frame: FrameConfig = field(default_factory=FrameConfig)
    """Frame preprocessing, the same at every budget."""
    vision: VisionConfig = field(default_factory=VisionConfig)
    """V."""
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    """M."""
    control: ControlConfig = field(default_factory=ControlConfig)
    """C."""
    pool: PoolConfig = field(default_factory=PoolConfig)
    """The worker processes that record episodes and drive the agent: time limits, retries."""
    iteration: IterationConfig = field(default_factory=IterationConfig)
    """Iterative training's rounds after the first."""
    dream: DreamConfig = field(default_factory=DreamConfig)
    """The controller trained in M's dream, and the real search started from it."""
    round: int = 0
    """The round of iterative training whose artefacts this profile reads and builds (0: the
    first; `at_round` gives the others)."""

    def __post_init__(self):
        if not 0 <= self.round <= self.iteration.rounds:
            raise ProfileError(
                f"Profile {self.name!r} runs rounds 0 to {self.iteration.rounds} of iterative "
                f"training, not round {self.round}; raise iteration.rounds to run more."
            )
        for name, value, choices in (
            ("vision.precision", self.vision.precision, PRECISIONS),
            ("memory.precision", self.memory.precision, PRECISIONS),
            ("memory.augmentation", self.memory.augmentation, AUGMENTATIONS),
        ):
            if value not in choices:
                listed = ", ".join(map(repr, choices))
                raise ProfileError(f"{name} is {value!r}; choose one of {listed}.")

    @property
    def data_dir(self) -> Path:
        """Where this profile's artefacts live: `<data root>/<profile name>/<task>`, and for a
        later round of iterative training its subfolder `round_<k>`."""
        directory = task_folder(self.name, self.task)
        return directory / f"round_{self.round}" if self.round else directory

    def describe(self) -> str:
        """Two lines atop a chapter, short to fit its column: the profile, its data, the others."""
        return (
            f"Profile {self.name!r}: {self.description}.\n"
            f"Data: {os.path.relpath(self.data_dir)}; "
            f"switch: {PROFILE_VARIABLE}={'|'.join(PROFILE_NAMES)}"
        )


class ProfileError(WorldModelsError, ValueError):
    """Raised for a profile name that is not one of `PROFILE_NAMES`, or a round it does not run."""


def at_round(profile: Profile, round_number: int) -> Profile:
    """The profile as seen by round `round_number` of its iterative training (0 to `rounds`)."""
    return replace(profile, round=round_number)


def get(name: str, task: str = DEFAULT_TASK) -> Profile:
    """The profile called `name` for `task`, or a `ProfileError` that lists the valid names."""
    from wmlib.profiles import PROFILES

    if task not in PROFILES:
        raise ProfileError(
            f"Unknown task {task!r}; choose one of {', '.join(PROFILES)} "
            f"(set {TASK_VARIABLE}, or pass --task)."
        )
    if name not in PROFILE_NAMES:
        raise ProfileError(
            f"Unknown profile {name!r}. Choose one of: {', '.join(PROFILE_NAMES)} "
            f"(set {PROFILE_VARIABLE}={DEFAULT_PROFILE}, or pass --profile {DEFAULT_PROFILE})."
        )
    return PROFILES[task][name]


def active(task: str | None = None) -> Profile:
    """The profile chosen by `WM_PROFILE` (default `small`) for `task`, or when none is given
    the task chosen by `WM_TASK` (default `carracing`): the Doom chapters pass theirs."""
    name = os.environ.get(PROFILE_VARIABLE, DEFAULT_PROFILE).strip()
    return get(name, task or os.environ.get(TASK_VARIABLE, DEFAULT_TASK).strip())
