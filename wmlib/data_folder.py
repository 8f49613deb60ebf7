"""Where the artefacts live: the data root, which `WM_DATA` may move (chapter 10: methods).

Every profile's artefacts go under `<data root>/<profile>/<task>/` (`config.Profile.data_dir`).
"""

import os
from pathlib import Path

from wmlib.errors import WorldModelsError

DATA_VARIABLE = "WM_DATA"
"""The environment variable naming the data root."""


def data_root() -> Path:
    """The folder holding every profile's artefacts.

    `WM_DATA` wins; otherwise `data/` beside the library in a source checkout, and `data/` in the
    working directory when the library is installed as a package (as in Colab).
    """
    if os.environ.get(DATA_VARIABLE):
        return Path(os.environ[DATA_VARIABLE]).expanduser().resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path.cwd() / "data"


def task_folder(profile: str, task: str) -> Path:
    """The folder of one profile's artefacts for one task: `<data root>/<profile>/<task>`."""
    return data_root() / profile / task


class DataRootError(WorldModelsError, OSError):
    """The data root is a file, or a folder that cannot be created or written to."""


def writable_data_root() -> Path:
    """The data root, created if missing, once checked to be a folder this process can write to.

    A stage calls this before it first writes there, so a `WM_DATA` naming a file or a read-only
    place stops it with the fix; `data_root` itself stays a plain lookup, as every path the
    pipeline names goes through it.
    """
    root = data_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(root, os.W_OK | os.X_OK) else "it is not writable"
    except FileExistsError:
        problem = "it is a file, not a folder"
    except OSError as error:
        problem = f"it cannot be created: {error.strerror}"
    if problem is not None:
        raise DataRootError(
            f"The data folder {root} cannot hold the artefacts ({problem}). Set "
            f"{DATA_VARIABLE} to a folder you can write to (it is created if missing), or "
            f"unset it to use the default."
        )
    return root
