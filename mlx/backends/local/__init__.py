"""This machine: jobs run as detached supervisor processes, tuning as an Optuna study.

Modules: ``backend`` (the ``Backend``), ``run`` (the supervisor and the detached-process
life cycle), ``provider`` (the descriptor).
"""
