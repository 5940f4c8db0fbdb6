"""A workload for the runner's own tests: cases that succeed, fail, lie and hang, on the local engine."""
