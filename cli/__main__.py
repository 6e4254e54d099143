"""`python -m cli ...`: the `golive` command without its console script (what the tests run)."""

import sys

from cli.main import main

sys.exit(main())
