"""`python -m bench.fuzz ...`, as `siao fuzz ...`."""

from bench.fuzz.command import main

raise SystemExit(main())
