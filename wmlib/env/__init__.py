"""The tasks an agent can learn, behind one small interface (chapter 1: MDPs and CarRacing).

Everything that differs between environments — making one, turning its observations into V's
64×64 frames, mapping the controller's outputs to actions, the policies that collect V's and M's
data, what an episode file records beside the frames — is a field of a `Task`. The rest of the
library asks `task(profile.task)` for it and never names an environment.
"""

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from wmlib.errors import WorldModelsError

TASKS = {"carracing": "wmlib.env.carracing", "doom": "wmlib.env.doom"}
"""Each task's name and the module that defines it as `TASK` (imported only when asked for)."""


@dataclass(frozen=True)
class Task:
    """What the library needs to know about one environment."""

    name: str
    """The name a profile selects it by (`Profile.task`); it also names its data folder."""
    make_env: Callable
    """`make_env(max_steps, render_mode=None)`: a new environment, truncated after `max_steps`."""
    preprocess: Callable
    """`preprocess(observations, frame_config)`: raw observations (one or a batch) → V's
    64×64×3 uint8 frames."""
    action_size: int
    """Numbers in one action, as the controller outputs it and M receives it."""
    controller_action: Callable[[np.ndarray], np.ndarray]
    """The controller's unbounded outputs (..., action_size) → actions in the task's ranges."""
    env_action: Callable[[np.ndarray], object]
    """One action as M sees it → what the environment's `step` takes."""
    policies: Mapping[str, type]
    """The data-collection policies by name; each has `reset(rng, frame_shape)` and
    `act(frame)`."""
    episode_steps: int
    """The environment's own episode length, over which scores are reported."""
    frames_per_second: float
    """The simulation's rate, for videos in real time."""
    step_extras: Callable[[object], dict]
    """What an episode file records per step beside the frame, read from the environment
    before each step (may be empty)."""
    episode_extras: Callable[[object], dict]
    """What an episode file records once, read from the environment at the episode's end."""
    video_scale: float = 2.0
    """How much a video resizes the raw frames: CarRacing's 96×96 to twice their size."""
    video_stride: int = 3
    """A video keeps every this many frames, shown at the simulation's rate ÷ the stride, so in
    real time."""
    action_sliders: tuple[tuple[str, float, float, float], ...] = ()
    """Each action number's name, lowest and highest value and starting value, for the widgets
    in which a reader acts (the dream player)."""
    controller_reads_cell: bool = False
    """Whether C reads M's cell state c beside h, [z, c, h] (the paper's Doom controller), or
    [z, h] (its CarRacing controller)."""
    controller_bias: bool = True
    """Whether C adds a bias to W·[z, h] (CarRacing: yes; the paper's Doom controller: no)."""
    trained_in_dream: bool = False
    """Whether C learns only inside M's dream and never drives the real environment before its
    evaluation (the paper's Take Cover experiment); otherwise it is searched in the real one."""
    survival_reward: float | None = None
    """The reward the environment pays for every step the agent survives and nothing else (Take
    Cover's +1 a tic), which a dream pays as it is; None when a dream needs M's learned reward
    head (CarRacing)."""

    mirror_action: Callable[[np.ndarray], np.ndarray] | None = None
    """Actions as M sees them → the same play's actions mirrored left to right, for a task whose
    world is left–right symmetric, so that a flipped episode is one it could have recorded (Take
    Cover's room); None for one that is not (CarRacing's tracks all run the same way round)."""

    def make_policy(self, name: str):
        """A new data policy called `name`, or a clear error listing the known names."""
        if name not in self.policies:
            raise TaskError(
                f"Unknown data policy {name!r} for task {self.name!r}; choose one of "
                f"{', '.join(self.policies)} (RolloutConfig.policy)."
            )
        return self.policies[name]()


class TaskError(WorldModelsError, ValueError):
    """A task or policy name that does not exist."""


def __getattr__(name: str):
    """`wmlib.env.FastCarRacing`, imported on first use: it brings in Gymnasium, Box2D and
    pygame, which the modules that only ask for a `Task` never need."""
    if name == "FastCarRacing":
        from wmlib.env.fast_carracing import FastCarRacing

        return FastCarRacing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def task(name: str) -> Task:
    """The task called `name` (`Profile.task`), or a `TaskError` that lists the valid names."""
    if name not in TASKS:
        raise TaskError(
            f"Unknown task {name!r}; choose one of {', '.join(TASKS)} (Profile.task, or "
            f"--task on the command line)."
        )
    return importlib.import_module(TASKS[name]).TASK
