"""The platform runner: executes a translated cloud request the way its platform runs
containers, on this machine.

Each provider contributes the platform's rules (``mlx/backends/<p>/runner.py``, named by
its descriptor's ``runner``); this package holds what they share:

- ``container``: one container to start (image, entrypoint, args, env, mounts, working
  directory) and the ``Runtime`` protocol that starts it; ``runtimes`` picks one;
- ``sandbox``: the runtime used where no Docker daemon is: Linux user + mount namespaces,
  the job's folders bind-mounted where the platform puts them, the host's Python
  standing in for the image's (``enter`` is the part that runs inside the namespace);
- ``docker``: the runtime with the real image, for machines with a Docker daemon;
- ``nodes``: start a job's containers, pass every line they print to a sink, stop them;
- ``host``: what a platform runner asks of whoever hosts the run (the emulated clouds in
  the tests, ``--rehearse`` for users): object storage, a place for log lines, events;
- ``folders``: an object store kept in a local folder, for rehearsals;
- ``rehearsal`` and ``backend``: ``--rehearse``: a cloud's job run here by its runner,
  recorded and read like a local job.
"""
