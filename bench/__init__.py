"""The reproducible benchmark: data generator, scenarios, report (see bench/README)."""
