"""twist_models."""
