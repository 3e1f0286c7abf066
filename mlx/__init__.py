"""mlx: one job spec, one CLI, for training and tuning jobs on any cloud or locally."""

__version__ = "0.1.0"
