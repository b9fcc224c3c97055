"""Development tools that run from a clone; none of them is part of the service."""
