"""The gbdt workload (XGBoost training) as pytest-benchmark tests; ids `test_train[<engine>-<scale>]`."""

from enginebench.measure.bench import case_tests

globals().update(case_tests("gbdt"))
