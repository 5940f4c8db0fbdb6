"""`python -m harness` is the `enginebench` command."""

from harness.cli import main

raise SystemExit(main())
