"""The command line: argument parsing and dispatch (`main`), `doctor`, `new` (`template`) and `lock`
(`lockfile`, standard library only: the bootstrap script runs it before any install)."""
