"""The dashboard (``art ui``): page data, rendering, layout and the read-only server."""
