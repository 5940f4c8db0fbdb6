"""What will run: names -> workloads and engines (`registry`), and the plan layer (`plan`) that turns a
command line, a variant study or a pytest-benchmark request into the list of attempts once: engine,
workload, case, params with the rung's size, budget, timeout and repetitions."""
