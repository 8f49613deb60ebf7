"""wmlib: the library behind *World Models, the executable book*.

One module per idea, in the order the book teaches them: `config` (profiles), `env` (CarRacing
and its frames), `rollouts` (data collection), `pipeline` (the artefact cache).
"""

__version__ = "0.1.0"
