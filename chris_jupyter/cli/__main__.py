"""``python -m chris_jupyter.cli``."""

import sys

from . import main

sys.exit(main())
