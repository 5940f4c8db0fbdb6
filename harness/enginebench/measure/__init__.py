"""Running the plan: the attempt core (`attempt`: phases, checks, one record per attempt), the runner that
walks the plan engine by engine (`runner`), variant studies (`variants`), the pytest-benchmark adapter
(`bench`), the stopwatch and process sampler (`metrics`) and the progress line (`console`)."""
