"""Query and mutation resolvers, one module per domain, and the per-request dataloaders.
The only layer that reads or writes the database."""
