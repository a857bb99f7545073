"""A repository on disk ("porcelain" for data): the same operations as the CLI, as Python functions.

    from artvc.workspace import Repo, add, status, checkout
    with Repo.find() as repo:
        add(repo, ["data/train.csv"])
        print(status(repo).clean)
"""

from .add import AddResult, add
from .checkout import CheckoutResult, checkout
from .diff import diff
from .fsck import FsckResult, fsck
from .init import InitResult, init
from .ls import ls
from .repo import Repo
from .status import StatusResult, status

__all__ = ["AddResult", "CheckoutResult", "FsckResult", "InitResult", "Repo", "StatusResult", "add",
           "checkout", "diff", "fsck", "init", "ls", "status"]
