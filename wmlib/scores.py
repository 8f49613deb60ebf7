"""How sure a score is: means with their standard errors, and paired differences (chapter 9).

Every controller is scored on the same fixed tracks, so two controllers can be compared track by
track: the difference of their returns on each track removes what makes a track easy or hard,
and the standard error of the mean difference is then usually much smaller than either score's.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Score:
    """A mean over episodes with the standard error of that mean."""

    mean: float
    """The mean return."""
    standard_error: float
    """The sample standard deviation divided by √episodes: about two of them either side of
    the mean hold the true mean with 95% confidence (for 30 or more episodes)."""
    episodes: int
    """How many episodes were averaged."""

    def __str__(self) -> str:
        return f"{self.mean:.0f} ± {self.standard_error:.0f} (s.e., {self.episodes} episodes)"


def score(returns) -> Score:
    """The mean of `returns` and its standard error."""
    returns = np.asarray(returns, dtype=float)
    if returns.ndim != 1 or len(returns) < 2:
        raise ValueError(f"A score needs two or more returns in a flat list, not {returns.shape}.")
    spread = returns.std(ddof=1) / np.sqrt(len(returns))
    return Score(float(returns.mean()), float(spread), len(returns))


def paired_difference(first, second) -> Score:
    """The mean of `first[i] − second[i]` over tracks i, both scored on the same tracks in the
    same order, and its standard error."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if first.shape != second.shape:
        raise ValueError(
            f"Paired returns must come from the same tracks: got {first.shape} and {second.shape}."
        )
    return score(first - second)


def verdict(first: str, second: str, difference: Score) -> str:
    """What a paired difference `first − second` allows one to say: nothing, unless it lies two
    standard errors or more from zero (so nothing for two that scored alike on every track)."""
    if difference.mean == 0 or abs(difference.mean) < 2 * difference.standard_error:
        return "within two standard errors of zero: this run cannot tell them apart"
    return f"{first if difference.mean > 0 else second} is better"
