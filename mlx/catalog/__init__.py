"""Accelerator names, instance tables and the resolver that maps `resources` to a machine."""
