"""``python -m artvc``: the same CLI as the ``art`` command."""

from artvc.commands import main

if __name__ == "__main__":
    main()
