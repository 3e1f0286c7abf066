"""The one argv rule, as every provider and the bootstrap apply it."""

from __future__ import annotations

import argparse

import pytest

from mlx.runtime.argv import decode_from_sagemaker, encode_for_sagemaker, render_args


def test_flags_style_renders_each_kind_of_value() -> None:
    hps = {
        "learning-rate": 0.01,
        "layers": [64, 32],
        "use-amp": True,
        "no-cache": False,
        "verbose": None,
        "batch_size": 32,
        "optimizer": "adam",
    }
    assert render_args(hps) == [
        "--learning-rate", "0.01",
        "--layers", "64", "--layers", "32",
        "--use-amp",
        "--verbose",
        "--batch_size", "32",
        "--optimizer", "adam",
    ]  # fmt: skip


def test_floats_keep_full_precision_and_parse_back() -> None:
    assert render_args({"lr": 1e-05, "x": 0.1 + 0.2}) == [
        "--lr", "1e-05", "--x", "0.30000000000000004",
    ]  # fmt: skip


def test_keys_starting_with_a_dash_are_used_verbatim() -> None:
    assert render_args({"-v": True, "--depth": 3}) == ["-v", "--depth", "3"]


def test_hydra_style_renders_key_value_pairs() -> None:
    hps = {
        "lr": 0.01,
        "layers": [64, 32],
        "amp": True,
        "off": False,
        "ckpt": None,
        "model.name": "resnet",
        "note": "a b,c",
    }
    assert render_args(hps, "hydra") == [
        "lr=0.01", "layers=[64,32]", "amp=true", "off=false", "ckpt=null",
        "model.name=resnet", "note='a b,c'",
    ]  # fmt: skip


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="args_style"):
        render_args({"a": 1}, "positional")


def test_argparse_script_reads_back_what_was_rendered() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--layers", type=int, action="append")
    parser.add_argument("--use-amp", action="store_true")
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(
        render_args({"learning-rate": 3e-4, "layers": [8, 4], "use-amp": True, "no-cache": False})
    )
    assert (args.learning_rate, args.layers, args.use_amp, args.no_cache) == (
        3e-4, [8, 4], True, False,
    )  # fmt: skip


def test_sagemaker_encoding_round_trips_types() -> None:
    hps = {"lr": 0.01, "layers": [64, 32], "amp": True, "ckpt": None, "name": "adam", "n": 3}
    encoded = encode_for_sagemaker(hps)
    assert all(isinstance(v, str) for v in encoded.values())
    assert decode_from_sagemaker(encoded) == hps
    # Values SageMaker's tuner picks itself arrive as plain text.
    assert decode_from_sagemaker({"optimizer": "sgd", "lr": "0.003"}) == {
        "optimizer": "sgd", "lr": 0.003,
    }  # fmt: skip
