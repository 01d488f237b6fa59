"""`python -m collector.cli`: the same as the `workmail-collector` script."""

import sys

from collector.cli import main

sys.exit(main())
