"""``python -m fm2s``: the ``fm2s`` command (as ``python -m fm2s.cli``)."""

import sys

from .cli import main

sys.exit(main())
