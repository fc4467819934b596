"""twist_deploy."""
