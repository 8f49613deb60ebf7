"""CMA-ES's search for C: fixed seeds, a seeded sampler, and a search that resumes exactly
(chapter 8: control).

pycma proposes a population of controllers, a fitness function (rollouts in the real world, or
dreams inside M) scores them, and their penalised scores steer the next proposal. The whole
search is saved after every generation; a run killed at any point resumes from its last whole
generation and proposes exactly what an uninterrupted run would have.
"""

import pickle
import time
from collections.abc import Callable
from pathlib import Path

import cma
import numpy as np
from tqdm.auto import tqdm

from wmlib.config import ControlConfig
from wmlib.files import DataFileError, write_atomically, write_json, write_npz


def training_seeds(settings: ControlConfig, generation: int) -> list[int]:
    """The tracks every candidate of a generation drives on (the same for all of them)."""
    first = settings.training_seed + generation * settings.episodes_per_candidate
    return list(range(first, first + settings.episodes_per_candidate))


def evaluation_seeds(settings: ControlConfig) -> list[int]:
    """The fixed tracks of the final evaluation, the same for every run and every controller."""
    first = settings.evaluation_seed
    return list(range(first, first + settings.evaluation_episodes))


def mean_evaluation_seeds(settings: ControlConfig) -> list[int]:
    """The fixed tracks on which CMA-ES's mean is scored during the search (just below the
    final evaluation's, so the controller the search picks is still judged on new tracks)."""
    last = settings.evaluation_seed
    return list(range(last - settings.mean_evaluation_episodes, last))


class NormalSampler:
    """pycma's sampler drawn from our own seeded generator, so that it pickles with the search.

    pycma samples with `np.random.randn` by default, the process-wide generator, which a resumed
    run would have to restore by hand; this keeps the random state inside the pickled search.
    """

    def __init__(self, seed: int):
        self.generator = np.random.default_rng(seed)

    def __call__(self, *shape: int) -> np.ndarray:
        return self.generator.standard_normal(shape)


def new_search(dimension: int, settings: ControlConfig) -> dict:
    """A fresh CMA-ES search from all-zero parameters, and its (empty) record."""
    strategy = cma.CMAEvolutionStrategy(
        np.zeros(dimension),
        settings.initial_step_size,
        {
            "popsize": settings.population_size,
            "seed": settings.seed + 1,
            "randn": NormalSampler(settings.seed),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        },
    )
    return {"strategy": strategy, "generation": 0, "history": [], "best": None}


def save_search(directory: Path, search: dict) -> None:
    """Save the whole search (pickled for resuming; history and best also as JSON and npz)."""
    pickled = pickle.dumps(search)
    write_atomically(directory / "search.pkl", lambda partial: partial.write_bytes(pickled))
    write_json(directory / "history.json", search["history"])
    if search["best"] is not None:
        write_npz(directory / "best.npz", search["best"])


def load_search(directory: Path) -> dict | None:
    """The search saved in `directory`, or None when there is none yet."""
    path = directory / "search.pkl"
    if not path.exists():
        return None
    try:
        return pickle.loads(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError) as error:
        raise DataFileError(
            f"{path} is not a readable CMA-ES search ({error}). Delete {directory} to start the "
            f"search again."
        ) from None


def penalised(fitness: np.ndarray, candidates: np.ndarray, weight_decay: float) -> np.ndarray:
    """The paper's fitness: mean return minus weight decay × the mean squared parameter."""
    return fitness - weight_decay * np.mean(candidates**2, axis=1)


def search(
    fitness: Callable[[np.ndarray, int], np.ndarray],
    score_mean: Callable[[np.ndarray], float],
    dimension: int,
    settings: ControlConfig,
    directory: Path,
) -> dict:
    """Run (or resume) CMA-ES, saving the search after every generation.

    `fitness(candidates, generation)` gives each candidate's mean return; `score_mean(x)` scores
    the search's mean on the fixed evaluation tracks every `mean_evaluation_interval` generations
    and at the end. The best-scoring mean is kept in `search["best"]`. Pycma minimises, so it is
    told the negated penalised fitness. A run killed at any point resumes from its last whole
    generation and proposes exactly what an uninterrupted run would have.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = load_search(directory) or new_search(dimension, settings)
    strategy = state["strategy"]
    with tqdm(
        total=settings.generations, initial=state["generation"], desc="CMA-ES", unit="generation"
    ) as progress:
        while state["generation"] < settings.generations:
            generation, start = state["generation"], time.perf_counter()
            candidates = np.array(strategy.ask())
            returns = fitness(candidates, generation)
            strategy.tell(
                list(candidates), list(-penalised(returns, candidates, settings.weight_decay))
            )
            record = {
                "generation": generation + 1,
                "best": float(returns.max()),
                "mean": float(returns.mean()),
                "worst": float(returns.min()),
                "sigma": float(strategy.sigma),
            }
            if (generation + 1) % settings.mean_evaluation_interval == 0 or (
                generation + 1 == settings.generations
            ):
                mean = np.array(strategy.mean)
                record["mean_score"] = float(score_mean(mean))
                if state["best"] is None or record["mean_score"] > state["best"]["score"]:
                    state["best"] = {
                        "parameters": mean,
                        "score": np.array(record["mean_score"]),
                        "generation": np.array(generation + 1),
                    }
            record["seconds"] = round(time.perf_counter() - start, 2)
            state["history"].append(record)
            state["generation"] = generation + 1
            save_search(directory, state)
            progress.set_postfix(best=f"{record['best']:.0f}", mean=f"{record['mean']:.0f}")
            progress.update()
    return state
