"""``python -m fm2s.cli``: the ``fm2s`` command."""

import sys

from . import main

sys.exit(main())
