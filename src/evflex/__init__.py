"""evflex."""
