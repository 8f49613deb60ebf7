"""Figures the chapters share, so that a chapter's cells show ideas rather than plotting code."""

import matplotlib.pyplot as plt
import numpy as np


def show_frames(frames, titles, columns: int | None = None, size: float = 2.2):
    """Draw images side by side, wrapping after `columns`, each with a title; return the figure."""
    columns = columns or len(frames)
    rows = -(-len(frames) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.3))
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, frame, title in zip(np.ravel(axes), frames, titles, strict=False):
        axis.imshow(frame, interpolation="nearest")
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def plot_drives(episodes_by_policy: dict, size: float = 3.2):
    """For each policy, its episodes' paths over their tracks (one panel per policy), from the
    `track` and `positions` a racing task records in each episode's extras."""
    figure, axes = plt.subplots(
        1, len(episodes_by_policy), figsize=(size * len(episodes_by_policy), size)
    )
    for axis, (policy, episodes) in zip(np.ravel(axes), episodes_by_policy.items(), strict=True):
        for index, episode in enumerate(episodes):
            colour = f"C{index % 10}"
            track, positions = episode.extras["track"], episode.extras["positions"]
            axis.plot(*np.vstack([track, track[:1]]).T, color=colour, linewidth=0.6, alpha=0.35)
            axis.plot(*positions.T, color=colour, linewidth=1.6)
            axis.plot(*positions[0], "o", color=colour, markersize=3)
        axis.set_title(policy, fontsize=10)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Where each policy drives (thin: the track; thick: the car; dot: start)")
    figure.tight_layout()
    return figure


def plot_policy_statistics(episodes_by_policy: dict, track_fraction):
    """Histograms of return, episode length and share of the track visited (`track_fraction` of
    an episode), per policy."""
    measures = {
        "return": lambda episode: episode.total_reward,
        "steps": lambda episode: episode.steps,
        "share of track tiles visited": track_fraction,
    }
    figure, axes = plt.subplots(1, len(measures), figsize=(4 * len(measures), 3))
    for axis, (label, measure) in zip(axes, measures.items(), strict=True):
        values = {
            policy: [measure(episode) for episode in episodes]
            for policy, episodes in episodes_by_policy.items()
        }
        low = min(min(v) for v in values.values())
        high = max(max(v) for v in values.values())
        bins = np.linspace(low, high if high > low else low + 1, 16)
        for policy, policy_values in values.items():
            axis.hist(policy_values, bins=bins, alpha=0.55, label=policy)
        axis.set_xlabel(label)
    axes[0].set_ylabel("episodes")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_actions(episodes_by_policy: dict, steps: int = 300):
    """Steer, gas and brake over the first `steps` steps of one episode per policy."""
    names = ("steer", "gas", "brake")
    figure, axes = plt.subplots(len(names), 1, figsize=(9, 5), sharex=True)
    for policy, episodes in episodes_by_policy.items():
        actions = episodes[0].actions[:steps]
        for axis, column in zip(axes, actions.T, strict=True):
            axis.plot(column, linewidth=1, label=policy)
    for axis, name in zip(axes, names, strict=True):
        axis.set_ylabel(name)
    axes[0].legend(fontsize=8, ncol=len(episodes_by_policy), loc="upper right")
    axes[-1].set_xlabel("step")
    figure.tight_layout()
    return figure


def plot_history(history: list[dict], terms: list[str]):
    """Training and validation curves of each loss term over epochs, one panel per term."""
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3))
    for axis, term in zip(np.ravel(axes), terms, strict=True):
        axis.plot(epochs, [row[term] for row in history], "o-", label="training")
        if f"val_{term}" in history[0]:
            axis.plot(epochs, [row[f"val_{term}"] for row in history], "s--", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(term)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def show_grid(frames: np.ndarray, row_labels, column_labels, size: float = 1.2):
    """A grid of frames (rows, columns, H, W, 3) with a label per row and per column."""
    rows, columns = frames.shape[:2]
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.4))
    axes = np.asarray(axes).reshape(rows, columns)
    for row in range(rows):
        for column in range(columns):
            axis = axes[row, column]
            axis.imshow(frames[row, column], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(row_labels[row], fontsize=8)
            if row == 0:
                axis.set_title(column_labels[column], fontsize=8)
    figure.tight_layout()
    return figure


def draw_generation(axis, function, record: dict, bounds, title: str = ""):
    """A 2-D function's contours, one generation's population, its mean and its 2σ ellipse."""
    grid = np.linspace(bounds[0], bounds[1], 200)
    x, y = np.meshgrid(grid, grid)
    values = function(np.stack([x, y], axis=-1))
    axis.contour(x, y, np.log10(values + 1e-12), levels=15, cmap="Greys", linewidths=0.6)
    population = record["population"]
    axis.scatter(population[:, 0], population[:, 1], s=12, color="C0", zorder=3)
    axis.plot(*record["mean"], "x", color="C3", markersize=9, markeredgewidth=2, zorder=4)
    eigenvalues, basis = np.linalg.eigh(record["sigma"] ** 2 * record["covariance"])
    angle = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    ellipse = record["mean"][:, None] + 2 * basis @ (
        np.sqrt(np.maximum(eigenvalues, 0))[:, None] * circle
    )
    axis.plot(*ellipse, color="C3", linewidth=1.2)
    axis.set_xlim(bounds)
    axis.set_ylim(bounds)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title, fontsize=9)


def plot_generations(function, records: list[dict], shown, bounds, size: float = 2.4):
    """Static panels of chosen generations (the web book's stand-in for the slider)."""
    figure, axes = plt.subplots(1, len(shown), figsize=(size * len(shown), size + 0.3))
    for axis, generation in zip(np.ravel(axes), shown, strict=True):
        draw_generation(axis, function, records[generation], bounds, f"generation {generation}")
    figure.tight_layout()
    return figure


def plot_search(histories: dict[str, list[dict]]):
    """CMA-ES on CarRacing, one line colour per search: the population's best, mean and worst
    return per generation (band), the scores of the mean on the fixed tracks (dots), σ, and the
    wall time of each generation."""
    figure, (fitness, sigma, seconds) = plt.subplots(
        1, 3, figsize=(13, 3.4), gridspec_kw={"width_ratios": [2, 1, 1]}
    )
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"
        generation = [record["generation"] for record in history]
        worst, best = [r["worst"] for r in history], [r["best"] for r in history]
        fitness.fill_between(generation, worst, best, color=colour, alpha=0.2)
        fitness.plot(generation, [r["mean"] for r in history], color=colour, label=f"{name}: mean")
        fitness.plot(generation, best, color=colour, linewidth=0.8, linestyle="--")
        scored = [r for r in history if "mean_score" in r]
        fitness.plot(
            [r["generation"] for r in scored],
            [r["mean_score"] for r in scored],
            "o",
            color=colour,
            label=f"{name}: CMA-ES mean on fixed tracks",
        )
        sigma.plot(generation, [r["sigma"] for r in history], color=colour, label=name)
        seconds.plot(generation, [r["seconds"] for r in history], color=colour, label=name)
    fitness.set(xlabel="generation", ylabel="return", title="population: worst–best band, mean")
    fitness.legend(fontsize=7)
    sigma.set(xlabel="generation", title="step size σ")
    seconds.set(xlabel="generation", ylabel="seconds", title="wall time per generation")
    seconds.set_ylim(bottom=0)
    figure.tight_layout()
    return figure


def plot_returns(returns_by_agent: dict[str, np.ndarray], bins: int = 20):
    """Histogram of evaluation returns, one colour per agent, with each agent's mean marked."""
    figure, axis = plt.subplots(figsize=(8, 3.2))
    edges = np.histogram_bin_edges(np.concatenate(list(returns_by_agent.values())), bins)
    for index, (name, returns) in enumerate(returns_by_agent.items()):
        label = f"{name}: {returns.mean():.0f} ± {returns.std():.0f}"
        axis.hist(returns, edges, color=f"C{index}", alpha=0.55, label=label)
        axis.axvline(returns.mean(), color=f"C{index}", linewidth=2)
    axis.set(xlabel="return per episode", ylabel="episodes")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
