"""A PyTorch reference for V's training speed: the paper's ConvVAE, written plainly in PyTorch.

    python bench/torch_vae.py [--steps 30]

The speed issue asks that our V train at least 1.2× as fast as PyTorch does on the same machine
("ours ÷ PyTorch ≥ 1.2"). A ratio needs a reference, so this file holds the same model and loss as
`wmlib.vision.ConvVAE`, written as one would in PyTorch rather than ported from TensorFlow:
channels-first (NCHW) tensors, `nn.Module`s, `torch.optim.Adam` (lr 1e-4), eager execution, and
`torch.set_num_threads` left at its default (all cores, as TensorFlow uses all cores).

- Encoder: a 3×64×64 frame → four Conv2d(kernel 4, stride 2, ReLU) of 32, 64, 128, 256 filters
  → 256×2×2 = 1,024 values → two Linear layers to the mean and log-variance of a 32-dim z.
- Sampling: z = μ + σ·ε with ε ~ N(0, I) (the reparameterisation trick).
- Decoder: Linear(32 → 1,024) → 1,024×1×1 → ConvTranspose2d (128, 5), (64, 5), (32, 6) with
  ReLU and (3, 6) with a sigmoid, all of stride 2: 1 → 5 → 13 → 30 → 64 pixels a side.
- Loss per frame: the sum of squared errors over its 12,288 values + max(KL, 0.5 · 32 = 16 nats),
  averaged over the batch.

The layer sizes match Keras' exactly, so the parameter counts are equal (4,348,547); only the
initial weights differ (each framework's default initialisers), which does not change the speed.

`training_rate` times a training step on one fixed random batch, as `bench/vision.py` does for
ours. Measure on an idle machine: PyTorch's OpenMP threads wait for each other at every layer, so
another process busy on one of the 2 cores made it up to 10× slower here (50–360 images/s instead
of 480–650), much more than it slowed TensorFlow.

Importing this module without PyTorch raises a `ModuleNotFoundError` (name "torch") whose message
is one line telling how to install it, for `bench/vision.py` to catch and print.
"""

import argparse
import time

SKIP_MESSAGE = "PyTorch reference skipped: torch is not installed; `pip install -e '.[bench]'`"

try:
    import torch
    from torch import nn
except ModuleNotFoundError as error:
    if error.name != "torch":
        raise
    if __name__ == "__main__":
        raise SystemExit(SKIP_MESSAGE) from None
    raise ModuleNotFoundError(SKIP_MESSAGE, name="torch") from None

FRAME_SHAPE = (3, 64, 64)
"""A frame, channels first: (channels, height, width)."""


class Encoder(nn.Module):
    """Frames in [0, 1] (N, 3, 64, 64) → (μ, log σ²), each (N, latent_size)."""

    def __init__(self, latent_size: int = 32):
        super().__init__()
        layers = []
        channels = FRAME_SHAPE[0]
        for filters in (32, 64, 128, 256):
            layers += [nn.Conv2d(channels, filters, kernel_size=4, stride=2), nn.ReLU()]
            channels = filters
        self.convolutions = nn.Sequential(*layers, nn.Flatten())
        self.mean = nn.Linear(2 * 2 * 256, latent_size)
        self.log_variance = nn.Linear(2 * 2 * 256, latent_size)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.convolutions(frames)
        return self.mean(features), self.log_variance(features)


class Decoder(nn.Module):
    """z (N, latent_size) → frames in [0, 1] (N, 3, 64, 64), from a 1,024×1×1 map."""

    def __init__(self, latent_size: int = 32):
        super().__init__()
        self.dense = nn.Linear(latent_size, 1024)
        self.deconvolutions = nn.Sequential(
            nn.ConvTranspose2d(1024, 128, kernel_size=5, stride=2),
            nn.ReLU(),
            nn.ConvTranspose2d(128, 64, kernel_size=5, stride=2),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, kernel_size=6, stride=2),
            nn.ReLU(),
            nn.ConvTranspose2d(32, FRAME_SHAPE[0], kernel_size=6, stride=2),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvolutions(self.dense(z).view(-1, 1024, 1, 1))


class ConvVAE(nn.Module):
    """V: encoder, reparameterised sample and decoder; returns (reconstructions, μ, log σ²)."""

    def __init__(self, latent_size: int = 32, kl_tolerance: float = 0.5):
        super().__init__()
        self.latent_size = latent_size
        self.kl_tolerance = kl_tolerance
        self.encoder = Encoder(latent_size)
        self.decoder = Decoder(latent_size)

    @property
    def kl_floor(self) -> float:
        """The KL term's floor in nats per frame."""
        return self.kl_tolerance * self.latent_size

    def forward(self, frames: torch.Tensor):
        mean, log_variance = self.encoder(frames)
        z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        return self.decoder(z), mean, log_variance


def vae_loss(frames, reconstructions, mean, log_variance, kl_floor: float) -> torch.Tensor:
    """The paper's loss, averaged over the batch: per frame, the sum of squared errors over all
    3·64·64 values + max(KL(N(μ, σ²) ‖ N(0, I)), kl_floor)."""
    reconstruction = (frames - reconstructions).square().sum(dim=(1, 2, 3))
    kl = 0.5 * (mean.square() + log_variance.exp() - log_variance - 1.0).sum(dim=1)
    return (reconstruction + kl.clamp(min=kl_floor)).mean()


def count_params(model: nn.Module) -> int:
    """The number of parameters, as Keras' `count_params` counts them."""
    return sum(parameter.numel() for parameter in model.parameters())


def training_rate(batch_size: int, steps: int, warmup: int = 3) -> float:
    """Images per second through a training step (forward, loss, backward, Adam) on one fixed
    random batch, after `warmup` untimed steps."""
    vae = ConvVAE()
    vae.train()
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand((batch_size, *FRAME_SHAPE), generator=generator)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = vae_loss(frames, *vae(frames), vae.kl_floor)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    arguments = parser.parse_args()
    vae = ConvVAE()
    with torch.no_grad():
        shape = tuple(vae.decoder(torch.zeros(1, vae.latent_size)).shape[1:])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; decoder output: {shape}")
    for batch_size in (32, 100):
        rate = training_rate(batch_size, arguments.steps)
        print(f"PyTorch training, batch {batch_size:3d}: {rate:6.0f} images/s")
    print(f"parameters: PyTorch {count_params(vae):,}", end="", flush=True)
    from wmlib import config, vision  # imported last: TensorFlow is slow to load

    print(f", Keras {vision.build_vae(config.VisionConfig()).count_params():,}")


if __name__ == "__main__":
    main()
