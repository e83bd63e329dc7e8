"""What runs in a worker: the chunk task, calling the function on it, output capture,
the control board (cancel, timeouts), seeding and the cache of shipped functions."""
