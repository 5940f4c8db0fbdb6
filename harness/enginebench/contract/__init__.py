"""The workload contract: what a workload is (`spec`: Workload, Case, Timed, Verdict, EngineContext), where
one comes from (`discovery`: shipped, entry point, folder, module), whether it is well formed
(`wellformed`), and its `enginebench data` commands (`commands`). Above core only."""
