"""The tune workload (hyperparameter search) as pytest-benchmark tests: `test_search[<engine>-<scale>]`."""

from enginebench.measure.bench import case_tests

globals().update(case_tests("tune"))
