"""The project model: apps, effective configuration, tasks and their effective options."""
