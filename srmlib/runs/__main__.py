"""``python -m srmlib.runs ...``: the command line of :mod:`srmlib.runs.cli`."""

import sys

from srmlib.runs.cli import main

if __name__ == "__main__":
    sys.exit(main())
