"""Hyperparameter tuning: the search space on Optuna (local), the driver, the trial table."""
