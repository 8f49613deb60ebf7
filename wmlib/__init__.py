"""wmlib: the library behind *World Models, the executable book*.

One module per idea, in the order the book teaches them (a module imports only those above it):

- `errors`: the base class of the library's own clear errors;
- `config`: the profiles (`ci`, `small`, `paper`) and every stage's settings;
- `files`: atomic writes and the npz formats of episodes and latents;
- `workers`: the process pool that survives its workers; `cluster`: the same on Dask;
- `env`: the tasks behind one interface (`env.carracing`; `env.frames` resizes for V);
- `rollouts`: recording episodes with a data policy (chapter 1);
- `runtime`: TensorFlow, imported quietly, and the device it uses;
- `training`: resumable training with checkpoints and progress, shared by V and M;
- `vision`: V, the convolutional VAE (chapter 2);
- `memory`: mixture density networks, the LSTM and the MDN-RNN, M (chapters 3 to 5);
- `toy_data`: the small problems of chapters 3 and 4;
- `evolution`: evolution strategies and CMA-ES from scratch (chapters 6 and 7);
- `controller`, `agent`, `search`, `media`: C, the agent driving with V, M and C, CMA-ES's
  search, and videos (chapters 8 and 9);
- `artefacts`, `pipeline`, `stages`: manifests, one `ensure_*` call per artefact, the stage list;
- `options`, `status`: command-line options from the profiles, the methods page's tables;
- `release`: the published artefacts, which a reader in Colab downloads rather than trains;
- `plots`, `widgets`: the figures and interactive views the chapters share.
"""

__version__ = "0.2.0"
