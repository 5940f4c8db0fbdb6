"""Results as data: the versioned record schema and its I/O and migrations (`records`), the CSV export
(`export`) and the pure fixed + per-unit fit over a size ladder (`fit`). Above core and the contract."""
