"""Evolution strategies written to be read: (1,λ)-ES and (μ/μ,λ)-ES with the 1/5th success rule
(chapter 6), and CMA-ES (chapter 7).

All of them share pycma's ask / tell interface: `ask()` returns a population of candidate
solutions, one per row; `tell(solutions, values)` takes their function values (lower is better)
and updates the search distribution. The CMA-ES follows Hansen's tutorial ("The CMA Evolution
Strategy: A Tutorial", 2016) line by line, with its default strategy parameters, so that the
chapter can tie every equation to the line that computes it. The agent's controller is trained
with pycma, which is faster and has many refinements; these are for teaching and for checking.
"""

import collections
import math
from dataclasses import dataclass

import numpy as np


def sphere(x):
    """f(x) = Σ x_i²; minimum 0 at the origin."""
    return np.sum(np.square(x), axis=-1)


def rotation(dimension: int, seed: int = 0) -> np.ndarray:
    """A fixed random rotation (orthogonal matrix) of the given dimension."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dimension, dimension)))
    return q * np.sign(np.diag(r))


def rotated_ellipsoid(x, condition: float = 1e6):
    """f(x) = Σ condition^((i−1)/(n−1)) y_i² with y = R x: badly scaled and, rotated, not
    separable. Minimum 0 at the origin."""
    x = np.asarray(x, dtype=float)
    dimension = x.shape[-1]
    scales = condition ** (np.arange(dimension) / max(dimension - 1, 1))
    return np.sum(scales * np.square(x @ rotation(dimension).T), axis=-1)


def rosenbrock(x):
    """f(x) = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²: a curved valley. Minimum 0 at (1, …, 1)."""
    x = np.asarray(x, dtype=float)
    head, tail = x[..., :-1], x[..., 1:]
    return np.sum(100.0 * np.square(tail - np.square(head)) + np.square(1.0 - head), axis=-1)


def rastrigin(x):
    """f(x) = 10 n + Σ (x_i² − 10 cos 2π x_i): a bowl covered in local minima. Minimum 0 at 0."""
    x = np.asarray(x, dtype=float)
    return 10.0 * x.shape[-1] + np.sum(np.square(x) - 10.0 * np.cos(2 * np.pi * x), axis=-1)


BENCHMARKS = {
    "sphere": (sphere, 0.0),
    "rotated ellipsoid": (rotated_ellipsoid, 0.0),
    "rosenbrock": (rosenbrock, 1.0),
    "rastrigin": (rastrigin, 0.0),
}
"""Each benchmark with the value of every coordinate of its minimiser (the minimum is 0)."""


class AskTellError(ValueError):
    """`tell` called without `ask`, or with values that do not match the population asked for."""


class AskTell:
    """The ask / tell bookkeeping every strategy here shares, with clear errors."""

    def ask(self) -> np.ndarray:
        """A new population, one candidate per row."""
        self.asked = self.sample()
        return self.asked.copy()

    def tell(self, solutions, values) -> None:
        """Update the search from the function values of the population `ask` returned, in the
        order `ask` returned it."""
        values = np.asarray(values, dtype=float).reshape(-1)
        if getattr(self, "asked", None) is None:
            raise AskTellError("tell() was called before ask(): ask for a population first.")
        if len(values) != len(self.asked):
            raise AskTellError(
                f"tell() got {len(values)} function values for a population of "
                f"{len(self.asked)}: pass one value per solution returned by ask()."
            )
        self.update(np.asarray(solutions, dtype=float), values)
        self.asked = None
        self.generation += 1
        self.evaluations += len(values)


@dataclass(frozen=True)
class SuccessRule:
    """Rechenberg's 1/5th success rule in the form Schwefel (1977) gave it: after every n
    mutations, count the successes among the last 10 n; if more than a fifth of them beat their
    parent, divide σ by 0.85, if fewer, multiply σ by 0.85."""

    target: float = 0.2
    """The success rate the rule steers σ towards: one mutation in five better than its parent."""
    factor: float = 0.85
    """σ is multiplied by it after too few successes and divided by it after too many."""
    check_every: int = 1
    """Mutations between two checks of the success rate, in multiples of the dimension n."""
    window: int = 10
    """Mutations the success rate is measured over (the most recent ones), in multiples of n."""


class SimpleES(AskTell):
    """(1,λ)-ES, or (μ/μ,λ)-ES with `parents > 1`: sample around the mean, keep the best.

    λ children are drawn as m + σ·N(0, I); the new mean is the best child (or the mean of the
    `parents` best). With a `success_rule`, σ follows the 1/5th success rule, which compares
    every child with its parent. A (1,λ)-ES knows its parent's value, the best child of the
    generation before; a (μ/μ,λ)-ES's parent is the mean m, which nobody has evaluated, so the
    population it asks for then ends with m itself (one more evaluation per generation).
    """

    def __init__(self, mean, sigma, population_size=10, parents=1, success_rule=None, seed=None):
        self.mean, self.sigma = np.asarray(mean, dtype=float), float(sigma)
        self.population_size, self.parents = population_size, parents
        self.success_rule, self.parent_value = success_rule, None
        window = success_rule.window * len(self.mean) if success_rule else 0
        self.successes = collections.deque(maxlen=window)  # the last 10 n mutations' outcomes
        self.unchecked = 0  # mutations since the rule last checked
        self.rng = np.random.default_rng(seed)
        self.generation = self.evaluations = 0

    def sample(self) -> np.ndarray:
        """λ children m + σ ξ_k, ξ_k ~ N(0, I), and the parent m if the rule needs its value."""
        noise = self.rng.standard_normal((self.population_size, len(self.mean)))
        children = self.mean + self.sigma * noise
        if self.success_rule and self.parent_value is None:
            return np.vstack([children, self.mean])  # evaluate the parent too
        return children

    def update(self, solutions, values) -> None:
        """σ by the success rule (if any), then the mean: the best child, or the μ best's mean."""
        if len(values) > self.population_size:  # the last row is the parent
            self.parent_value = values[-1]
            solutions, values = solutions[:-1], values[:-1]
        if self.success_rule:
            self.adapt_step_size(values < self.parent_value)
        best = np.argsort(values)[: self.parents]
        self.mean = solutions[best].mean(axis=0)
        self.parent_value = values[best[0]] if self.parents == 1 else None

    def adapt_step_size(self, successes) -> None:
        """The 1/5th success rule: record whether each child beat its parent, then, once per n
        mutations, scale σ by the rule's factor if the recent success rate is below 1/5 and by
        its inverse if above."""
        rule, n = self.success_rule, len(self.mean)
        self.successes.extend(successes)
        checks, self.unchecked = divmod(self.unchecked + len(successes), rule.check_every * n)
        rate = np.mean(self.successes)
        self.sigma *= rule.factor ** (checks * np.sign(rule.target - rate))


@dataclass(frozen=True)
class CMAParameters:
    """CMA-ES's strategy parameters; `defaults(n)` gives the tutorial's values for dimension n."""

    population_size: int
    """λ, candidates per generation: 4 + ⌊3 ln n⌋ by default."""
    weights: np.ndarray
    """Recombination weights of the μ = ⌊λ/2⌋ best, decreasing, summing to 1."""
    mu_effective: float
    """μ_eff = 1 / Σ w_i², the variance effective selection mass."""
    c_sigma: float
    """Learning rate of the step-size evolution path p_σ."""
    d_sigma: float
    """Damping of the step-size update."""
    c_c: float
    """Learning rate of the covariance evolution path p_c."""
    c_1: float
    """Learning rate of the rank-one update of C."""
    c_mu: float
    """Learning rate of the rank-μ update of C."""
    chi_n: float
    """E‖N(0, I)‖, the expected length of a standard normal vector in n dimensions."""

    @classmethod
    def defaults(cls, n: int, population_size: int | None = None) -> "CMAParameters":
        """The tutorial's default parameters for dimension n (Hansen 2016, table 1)."""
        population_size = population_size or 4 + int(3 * math.log(n))
        mu = population_size // 2
        raw = math.log((population_size + 1) / 2) - np.log(np.arange(1, mu + 1))
        weights = raw / raw.sum()
        mu_eff = 1.0 / np.sum(weights**2)
        c_sigma = (mu_eff + 2) / (n + mu_eff + 5)
        c_1 = 2 / ((n + 1.3) ** 2 + mu_eff)
        return cls(
            population_size=population_size,
            weights=weights,
            mu_effective=mu_eff,
            c_sigma=c_sigma,
            d_sigma=1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + c_sigma,
            c_c=(4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n),
            c_1=c_1,
            c_mu=min(1 - c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + mu_eff)),
            chi_n=math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2)),
        )


class CMAES(AskTell):
    """CMA-ES from Hansen's tutorial: x ~ m + σ N(0, C), with C, σ and m learned from ranks."""

    def __init__(self, mean, sigma, population_size=None, seed=None):
        self.mean, self.sigma = np.asarray(mean, dtype=float), float(sigma)
        n = len(self.mean)
        self.parameters = CMAParameters.defaults(n, population_size)
        self.covariance = np.eye(n)
        self.path_sigma, self.path_c = np.zeros(n), np.zeros(n)
        self.basis, self.scales = np.eye(n), np.ones(n)
        self.rng = np.random.default_rng(seed)
        self.generation = self.evaluations = 0

    def sample(self) -> np.ndarray:
        """x_k = m + σ B D ξ_k with ξ_k ~ N(0, I), where C = B D² Bᵀ."""
        xi = self.rng.standard_normal((self.parameters.population_size, len(self.mean)))
        return self.mean + self.sigma * (xi * self.scales) @ self.basis.T

    def update(self, solutions, values) -> None:
        """One generation: the mean, then σ's path and σ, then C's path and C."""
        p = self.parameters
        ranked = solutions[np.argsort(values)]  # x_1:λ, …, x_λ:λ, best first
        steps = (ranked[: len(p.weights)] - self.mean) / self.sigma  # y_i = (x_i:λ − m) / σ
        step = p.weights @ steps  # y_w, the weighted mean step
        self.mean = self.mean + self.sigma * step
        whitened = self.basis @ ((self.basis.T @ step) / self.scales)  # C^(−1/2) y_w
        self.path_sigma = (1 - p.c_sigma) * self.path_sigma + math.sqrt(
            p.c_sigma * (2 - p.c_sigma) * p.mu_effective
        ) * whitened
        self.sigma *= math.exp(
            (p.c_sigma / p.d_sigma) * (np.linalg.norm(self.path_sigma) / p.chi_n - 1)
        )
        self.update_covariance(steps, step)

    def update_covariance(self, steps, step) -> None:
        """The evolution path p_c, then C ← rank-one and rank-μ updates; then C's eigenbasis."""
        p = self.parameters
        decay = 1 - (1 - p.c_sigma) ** (2 * (self.generation + 1))
        stalled = (
            np.linalg.norm(self.path_sigma) / math.sqrt(decay)
            >= (1.4 + 2 / (len(self.mean) + 1)) * p.chi_n
        )
        h_sigma = 0.0 if stalled else 1.0
        self.path_c = (1 - p.c_c) * self.path_c + h_sigma * math.sqrt(
            p.c_c * (2 - p.c_c) * p.mu_effective
        ) * step
        rank_one = np.outer(self.path_c, self.path_c)
        rank_mu = (steps * p.weights[:, None]).T @ steps
        correction = (1 - h_sigma) * p.c_c * (2 - p.c_c)
        self.covariance = (
            (1 - p.c_1 - p.c_mu + p.c_1 * correction) * self.covariance
            + p.c_1 * rank_one
            + p.c_mu * rank_mu
        )
        self.covariance = (self.covariance + self.covariance.T) / 2
        eigenvalues, self.basis = np.linalg.eigh(self.covariance)
        self.scales = np.sqrt(np.maximum(eigenvalues, 1e-20))


def minimise(strategy, function, target=1e-8, max_evaluations=100_000):
    """Run a strategy's ask / tell loop until f < target; return (evaluations used, best f).

    Works with the strategies here and with `cma.CMAEvolutionStrategy`.
    """
    best, evaluations = np.inf, 0
    while evaluations < max_evaluations:
        solutions = strategy.ask()
        values = function(np.asarray(solutions))
        strategy.tell(solutions, list(values))
        evaluations += len(values)
        best = min(best, float(np.min(values)))
        if best < target:
            break
    return evaluations, best


def record_run(strategy, function, generations: int) -> list[dict]:
    """Run `generations` generations and keep, for each, what the chapters draw.

    Each record holds the population, its values, and the mean, σ and covariance the population
    was drawn with (the covariance is the identity for strategies that have none).
    """
    records = []
    for _ in range(generations):
        mean, sigma = strategy.mean.copy(), strategy.sigma
        covariance = getattr(strategy, "covariance", np.eye(len(mean))).copy()
        population = strategy.ask()
        values = function(population)
        strategy.tell(population, values)
        records.append(
            {
                "population": population,
                "values": values,
                "mean": mean,
                "sigma": sigma,
                "covariance": covariance,
            }
        )
    return records
