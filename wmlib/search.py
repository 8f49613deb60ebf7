"""CMA-ES's search for C: fixed seeds, a seeded sampler, and a search that resumes exactly
(chapter 8: control).

pycma proposes a population of controllers, a fitness function (rollouts in the real world, or
dreams inside M) scores them, and their penalised scores steer the next proposal. After every
generation the search saves what it was told, as JSON: pycma with the same seed, told the same
fitness again, proposes the same candidates, so a run killed at any point resumes by replaying
its record and goes on exactly as an uninterrupted run would have. Nothing is pickled, so a
planted file cannot run code.
"""

import json
import time
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

import cma
import numpy as np
from tqdm.auto import tqdm

from wmlib.config import ControlConfig
from wmlib.files import DataFileError, read_npz, write_json, write_npz


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
    """pycma's sampler drawn from our own seeded generator.

    pycma samples with `np.random.randn` by default, the process-wide generator, which anything
    else in the process may draw from; with its own generator the search's proposals depend on
    its seed and its record alone.
    """

    def __init__(self, seed: int):
        self.generator = np.random.default_rng(seed)

    def __call__(self, *shape: int) -> np.ndarray:
        return self.generator.standard_normal(shape)


def new_search(dimension: int, settings: ControlConfig, start: np.ndarray | None = None) -> dict:
    """A fresh CMA-ES search from `start` (all-zero parameters by default), and its (empty)
    record."""
    strategy = cma.CMAEvolutionStrategy(
        np.zeros(dimension) if start is None else np.asarray(start, dtype=float),
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
    return {"strategy": strategy, "generation": 0, "history": [], "told": [], "best": None}


SEARCH_FILE = "search.json"
"""The search's record: generation, history, and the fitness pycma was told each generation."""
BEST_FILE = "best.npz"
"""The best-scoring mean so far: parameters, score, generation."""
BEST_SCHEMA = {
    "parameters": (np.floating, 1),
    "score": (np.floating, 0),
    "generation": (np.integer, 0),
}


def save_search(directory: Path, search: dict) -> None:
    """Save the search's record as JSON and the best mean as npz, each atomically."""
    if search["best"] is not None:
        write_npz(directory / BEST_FILE, search["best"])
    record = {name: search[name] for name in ("generation", "history", "told")}
    write_json(directory / SEARCH_FILE, record)
    write_json(directory / "history.json", search["history"])


def load_search(
    directory: Path, dimension: int, settings: ControlConfig, start: np.ndarray | None = None
) -> dict | None:
    """The search saved in `directory`, rebuilt by replaying its record, or None if there is none
    (`start` is where it started, as given to `new_search`).

    A fresh pycma with the same seed asks for each recorded generation's candidates and is told
    the fitness it was told then, which leaves it exactly where the saved search stopped.
    """
    if not (directory / SEARCH_FILE).exists():
        return None
    generation, history, told = _read_record(directory)
    search = new_search(dimension, settings, start)
    _replay(search, told, directory)
    best = _read_best(directory, dimension)
    search.update(generation=generation, history=history, told=told, best=best)
    return search


def first_generations(
    directory: Path,
    dimension: int,
    settings: ControlConfig,
    generations: int,
    start: np.ndarray | None = None,
) -> dict:
    """The search saved in `directory` as a search of only its first `generations` generations,
    on the same `settings` otherwise, would have ended: its record cut there, and the best of the
    means scored by then.

    A generation does not depend on how many follow it, so a shorter search need not run again.
    Its means are scored at the same generations as the longer one's when its last generation is
    one of them, that is when `mean_evaluation_interval` divides `generations`.
    """
    if generations % settings.mean_evaluation_interval:
        raise ValueError(
            f"A search of {generations} generations scores its mean at its last generation, which "
            f"a longer one scoring every {settings.mean_evaluation_interval} does not: choose a "
            f"multiple of control.mean_evaluation_interval."
        )
    _, history, told = _read_record(directory)
    if len(told) < generations:
        raise DataFileError(
            f"{directory / SEARCH_FILE} holds {len(told)} generations, fewer than the "
            f"{generations} asked for. Run its search on (python -m wmlib controller)."
        )
    history, told = history[:generations], told[:generations]
    best = max(
        (record for record in history if "mean_score" in record), key=itemgetter("mean_score")
    )
    search = new_search(dimension, settings, start)
    means = _replay(search, told, directory)
    search.update(
        generation=generations,
        history=history,
        told=told,
        best={
            "parameters": means[best["generation"] - 1],
            "score": np.array(best["mean_score"]),
            "generation": np.array(best["generation"]),
        },
    )
    return search


def _fix(directory: Path) -> str:
    """What to do about a saved search that cannot be read."""
    return f"Delete {directory} to start the search again (python -m wmlib controller)."


def _read_record(directory: Path) -> tuple[int, list, list]:
    """A saved search's generation count, history and the fitness pycma was told."""
    path = directory / SEARCH_FILE
    try:
        record = json.loads(path.read_text())
        return record["generation"], record["history"], record["told"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataFileError(
            f"{path} is not a readable CMA-ES search ({error!r}). {_fix(directory)}"
        ) from None


def _replay(search: dict, told: list, directory: Path) -> list[np.ndarray]:
    """Ask a fresh search (`new_search`) for each recorded generation's candidates and tell it
    the fitness recorded; return its mean after each generation."""
    means = []
    for fitness in told:
        candidates = search["strategy"].ask()
        if len(fitness) != len(candidates):
            raise DataFileError(
                f"{directory / SEARCH_FILE} records a population of {len(fitness)}, not "
                f"{len(candidates)} (control.population_size). {_fix(directory)}"
            )
        search["strategy"].tell(candidates, fitness)
        means.append(np.array(search["strategy"].mean))
    return means


def _read_best(directory: Path, dimension: int) -> dict | None:
    """The best-scoring mean a saved search kept, or None if it has scored none yet."""
    path = directory / BEST_FILE
    if not path.exists():
        return None
    best = read_npz(path, BEST_SCHEMA, _fix(directory))
    if len(best["parameters"]) != dimension:
        raise DataFileError(
            f"{path} holds {len(best['parameters'])} parameters, not {dimension}. {_fix(directory)}"
        )
    return best


def penalised(fitness: np.ndarray, candidates: np.ndarray, weight_decay: float) -> np.ndarray:
    """The paper's fitness: mean return minus weight decay × the mean squared parameter."""
    return fitness - weight_decay * np.mean(candidates**2, axis=1)


def search(
    fitness: Callable[[np.ndarray, int], np.ndarray],
    score_mean: Callable[[np.ndarray], float],
    dimension: int,
    settings: ControlConfig,
    directory: Path,
    start: np.ndarray | None = None,
) -> dict:
    """Run (or resume) CMA-ES from `start` (all zeros by default), saving the search after every
    generation.

    `fitness(candidates, generation)` gives each candidate's mean return; `score_mean(x)` scores
    the search's mean on the fixed evaluation tracks every `mean_evaluation_interval` generations
    and at the end. The best-scoring mean is kept in `search["best"]`. Pycma minimises, so it is
    told the negated penalised fitness. A run killed at any point resumes from its last whole
    generation and proposes exactly what an uninterrupted run would have.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = load_search(directory, dimension, settings, start) or new_search(
        dimension, settings, start
    )
    strategy = state["strategy"]
    with tqdm(
        total=settings.generations, initial=state["generation"], desc="CMA-ES", unit="generation"
    ) as progress:
        while state["generation"] < settings.generations:
            generation, start = state["generation"], time.perf_counter()
            candidates = np.array(strategy.ask())
            returns = fitness(candidates, generation)
            told = [
                float(value) for value in -penalised(returns, candidates, settings.weight_decay)
            ]
            strategy.tell(list(candidates), told)
            state["told"].append(told)
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
