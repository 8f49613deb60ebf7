"""Search shapes compared at one budget (chapter 8): how best to spend a search's driving.

A generation's driving is candidates × episodes per candidate × steps per episode. The profile's
own shape searches for `comparison_generations`; each other shape doubles one of the three and
runs half the generations, so that every search drives as much, and the profile's shape is the one
with the most generations. Each kept mean is scored on the 100 evaluation tracks, paired with the
others. The budget is fixed apart from the profile's own search for C, which may run longer: the
profile's shape is that search's first generations, which do not depend on how many follow.
"""

from dataclasses import replace
from pathlib import Path

from wmlib import config
from wmlib.artefacts import build
from wmlib.pipeline.controller import (
    controller_dimension,
    controller_dir,
    controller_settings,
    ensure_controller,
    real_search,
    score_on_tracks,
    scored_returns,
)
from wmlib.pipeline.model import mdnrnn_dir, vae_dir
from wmlib.search import first_generations, load_search, save_search

SHAPES = {
    "more generations": {},
    "more candidates": {"population_size": 2},
    "more episodes per candidate": {"episodes_per_candidate": 2},
    "full-length episodes": {"training_steps": 2},
}
"""Each shape's factors on the profile's search (the first is the profile's own shape)."""


def shapes_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's comparison of search shapes, one subfolder per shape."""
    return (profile or config.active()).data_dir / "search_shapes"


def shape_control(
    control: config.ControlConfig, factors: dict, generations: int
) -> config.ControlConfig:
    """The search of one shape: the factors applied (episodes no longer than the evaluation's),
    and the generations that keep its driving equal to `generations` of `control`'s."""
    grown = {name: getattr(control, name) * factor for name, factor in factors.items()}
    if "training_steps" in grown:
        grown["training_steps"] = min(grown["training_steps"], control.evaluation_steps)
    shaped = replace(control, **grown)

    def driving(search: config.ControlConfig) -> int:
        return search.population_size * search.episodes_per_candidate * search.training_steps

    shaped_generations = max(1, round(generations * driving(control) / driving(shaped)))
    return replace(shaped, generations=shaped_generations)


def ensure_search_shapes(profile: config.Profile | None = None, workers: int = 0) -> dict:
    """Every shape's search history, kept generation and returns on the evaluation tracks, by
    shape (`SHAPES`), running the searches that are missing; each resumes where it stopped."""
    profile = profile or config.active()
    directory = shapes_dir(profile)

    def shaped(name: str) -> config.Profile:
        control = shape_control(profile.control, SHAPES[name], profile.comparison_generations)
        return replace(profile, control=control)

    def searched(name: str, folder: Path) -> dict:
        """One shape's search, run (or resumed); the profile's own shape is cut from C's."""
        shape = shaped(name)
        if SHAPES[name]:
            return real_search(shape, True, workers, folder)
        own = controller_dir(profile, origin="real")
        dimension = controller_dimension(profile, True)
        state = first_generations(own, dimension, shape.control, shape.control.generations)
        save_search(folder, state)
        return state

    def make() -> dict:
        for name in SHAPES:
            folder = _folder(directory, name)
            folder.mkdir(parents=True, exist_ok=True)
            state = searched(name, folder)
            score_on_tracks(shaped(name), True, workers, state["best"]["parameters"], folder)
        means = [float(result["returns"].mean()) for result in results().values()]
        return {"shapes": len(SHAPES), "means": [round(mean, 1) for mean in means]}

    def results() -> dict:
        found = {}
        for name in SHAPES:
            shape, folder = shaped(name), _folder(directory, name)
            search = load_search(folder, controller_dimension(shape, True), shape.control)
            found[name] = {
                "history": search["history"],
                "returns": scored_returns(folder, shape.control),
                "generation": int(search["best"]["generation"]),
            }
        return found

    settings = {**controller_settings(shaped(next(iter(SHAPES))), True), "shapes": SHAPES}
    ensure_controller(profile, workers=workers, origin="real")  # its time is not the shapes'
    inputs = {
        "vae": vae_dir(profile),
        "mdnrnn": mdnrnn_dir(profile),
        "controller": controller_dir(profile, origin="real"),
    }
    build(directory, profile.name, settings, make, inputs=inputs)
    return results()


def _folder(directory: Path, name: str) -> Path:
    """The subfolder of one shape's search and evaluation."""
    return directory / name.replace(" ", "_")
