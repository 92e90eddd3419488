"""What one process watches besides requests: the queue, its running work and its shards."""
