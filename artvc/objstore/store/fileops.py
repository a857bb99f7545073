"""Small file helpers shared by the remote store and the transfers."""

from __future__ import annotations

import os
import shutil

from ..fileio import remove_if_present as unlink_quietly  # noqa: F401  (the remote modules' name for it)


def link_or_copy(src: str, dest: str, hardlinks: bool) -> None:
    """Hard-link ``src`` to ``dest`` when allowed and possible, else copy it."""
    if hardlinks:
        try:
            os.link(src, dest)
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy
    shutil.copyfile(src, dest)
