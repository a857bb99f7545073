"""Many small files: time and peak memory of add, status and checkout beside their floor (no DVC).

Kept for its old command line; it is ``small_files.py`` without DVC and without push/pull:

    python benchmarks/memory.py --files 20000        # = small_files.py --no-dvc --steps add,status,...
    python benchmarks/memory.py --million            # also 1,000,000 files

Any other ``small_files.py`` option may follow (``--layouts tree``, ``--repeat 1``, ``--art CMD``).
"""

from __future__ import annotations

import sys

from small_files import main

if __name__ == "__main__":
    sys.exit(main(["--no-dvc", "--steps", "add,status,status_changed,checkout", *sys.argv[1:]]))
