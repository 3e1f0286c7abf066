# An image with mlx and every provider SDK, for CI pipelines that launch jobs:
#   docker build -t mlx .
#   docker run --rm -v mlx-home:/data -v ~/.aws:/home/mlx/.aws:ro \
#       -v "$PWD":/work mlx train job.yaml -p sagemaker
# README "Running mlx in a container" shows each cloud's credentials.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# tini as PID 1: forwards Ctrl-C/SIGTERM to mlx (which then detaches from the cloud job
# cleanly) and reaps the processes local jobs leave (https://packages.debian.org/tini).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

# The dependencies in a layer of their own, computed from pyproject.toml alone: a change
# to mlx's code rebuilds only the small layer below, not the SDKs.
WORKDIR /opt/mlx
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; x = p['optional-dependencies']; print('\n'.join(p['dependencies'] + [r for e in ('sagemaker', 'vertex', 'azure', 'tune') for r in x[e]]))" > requirements.txt \
    && pip install -r requirements.txt

COPY README.md ./
COPY mlx ./mlx
RUN pip install --no-deps . && mlx --version

# A non-root user whose uid matches yours (default 1000, the first user of most Linux
# machines; `--build-arg UID=$(id -u)` otherwise), so credential files mounted read-only
# from the host, often mode 0600, are readable; and the job store on a volume:
# `docker run --rm` keeps it when a named volume is mounted at /data.
ARG UID=1000
RUN useradd --create-home --uid "$UID" mlx && mkdir /data /work && chown mlx:mlx /data /work
ENV MLX_HOME=/data HOME=/home/mlx
VOLUME /data
USER mlx
WORKDIR /work
ENTRYPOINT ["tini", "--", "mlx"]
CMD ["--help"]
