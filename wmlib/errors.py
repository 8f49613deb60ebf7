"""The library's own errors: one base class for every error whose message is the whole story.

A `WorldModelsError` says what is wrong (naming the file, value or setting) and how to fix it, so
the command line prints it as one line. Anything else that goes wrong is a bug, and keeps its
traceback.
"""


class WorldModelsError(Exception):
    """An error with a message that names the problem and the fix; no traceback needed."""
