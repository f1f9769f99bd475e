"""``python -m gcverify``: the same as the ``gcverify`` command."""

import sys

from gcverify.cli import main

if __name__ == "__main__":
    sys.exit(main())
