"""The tasks workload as pytest-benchmark tests: one test function per case, one parameter per engine.

Node ids read `test_<case>[<engine>-<scale>]`; each benchmark's group is `tasks/<case>`, so
pytest-benchmark's table puts the engines of a case side by side.
"""

from enginebench.measure.bench import case_tests

globals().update(case_tests("tasks"))
