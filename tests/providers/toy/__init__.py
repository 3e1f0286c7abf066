"""A toy provider that lives in the tests folder and reaches mlx only through the public
extension point (an ``mlx.providers`` entry point): proof that a new provider is one
package and no change under ``mlx/``.

Its "cloud" is a directory (``toy.root``): a job is a folder that a detached runner
(``runner.py``) fills with one log file per node, the model, exit codes and a state file.
"""
