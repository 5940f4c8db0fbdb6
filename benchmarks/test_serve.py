"""The serve workload (online scoring over HTTP) as pytest-benchmark tests; ids `test_predict[<engine>-<scale>]`."""

from enginebench.measure.bench import case_tests

globals().update(case_tests("serve"))
