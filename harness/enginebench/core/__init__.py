"""The ground floor: errors, formatting, atomic files, statistics, the resource budget and the machine's facts.

Imports nothing else of enginebench; every other room may import it."""
