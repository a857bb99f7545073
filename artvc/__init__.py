"""art: content-addressed artifact versioning for ML and data pipelines (import namespace ``artvc``)."""

from .errors import ArtError

__version__ = "0.1.0"
__all__ = ["ArtError", "__version__"]
