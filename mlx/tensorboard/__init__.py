"""``mlx tensorboard``: jobs' TensorBoard event files, copied incrementally and served."""
