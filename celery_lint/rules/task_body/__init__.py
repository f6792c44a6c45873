"""Rules about what a task body does."""
