"""The examples under each command's ``--help`` (Typer's ``epilog``), as gcloud, az and
kubectl show them: the commands people run most, ready to copy.

Standard library only: ``cli.py`` reads this at startup, and ``mlx --help`` must stay fast.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "train": (
        "mlx train configs/quickstart.yaml",
        "mlx train job.yaml -p sagemaker --set resources.accelerator=A10G:1 --detach",
        "mlx train job.yaml -p vertex --rehearse",
    ),
    "tune": (
        "mlx tune configs/tune-quickstart.yaml",
        "mlx tune job.yaml -p sagemaker --set tune.max_trials=40 --detach",
        "mlx tune --resume iris-tune-3f9c",
    ),
    "logs": (
        "mlx logs -f iris-softmax-3f9c",
        "mlx logs iris-softmax-3f9c -n 50 --grep loss -t",
        "mlx logs iris-tune-3f9c --trial best --since 2h",
    ),
    "pull-artifacts": (
        "mlx pull-artifacts iris-softmax-3f9c --list",
        "mlx pull-artifacts iris-softmax-3f9c -i 'model/**' --dest ./model",
        "mlx pull-artifacts sagemaker:my-training-job -i '*.json'",
    ),
    "tensorboard": (
        "mlx tensorboard iris-softmax-3f9c iris-tune-3f9c",
        "mlx tensorboard iris-softmax-3f9c --sync-only ./tb --once --json",
        "mlx tensorboard sagemaker:my-training-job --prefix s3://my-bucket/tb/",
    ),
    "jobs": (
        "mlx jobs -n 10",
        "mlx jobs -p sagemaker --status running --since 2w",
        "mlx jobs --prune --json",
        "mlx jobs --tag team=vision",
        "mlx jobs -p sagemaker --remote",
        "mlx jobs --cost --since 1w",
    ),
    "status": ("mlx status iris-softmax-3f9c", "mlx status iris-tune-3f9c --trial best --json"),
    "cancel": ("mlx cancel iris-softmax-3f9c",),
    "translate": (
        "mlx translate job.yaml -p sagemaker",
        "mlx translate job.yaml -p azure --tune --json",
    ),
    "price": (
        "mlx price job.yaml",
        "mlx price job.yaml --set resources.accelerator=A100:8",
        "mlx price --refresh job.yaml",
    ),
    "schema": ("mlx schema > mlx-spec.schema.json",),
    "doctor": ("mlx doctor", "mlx doctor --json", "mlx doctor --repair"),
    # Commands of issue #17's conventions (their own module declares them).
    "open": ("mlx open iris-softmax-3f9c",),
    "rerun": ("mlx rerun iris-softmax-3f9c --set hyperparameters.lr=0.05",),
    "init": ("mlx init train.py",),
}


def examples(command: str) -> str:
    """The ``Examples:`` epilog of ``command``: one paragraph per example, because Typer's
    help joins single line breaks into one line."""
    lines = EXAMPLES.get(command, ())
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines) if lines else ""
