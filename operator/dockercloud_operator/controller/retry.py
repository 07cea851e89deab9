"""The one failure the work queue expects."""


class Retry(Exception):
    """An expected, passing failure (a write conflict, say): retried without a traceback."""
