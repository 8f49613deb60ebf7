"""C, the controller (chapter 8: control).

C is deliberately tiny: one linear map from what V sees (z) and what M remembers (h) to the
actions, a = W [z, h] + b; for CarRacing's three actions that is 288 × 3 + 3 = 867 numbers. That
is few enough for an evolution strategy, which needs no gradient and only asks how well each
candidate drives. All the work of understanding the world is left to V and M.
"""

from collections.abc import Callable

import numpy as np

from wmlib.errors import WorldModelsError


class ControllerError(WorldModelsError, ValueError):
    """Controller parameters that do not fit the controller's inputs."""


def input_size(latent_size: int, hidden_size: int, use_memory: bool = True) -> int:
    """What C reads: z alone (the paper's ablation) or z beside M's hidden state h."""
    return latent_size + (hidden_size if use_memory else 0)


def parameter_count(inputs: int, actions: int) -> int:
    """W's entries and b's: (32 + 256) × 3 + 3 = 867 for CarRacing's full agent, 99 on z only."""
    return (inputs + 1) * actions


def act(parameters: np.ndarray, features: np.ndarray, squash: Callable) -> np.ndarray:
    """Actions of a batch of controllers: row i of `parameters` drives on row i of `features`.

    A parameter vector holds W row by row (input i's weight for each action), then b. The raw
    outputs go through the task's squashing into its action ranges (`Task.controller_action`).
    """
    inputs = features.shape[-1]
    actions, remainder = divmod(parameters.shape[-1], inputs + 1)
    if remainder or not actions:
        raise ControllerError(
            f"{parameters.shape[-1]} controller parameters do not fit {inputs} inputs: expected "
            f"(inputs + 1) × actions, e.g. {parameter_count(inputs, 3)} for 3 actions."
        )
    weights = parameters[:, : inputs * actions].reshape(-1, inputs, actions)
    bias = parameters[:, inputs * actions :]
    return squash(np.einsum("bi,bio->bo", features, weights) + bias)
