"""The providers' packages: one per provider (``backend``, ``provider`` descriptor, ...).

Nothing here is imported before it is used: the registry (``mlx.providers``) reads each
provider's descriptor through the ``mlx.providers`` entry point group, and imports its
backend (and so its SDK) only when a command needs it.
"""
