"""Training machinery V and M share: resumable `fit` with checkpoints and progress.

A checkpoint is the whole Keras model in its own `.keras` format, optimiser state included,
written to a partial file and renamed after every epoch and every few minutes within one, so that
a run killed at any moment loses at most those minutes. The number of steps done is read from
the optimiser's step counter inside the checkpoint itself, so the checkpoint and the place to
resume from can never disagree. The training data is asked for from the first unfinished epoch
on, past the steps already done, and every model draws its noise from seeded generators saved
with it, so a resumed run trains exactly as an uninterrupted one.
"""

import gc
import json
import re
import signal
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from wmlib.files import READ_ERRORS, DataFileError, write_atomically, write_json
from wmlib.runtime import keras, tf

CHECKPOINT_FIX = "Delete it and run the same command again: training then restarts from scratch."
"""What to do about a damaged checkpoint."""

SAVE_EVERY_SECONDS = 180.0
"""How often a checkpoint is also written within an epoch (V's epoch over every round's frames
takes a quarter of an hour on 2 cores): the most training a kill can cost."""


def save_atomically(model: keras.Model, path: Path) -> None:
    """Save a model in Keras' format to `path` through a partial file and a rename."""
    write_atomically(path, model.save)


def save_for_use(model: keras.Model, path: Path) -> None:
    """Save a trained model as the library uses it: computing in float32, whatever `precision`
    it trained in (its weights are float32 under any). bfloat16 speeds training on a CPU with
    bfloat16 instructions, but the agent's XLA-compiled step runs it slower there
    (bench/precision.py; Take Cover's round of 500 episodes took 2.5 times as long); and so the
    agent and the dreams compute as in float32. The model computes in float32 from then on; its
    checkpoint keeps the precision it trains in."""
    if model.precision is not None:
        for layer in model._flatten_layers():
            layer.dtype_policy = "float32"
        model.precision = None
    save_atomically(model, path)


def load_model(path: Path, fix: str | None = None, compile: bool = True) -> keras.Model:
    """Load a model saved by `save_atomically`: the library's one way to read a `.keras` file.

    A missing, truncated or damaged file raises `DataFileError` naming it and `fix` (by default:
    delete its folder and build it again with the stage of the same name), where Keras itself
    would say "File not found" of a file that is there.
    """
    path = Path(path)
    fix = fix or f"Delete {path.parent} and run `python -m wmlib {path.parent.name}` to rebuild it."
    if not path.is_file():
        raise DataFileError(f"{path} is missing. {fix}")
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path} is not a whole Keras model (.keras zip file). {fix}")
    try:
        return keras.models.load_model(path, compile=compile)
    except (*READ_ERRORS, KeyError) as error:
        raise DataFileError(f"{path} is not a readable Keras model ({error}). {fix}") from None


class Checkpoint(keras.callbacks.Callback):
    """Save the model after every epoch, appending the epoch's metrics to a JSON history, and
    every `seconds` within an epoch."""

    def __init__(self, checkpoint: Path, history_path: Path, history: list[dict], seconds: float):
        super().__init__()
        self.checkpoint, self.history_path, self.history = checkpoint, history_path, history
        self.seconds, self.saved = seconds, time.monotonic()

    def save(self):
        save_atomically(self.model, self.checkpoint)
        self.saved = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.saved >= self.seconds:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        write_json(self.history_path, self.history)


class StopOnCtrlC(keras.callbacks.Callback):
    """Ctrl-C during training stops it after the current batch, with a `KeyboardInterrupt`.

    Python raises `KeyboardInterrupt` only between its own bytecodes, and `fit` spends its time
    inside TensorFlow, where the interrupt may wait for ever. So while training runs, Ctrl-C
    only takes a note, and this callback raises the interrupt at the end of the batch.
    """

    def on_train_begin(self, logs=None):
        self.interrupted = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.take_note)

    def take_note(self, signal_number, frame):
        self.interrupted = True

    def on_train_batch_end(self, batch, logs=None):
        if self.interrupted:
            self.on_train_end()  # Keras calls it only when training ends normally
            raise KeyboardInterrupt

    def on_train_end(self, logs=None):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


class Progress(keras.callbacks.Callback):
    """A tqdm bar per epoch with the running metrics, and one summary line per finished epoch."""

    def __init__(self, steps_per_epoch: int, epochs: int):
        super().__init__()
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update()
        if batch % 20 == 0:
            self.bar.set_postfix({name: f"{float(value):.1f}" for name, value in logs.items()})

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()
        metrics = ", ".join(f"{name} {float(value):.2f}" for name, value in logs.items())
        print(f"epoch {epoch + 1}/{self.epochs}: {metrics}")


def fit_resumable(
    build_model: Callable[[], keras.Model],
    train_data: Callable[[int], tf.data.Dataset],
    steps_per_epoch: int,
    epochs: int,
    directory: Path,
    validation_data=None,
    validation_steps: int | None = None,
    save_every: float = SAVE_EVERY_SECONDS,
) -> tuple[keras.Model, list[dict]]:
    """Train a model for `epochs` epochs, resuming from the checkpoint in `directory` if any.

    `build_model` makes a new compiled model when there is no checkpoint yet; `train_data(epoch)`
    gives the training batches from that epoch to the last, `steps_per_epoch` per epoch, each
    epoch's batches depending on the epoch alone. The checkpoint is also saved every `save_every`
    seconds within an epoch; an epoch resumed from there reports the metrics of its remaining
    steps. Returns the trained model and the metrics of every epoch, those of interrupted earlier
    runs included.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint, history_path = directory / "checkpoint.keras", directory / "history.json"
    model = load_model(checkpoint, CHECKPOINT_FIX) if checkpoint.exists() else build_model()
    done, within = divmod(int(model.optimizer.iterations.numpy()), steps_per_epoch)
    history = json.loads(history_path.read_text())[:done] if history_path.exists() else []
    saving = Checkpoint(checkpoint, history_path, history, save_every)
    fits = []
    if within and done < epochs:  # a killed epoch: its remaining steps first
        fits.append((train_data(done).skip(within), steps_per_epoch - within, done + 1, done))
        done += 1
    if done < epochs:
        fits.append((train_data(done), steps_per_epoch, epochs, done))
    for data, steps, last_epoch, first_epoch in fits:
        failure = _fit(
            model,
            data,
            steps_per_epoch=steps,
            epochs=last_epoch,
            initial_epoch=first_epoch,
            validation_data=validation_data,
            validation_steps=validation_steps,
            shuffle=False,  # the data pipeline shuffles
            callbacks=[saving, Progress(steps, epochs), StopOnCtrlC()],
            verbose=0,
        )
        if failure is not None:
            del model, fits, data  # and with them the iterators Keras keeps over the data
            gc.collect()  # destroys the iterators while their threads can still finish (`_fit`)
            raise failure
    return model, history


def _fit(model: keras.Model, *args, **kwargs) -> BaseException | None:
    """`model.fit(*args, **kwargs)`; returns None once training is done, or the error to raise
    when something failed inside tf.data: the `DataFileError` a data file raised there (a file
    damaged past its headers), or else TensorFlow's own error anew; or a Ctrl-C.

    A Python error inside tf.data's threads reaches us wrapped in TensorFlow's error, whose
    message holds the original's text: we rebuild the `DataFileError` from there. Neither may be
    raised from inside this `except` block, whose traceback holds Keras's iterator over the data.
    That iterator's threads may be in the middle of calling the Python generator that reads the
    episodes: if it lived until the interpreter shuts down, they could never take the GIL again
    and its destructor would wait for them forever (the run would hang after its error). So the
    traceback is dropped here, and the caller collects the garbage while Python still runs.
    """
    try:
        model.fit(*args, **kwargs)
    except tf.errors.OpError as error:
        found = re.search(rf"{DataFileError.__name__}: (.+)", error.message)
        if found is not None:
            return DataFileError(found.group(1))
        return type(error)(error.node_def, error.op, error.message)
    except KeyboardInterrupt:
        return KeyboardInterrupt()
    return None


class SavesSeedState:
    """Save a layer's `seed_generator` state with its weights (mix in before the Keras class).

    Keras saves a layer's variables but not where its `SeedGenerator` had got to, so a model
    loaded from a checkpoint would draw its noise from the start again and a resumed training
    would differ from an uninterrupted one.
    """

    SEED_STATE = "seed_generator_state"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[self.SEED_STATE] = keras.ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store):
        self.seed_generator.state.assign(store[self.SEED_STATE])
        names = store.keys()  # a Keras store has keys() but cannot be iterated
        weights = {name: store[name] for name in names if name != self.SEED_STATE}
        super().load_own_variables(weights)


class LossTermsModel(keras.Model):
    """A Keras model trained by `fit` on loss terms it computes itself (V and M both are).

    A subclass names its terms and implements `loss_terms(batch, training)`, returning them in
    that order; the first is the one minimised. `train_step` differentiates it under a
    `GradientTape` and applies the optimiser; every term is tracked as a running mean, so `fit`
    and `evaluate` report each one separately.
    """

    def __init__(self, term_names: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in term_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def loss_terms(self, batch, training: bool):
        """The loss terms on a batch, the one to minimise first."""
        raise NotImplementedError

    def track(self, losses) -> dict:
        """Add a batch's loss terms to the running means Keras reports."""
        for tracker, value in zip(self.trackers.values(), losses, strict=True):
            tracker.update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            losses = self.loss_terms(batch, training=True)
        gradients = tape.gradient(losses[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        return self.track(losses)

    def test_step(self, batch):
        return self.track(self.loss_terms(batch, training=False))
