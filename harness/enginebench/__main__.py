"""`python -m enginebench` is the `enginebench` command."""

from enginebench.cli.main import main

raise SystemExit(main())
