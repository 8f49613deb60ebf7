"""C, the controller (chapter 8: control).

C is deliberately tiny: one linear map from what V sees (z) and what M remembers (h) to the
actions, a = W [z, h] + b; for CarRacing's three actions that is 288 × 3 + 3 = 867 numbers. That
is few enough for an evolution strategy, which needs no gradient and only asks how well each
candidate drives. All the work of understanding the world is left to V and M. The paper's Doom
controller also reads M's cell state c and has no bias: a = W [z, c, h], 1,088 numbers for its
one action (the task says which, `Task.controller_reads_cell` and `Task.controller_bias`).
"""

from collections.abc import Callable

import numpy as np

from wmlib.errors import WorldModelsError


class ControllerError(WorldModelsError, ValueError):
    """Controller parameters that do not fit the controller's inputs."""


def input_size(
    latent_size: int, hidden_size: int, use_memory: bool = True, reads_cell: bool = False
) -> int:
    """What C reads: z alone (the paper's ablation), z beside M's hidden state h, or z beside
    M's cell state c and h (the paper's Doom controller)."""
    return latent_size + (hidden_size * (2 if reads_cell else 1) if use_memory else 0)


def features(z: np.ndarray, state, reads_cell: bool = False) -> np.ndarray:
    """C's input for a batch: [z, h], [z, c, h] with `reads_cell`, or z alone when there is no
    M state (`state` None)."""
    if state is None:
        return np.asarray(z)
    hidden, cell = (np.asarray(part) for part in state)
    return np.concatenate([z, cell, hidden] if reads_cell else [z, hidden], axis=-1)


def parameter_count(inputs: int, actions: int, bias: bool = True) -> int:
    """W's entries and b's: (32 + 256) × 3 + 3 = 867 for CarRacing's full agent, 99 on z only;
    (64 + 512 + 512) × 1 = 1,088 for Doom's, which has no b."""
    return (inputs + bias) * actions


def act(
    parameters: np.ndarray, features: np.ndarray, squash: Callable, bias: bool = True
) -> np.ndarray:
    """Actions of a batch of controllers: row i of `parameters` drives on row i of `features`.

    A parameter vector holds W row by row (input i's weight for each action), then b if the
    controller has one. The raw outputs go through the task's squashing into its action ranges
    (`Task.controller_action`).
    """
    inputs = features.shape[-1]
    actions, remainder = divmod(parameters.shape[-1], inputs + bias)
    if remainder or not actions:
        raise ControllerError(
            f"{parameters.shape[-1]} controller parameters do not fit {inputs} inputs: expected "
            f"(inputs{' + 1' if bias else ''}) × actions, e.g. "
            f"{parameter_count(inputs, 3, bias)} for 3 actions."
        )
    weights = parameters[:, : inputs * actions].reshape(-1, inputs, actions)
    raw = np.einsum("bi,bio->bo", features, weights)
    return squash(raw + parameters[:, inputs * actions :] if bias else raw)
