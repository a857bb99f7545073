"""The pipeline engine: art.toml stages, the DAG, staleness, the run cache, repro and lineage queries."""
