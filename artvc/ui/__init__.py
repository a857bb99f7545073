"""``art ui``: a local, read-only dashboard of the repository (docs/ui.md).

``data.py`` (with ``data_runs.py``, ``data_artifacts.py``, ``data_store.py``, ``preview.py``) computes the JSON
behind each page, the same JSON the matching CLI command prints with ``--json``; nothing here writes under the
repository (open it with ``data.open_repo``: store and ``state.db`` read in place, a stale index rebuilt in
memory).
"""
