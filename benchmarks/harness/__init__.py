"""The benchmark harness: running and timing tool commands, scratch workspaces, input data, reports."""
