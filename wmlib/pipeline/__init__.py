"""The artefact cache: one `ensure_*` call per stage of the pipeline.

Each call loads its artefact from `data/<profile>/<task>/` when it is there and was built with
the active profile's settings, and otherwise builds it (resuming whatever an interrupted build
left; `wmlib.artefacts` keeps the manifests). Chapters and the command line both come through
here; nothing else trains or collects. `wmlib.stages` lists the stages once. The recorded
episodes are in `pipeline.episodes`, the world model's stages in `pipeline.model`, the
controller's in `pipeline.controller`, iterative training's rounds in `pipeline.rounds`, the
dream's in `pipeline.dream`, the comparison of search shapes in `pipeline.shapes`, Doom's
comparison of dream temperatures in `pipeline.temperatures`.
"""

from wmlib.artefacts import read_manifest
from wmlib.pipeline.controller import (
    controller_dir,
    ensure_controller,
    ensure_evaluation,
    evaluation_dir,
    search_control,
)
from wmlib.pipeline.dream import ensure_reward_head, reward_head_dir
from wmlib.pipeline.episodes import ensure_episodes, episodes_dir
from wmlib.pipeline.model import (
    ensure_latents,
    ensure_mdnrnn,
    ensure_vae,
    latents_dir,
    mdnrnn_dir,
    memory_sequences,
    vae_dir,
)
from wmlib.pipeline.rounds import ROUND_STAGES, ensure_rounds, rounds_dir
from wmlib.pipeline.shapes import SHAPES, ensure_search_shapes, shape_control, shapes_dir
from wmlib.pipeline.temperatures import ensure_temperatures, temperatures_dir

__all__ = [
    "ROUND_STAGES",
    "SHAPES",
    "controller_dir",
    "ensure_controller",
    "ensure_episodes",
    "ensure_evaluation",
    "ensure_latents",
    "ensure_mdnrnn",
    "ensure_reward_head",
    "ensure_rounds",
    "ensure_search_shapes",
    "ensure_temperatures",
    "ensure_vae",
    "episodes_dir",
    "evaluation_dir",
    "latents_dir",
    "mdnrnn_dir",
    "memory_sequences",
    "read_manifest",
    "reward_head_dir",
    "rounds_dir",
    "search_control",
    "shape_control",
    "shapes_dir",
    "temperatures_dir",
    "vae_dir",
]
