"""`python -m enginebench` is the `enginebench` command."""

from enginebench.cli import main

raise SystemExit(main())
