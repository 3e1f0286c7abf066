# An image with mlx and every provider SDK, for CI pipelines that launch jobs:
#   docker build -t mlx .
#   docker run --rm -v ~/.aws:/root/.aws:ro -v "$PWD":/work -w /work mlx train job.yaml -p sagemaker
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/mlx
COPY pyproject.toml README.md ./
COPY mlx ./mlx
RUN pip install '.[all]' && mlx --version
WORKDIR /work
ENTRYPOINT ["mlx"]
CMD ["--help"]
