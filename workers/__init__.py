"""Process entry points: the `finsent` CLI and the long-running workers."""
