"""The etl workload (TPC-H queries) as pytest-benchmark tests; ids `test_<query>[<engine>-<scale>]`."""

from harness.bench import case_tests

globals().update(case_tests("etl"))
