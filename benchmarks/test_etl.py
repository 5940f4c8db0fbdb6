"""The etl workload (queries, pipeline, spark-to-ray) as pytest-benchmark tests: `test_<case>[<engine>-<scale>]`."""

from enginebench.measure.bench import case_tests

globals().update(case_tests("etl"))
