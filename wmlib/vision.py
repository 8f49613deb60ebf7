"""V: the convolutional variational autoencoder that compresses a frame into z (chapter 2).

The architecture and the loss are the paper's: four stride-2 convolutions encode a 64×64×3
frame into the mean μ and log-variance log σ² of a 32-dimensional Gaussian; a sample
z = μ + σ·ε (the reparameterisation trick) is decoded by a dense layer and four stride-2
transposed convolutions back into a 64×64×3 picture. The loss per frame is the **sum** of
squared errors over its 12,288 values plus the KL divergence from the prior N(0, I), floored at
`kl_tolerance · latent_size` nats so that the optimiser stops squeezing the KL once it is small.
"""

import math
from pathlib import Path

import numpy as np

from wmlib import training
from wmlib.config import PRECISIONS, VisionConfig
from wmlib.errors import WorldModelsError
from wmlib.files import FRAME_SHAPE
from wmlib.runtime import keras, on_gpu, tf


class FrameError(WorldModelsError, ValueError):
    """Frames that are not what V takes: uint8 frames of shape (N, 64, 64, 3)."""


class Sampling(training.SavesSeedState, keras.layers.Layer):
    """Draw z = μ + σ·ε with ε ~ N(0, I): the reparameterisation trick.

    The randomness sits in ε, which does not depend on the encoder, so gradients flow from z
    back into μ and log σ² through a plain sum and product. ε comes from the layer's own seeded
    generator, whose state is saved with the model, so training is the same in any process and
    a resumed run draws what an uninterrupted one would have.
    """

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_variance = inputs
        epsilon = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        return mean + tf.exp(0.5 * log_variance) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def build_encoder(latent_size: int = 32, dtype: str = "float32") -> keras.Model:
    """Frames in [0, 1] (64×64×3) → (μ, log σ²), each of size `latent_size`.

    `dtype` is the Keras dtype policy of the convolutions; the two heads compute in float32.
    """
    frames = keras.Input(FRAME_SHAPE, name="frames")
    x = frames
    for filters in (32, 64, 128, 256):
        x = keras.layers.Conv2D(filters, 4, strides=2, activation="relu", dtype=dtype)(x)
    x = keras.layers.Flatten(dtype=dtype)(x)
    mean = keras.layers.Dense(latent_size, name="mean", dtype="float32")(x)
    log_variance = keras.layers.Dense(latent_size, name="log_variance", dtype="float32")(x)
    return keras.Model(frames, [mean, log_variance], name="encoder")


def build_decoder(latent_size: int = 32, dtype: str = "float32") -> keras.Model:
    """z → frames in [0, 1] (64×64×3), through a 1×1×1024 map grown by transposed convolutions.

    `dtype` is the Keras dtype policy of every layer but the last, which computes in float32.
    """
    z = keras.Input((latent_size,), name="z")
    x = keras.layers.Dense(1024, dtype=dtype)(z)
    x = keras.layers.Reshape((1, 1, 1024), dtype=dtype)(x)
    for filters, kernel in ((128, 5), (64, 5), (32, 6)):
        x = keras.layers.Conv2DTranspose(
            filters, kernel, strides=2, activation="relu", dtype=dtype
        )(x)
    frames = keras.layers.Conv2DTranspose(
        3, 6, strides=2, activation="sigmoid", name="frames", dtype="float32"
    )(x)
    return keras.Model(z, frames, name="decoder")


def reconstruction_loss(frames, reconstructions):
    """Per frame: the sum of squared errors over all 64·64·3 values (not the mean)."""
    return tf.reduce_sum(tf.square(frames - reconstructions), axis=[1, 2, 3])


def kl_divergence(mean, log_variance):
    """Per frame: KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1), in closed form."""
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_variance) - log_variance - 1.0, axis=1)


def vae_loss(frames, reconstructions, mean, log_variance, kl_floor: float):
    """The paper's loss, averaged over the batch: reconstruction + max(KL, floor) per frame.

    Returns (total, reconstruction, KL), the last two before the floor, for logging.
    """
    reconstruction = reconstruction_loss(frames, reconstructions)
    kl = kl_divergence(mean, log_variance)
    total = reconstruction + tf.maximum(kl, kl_floor)
    return tf.reduce_mean(total), tf.reduce_mean(reconstruction), tf.reduce_mean(kl)


@keras.saving.register_keras_serializable(package="wmlib")
class ConvVAE(training.LossTermsModel):
    """V: encoder, sampling and decoder, trained by `fit` on (total, reconstruction, KL)."""

    def __init__(
        self,
        latent_size: int = 32,
        kl_tolerance: float = 0.5,
        seed: int = 0,
        precision: str | None = None,
        **kwargs,
    ):
        super().__init__(("loss", "reconstruction", "kl"), **kwargs)
        self.latent_size = latent_size
        self.kl_tolerance = kl_tolerance
        self.seed = seed
        self.precision = precision
        self.encoder = build_encoder(latent_size, PRECISIONS[precision])
        self.decoder = build_decoder(latent_size, PRECISIONS[precision])
        self.sampling = Sampling(seed, dtype="float32")

    @property
    def kl_floor(self) -> float:
        """The KL term's floor in nats per frame."""
        return self.kl_tolerance * self.latent_size

    def call(self, frames, training=False):
        mean, log_variance = self.encoder(frames, training=training)
        z = self.sampling([mean, log_variance])
        return self.decoder(z, training=training), mean, log_variance

    def loss_terms(self, frames, training: bool):
        """(total, reconstruction, KL) of the paper's loss on a batch of frames."""
        reconstructions, mean, log_variance = self(frames, training=training)
        return vae_loss(frames, reconstructions, mean, log_variance, self.kl_floor)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_size": self.latent_size,
            "kl_tolerance": self.kl_tolerance,
            "seed": self.seed,
            "precision": self.precision,
        }


def build_vae(config: VisionConfig) -> ConvVAE:
    """A new, compiled ConvVAE with the config's sizes and optimiser.

    XLA compilation is used only on a GPU: on this project's CPUs it made training twice slower.
    """
    vae = ConvVAE(config.latent_size, config.kl_tolerance, config.seed, config.precision)
    vae(tf.zeros((1, *FRAME_SHAPE)))
    vae.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        jit_compile=on_gpu(),
    )
    return vae


def to_float(frames):
    """uint8 frames → float32 in [0, 1], as V takes them."""
    return tf.cast(frames, tf.float32) / 255.0


def to_uint8(frames) -> np.ndarray:
    """float frames in [0, 1] → uint8 frames for display."""
    return np.round(np.clip(np.asarray(frames), 0.0, 1.0) * 255).astype(np.uint8)


@tf.function(reduce_retracing=True)
def _encode(encoder, frames):
    return encoder(to_float(frames), training=False)


@tf.function(reduce_retracing=True)
def _decode(decoder, z):
    return decoder(z, training=False)


def check_frames(frames) -> np.ndarray:
    """`frames` as an array, once checked to be what V takes: uint8 frames (values 0–255) of
    shape (N, 64, 64, 3), as `Task.preprocess` returns them.

    Float frames are refused even in [0, 1]: V divides by 255 itself, so they would give wrong
    codes without a word. A `FrameError` says what was given and what is expected.
    """
    frames = np.asarray(frames)
    if frames.dtype == np.uint8 and frames.shape[1:] == FRAME_SHAPE:
        return frames
    given = f"{frames.dtype} frames of shape {frames.shape}"
    if frames.size and np.issubdtype(frames.dtype, np.number):
        given += f" with values in [{frames.min():g}, {frames.max():g}]"
    raise FrameError(
        f"V takes uint8 frames (values 0–255) of shape (N, 64, 64, 3), as task.preprocess "
        f"returns them; it was given {given}."
    )


def encode(vae: ConvVAE, frames: np.ndarray, batch_size: int = 1000):
    """uint8 frames (N, 64, 64, 3) → (μ, log σ²), two float32 arrays of shape (N, latent)."""
    frames = check_frames(frames)
    parts = [
        _encode(vae.encoder, frames[start : start + batch_size])
        for start in range(0, len(frames), batch_size)
    ]
    return tuple(np.concatenate([np.asarray(part[i]) for part in parts]) for i in range(2))


def decode(vae: ConvVAE, z: np.ndarray) -> np.ndarray:
    """Latent vectors (N, latent) → uint8 frames (N, 64, 64, 3)."""
    return to_uint8(_decode(vae.decoder, tf.convert_to_tensor(z, tf.float32)))


def split_episodes(paths: list[Path], validation_fraction: float) -> tuple[list, list]:
    """(training, validation) paths, holding out the last `validation_fraction` (at least one)."""
    held_out = max(1, math.ceil(len(paths) * validation_fraction))
    if held_out >= len(paths):
        raise ValueError(
            f"{len(paths)} episodes cannot be split into training and validation episodes; "
            f"collect at least two (RolloutConfig.episodes)."
        )
    return paths[:-held_out], paths[-held_out:]


def dimensions_by_activity(means: np.ndarray) -> np.ndarray:
    """Latent dimensions ordered from most to least used, by the variance of μ over frames.

    A dimension V does not use collapses onto the prior: its μ stays near 0 for every frame
    and moving it barely changes the decoded picture.
    """
    return np.argsort(-np.var(means, axis=0))


def traversals(vae: ConvVAE, z: np.ndarray, dimensions, values) -> np.ndarray:
    """Decode z with one dimension at a time set to each of `values`.

    Returns frames of shape (len(dimensions), len(values), 64, 64, 3), a row per dimension.
    """
    grid = np.repeat(np.asarray(z, np.float32)[None, None], len(dimensions), axis=0)
    grid = np.repeat(grid, len(values), axis=1)
    for row, dimension in enumerate(dimensions):
        grid[row, :, dimension] = values
    frames = decode(vae, grid.reshape(-1, grid.shape[-1]))
    return frames.reshape(len(dimensions), len(values), *FRAME_SHAPE)
