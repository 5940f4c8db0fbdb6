"""Engine lifecycles: start(budget) -> handle, stop(), versions(), config(). One module per engine."""
