"""The inference workload (batch scoring of a trained CNN) as pytest-benchmark tests: `test_score[<engine>-<scale>]`."""

from enginebench.measure.bench import case_tests

globals().update(case_tests("inference"))
