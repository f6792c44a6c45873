"""Task results: storage and size."""
