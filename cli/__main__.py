"""`python -m cli ...`: the `siao` command of this tree (what tests and the bench run)."""

from cli import main

raise SystemExit(main())
