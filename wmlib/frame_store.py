"""V's training frames on disk: every episode's frames, raw, in a file of its own (chapter 2).

V passes over every recorded frame `vision.epochs` times. Read straight from the episodes'
compressed `.npz` files, each pass decompressed them again inside a Python generator that
`tf.data` can only call while holding Python's lock, and training on two cores lost 10–15% of
its speed to that (`bench/vision.py`). So the V stage first writes each episode's frames once,
as raw bytes: `tf.data.FixedLengthRecordDataset` reads such a file in C++, one frame per record,
and shuffling, batching and the conversion to floats all run inside TensorFlow, without Python.

A file is written through a partial file and a rename, and its size says how many whole frames it
holds, so a missing or cut file is found and written again before training starts. The store is
a cache for V's training and is deleted once V is trained: it takes 12 kB a frame (2.5 GB at
`small`, 123 GB at `paper`, where the paper's own code held them all in memory).
"""

import functools
import hashlib
import math
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from wmlib.config import VisionConfig
from wmlib.files import (
    FRAME_SHAPE,
    check_episode,
    read_episode_arrays,
    remove_partial_files,
    write_atomically,
)
from wmlib.runtime import tf
from wmlib.vision import to_float

FRAME_BYTES = math.prod(FRAME_SHAPE)
"""Bytes of one stored frame: 64 × 64 × 3 values of one byte each."""


def store_path(directory: Path, episode: Path) -> Path:
    """Where the frames of the episode file `episode` are stored in `directory`: named after the
    file's whole path, since every round of iterative training numbers its episodes from 0, and
    one file per name would keep only one round's frames of each number."""
    episode = Path(episode)
    digest = hashlib.blake2b(str(episode.resolve()).encode(), digest_size=6).hexdigest()
    return Path(directory) / f"{episode.stem}_{digest}.frames"


def write_frame_store(episodes: list[Path], directory: Path) -> list[Path]:
    """The stored frames of each episode, writing every file that is missing or not whole.

    Returns the stored files in the order of `episodes`. An episode is checked from its headers
    first, so a bad one is named here (`DataFileError`), before training starts.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_partial_files(directory)
    stored = []
    for episode in tqdm(episodes, desc="frame store", leave=False):
        path = store_path(directory, episode)
        whole_size = check_episode(episode) * FRAME_BYTES
        if not path.is_file() or path.stat().st_size != whole_size:
            frames = read_episode_arrays(episode, ["observations"])["observations"].tobytes()
            write_atomically(path, functools.partial(Path.write_bytes, data=frames))
        stored.append(path)
    return stored


def remove_frame_store(directory: Path) -> None:
    """Delete the store once V no longer needs it."""
    shutil.rmtree(directory, ignore_errors=True)


def frame_dataset(
    stored: list[Path], config: VisionConfig, shuffle: bool = True, epoch: int = 0
) -> tf.data.Dataset:
    """One pass over the stored frames of episodes, in batches of frames in [0, 1].

    Episodes are visited in a random order, eight at a time, their frames interleaved and
    shuffled through a buffer, so that a batch mixes many episodes while only the buffer is held
    in memory, at any data-set size. The order depends on the seed and the `epoch` only, so a
    resumed training sees exactly the batches an uninterrupted one would have.
    """

    def read(path):
        return tf.data.FixedLengthRecordDataset(path, FRAME_BYTES)

    def to_frames(records):
        return to_float(tf.reshape(tf.io.decode_raw(records, tf.uint8), (-1, *FRAME_SHAPE)))

    seed = config.seed + epoch
    dataset = tf.data.Dataset.from_tensor_slices([str(path) for path in stored])
    if shuffle:
        dataset = dataset.shuffle(len(stored), seed=seed)
    dataset = dataset.interleave(
        read,
        cycle_length=min(8, len(stored)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        dataset = dataset.shuffle(config.shuffle_buffer, seed=seed)
    dataset = dataset.batch(config.batch_size, drop_remainder=shuffle)
    return dataset.map(to_frames, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def training_frames(stored: list[Path], config: VisionConfig, first_epoch: int) -> tf.data.Dataset:
    """The training batches of every epoch from `first_epoch` to `config.epochs`, one pass each."""
    epochs = [
        frame_dataset(stored, config, epoch=epoch) for epoch in range(first_epoch, config.epochs)
    ]
    dataset = epochs[0]
    for following in epochs[1:]:
        dataset = dataset.concatenate(following)
    return dataset
