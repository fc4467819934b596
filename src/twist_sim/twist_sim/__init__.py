"""twist_sim."""
