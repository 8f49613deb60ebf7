"""Evolution strategies written to be read: (1,λ)-ES, (μ/μ,λ)-ES and CMA-ES (chapters 6 and 7).

All of them share pycma's ask / tell interface: `ask()` returns a population of candidate
solutions, one per row; `tell(solutions, values)` takes their function values (lower is better)
and updates the search distribution. The CMA-ES follows Hansen's tutorial ("The CMA Evolution
Strategy: A Tutorial", 2016) line by line, with its default strategy parameters, so that the
chapter can tie every equation to the line that computes it. The agent's controller is trained
with pycma, which is faster and has many refinements; these are for teaching and for checking.
"""

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
        """Update the search from the function values of the population `ask` returned."""
        values = np.asarray(values, dtype=float).reshape(-1)
        if getattr(self, "asked", None) is None:
            raise AskTellError("tell() was called before ask(): ask for a population first.")
        if len(values) != len(self.asked):
            raise AskTellError(
                f"tell() got {len(values)} function values for a population of "
                f"{len(self.asked)}: pass one value per solution returned by ask()."
            )
        order = np.argsort(values)
        self.update(np.asarray(solutions, dtype=float)[order], values[order])
        self.asked = None
        self.generation += 1
        self.evaluations += len(values)


class SimpleES(AskTell):
    """(1,λ)-ES, or (μ/μ,λ)-ES with `parents > 1`: sample around the mean, keep the best.

    λ children are drawn as m + σ·N(0, I); the new mean is the best child (or the mean of the
    `parents` best). With `adapt_step_size`, σ grows by e^0.2 after a generation that improved on
    the best value so far and shrinks by e^−0.05 otherwise, which settles at one success in five.
    """

    def __init__(
        self, mean, sigma, population_size=10, parents=1, adapt_step_size=False, seed=None
    ):
        self.mean, self.sigma = np.asarray(mean, dtype=float), float(sigma)
        self.population_size, self.parents = population_size, parents
        self.adapt_step_size, self.best = adapt_step_size, np.inf
        self.rng = np.random.default_rng(seed)
        self.generation = self.evaluations = 0

    def sample(self) -> np.ndarray:
        noise = self.rng.standard_normal((self.population_size, len(self.mean)))
        return self.mean + self.sigma * noise

    def update(self, ranked, values) -> None:
        self.mean = ranked[: self.parents].mean(axis=0)
        if self.adapt_step_size:
            self.sigma *= math.exp(0.2 if values[0] < self.best else -0.05)
        self.best = min(self.best, values[0])


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
        """x_k = m + σ B D z_k with z_k ~ N(0, I), where C = B D² Bᵀ."""
        z = self.rng.standard_normal((self.parameters.population_size, len(self.mean)))
        return self.mean + self.sigma * (z * self.scales) @ self.basis.T

    def update(self, ranked, values) -> None:
        """One generation: the mean, then σ's path and σ, then C's path and C."""
        p = self.parameters
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
