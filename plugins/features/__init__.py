"""Built-in features."""
