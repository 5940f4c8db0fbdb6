"""enginebench's version and the version of its public workload API (re-exported by the package)."""

__version__ = "0.1.0"
#: The workload API's version, MAJOR.MINOR: a minor release adds names, a major one changes them.
#: 1.1: `measured_apart` (a load generator's process), `Staged(teardown=...)`, `stop_process`.
#: 1.2: `train_settings` (Ray Train's controller as enginebench runs it), `without_cold_start_budget` (Ray Data).
#: 1.3: `ray_data_settings` (Ray Data's process-wide settings for a block, restored afterwards).
API_VERSION = "1.3"
