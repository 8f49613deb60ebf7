"""wmlib: the library behind *World Models, the executable book*.

One module per idea, in the order the book teaches them:

- `config`: the profiles (`ci`, `small`, `paper`) and every stage's settings;
- `env`: CarRacing-v3 and how its frames become V's input (chapter 1);
- `rollouts`: the data-collection policies and the episode files (chapter 1);
- `runtime`: TensorFlow, imported quietly, and the device it uses;
- `vision`: V, the convolutional VAE (chapter 2);
- `training`: resumable training with checkpoints and progress, shared by V and M;
- `memory`: mixture density networks and the LSTM, M's parts (chapters 3 and 4);
- `toy_data`: the small problems of chapters 3 and 4;
- `pipeline`: the artefact cache, one `ensure_*` call per stage;
- `plots`, `widgets`: the figures and interactive views the chapters share.
"""

__version__ = "0.1.0"
