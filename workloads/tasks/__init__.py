"""Low-level task parallelism: tiny tasks, fan-out/fan-in, tree reductions, actors, latency, transfer."""
