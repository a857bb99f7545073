"""art: content-addressed artifact versioning for ML and data pipelines (import namespace ``artvc``)."""

__version__ = "0.1.0"
