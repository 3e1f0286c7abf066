"""Real TensorBoard event files without TensorFlow: a tiny writer, in the job's script.

The format is TFRecord framing of ``Event`` protos (tensorboard/summary/writer/
record_writer.py): the data's length (uint64, little-endian), the masked CRC-32C of those
8 bytes, the data, the masked CRC-32C of the data; masking as in
tensorboard/compat/tensorflow_stub/pywrap_tensorflow.py (``masked_crc32c``). An ``Event``
(tensorboard/compat/proto/event.proto) is wall_time = 1 (double), step = 2 (int64),
file_version = 3 (string), summary = 5; a ``Summary.Value`` (summary.proto) is tag = 1,
simple_value = 2 (float).
"""

from __future__ import annotations

from pathlib import Path

WRITER = r"""
import os, struct, sys, time

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table

_TABLE = _crc32c_table()

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(number, wire, payload):
    return varint(number << 3 | wire) + payload

def string(number, data):
    return field(number, 2, varint(len(data)) + data)

def record(data):
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))

def event(step, **extra):
    data = field(1, 1, struct.pack("<d", time.time())) + field(2, 0, varint(step))
    if "version" in extra:
        data += string(3, extra["version"].encode())
    if "tag" in extra:
        value = string(1, extra["tag"].encode()) + field(2, 5, struct.pack("<f", extra["value"]))
        data += string(5, string(1, value))
    return record(data)
"""

SCRIPT = (
    WRITER
    + r"""
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--steps", type=int, default=3)
args, _ = parser.parse_known_args()
folder = os.environ["MLX_TENSORBOARD_DIR"]
os.makedirs(folder, exist_ok=True)
name = "events.out.tfevents.1700000000.%s.%d.0" % (os.environ.get("MLX_JOB_ID", "job"), os.getpid())
gate = os.environ.get("TB_GATE")  # a file the test creates once it has seen the first steps
with open(os.path.join(folder, name), "ab") as f:
    f.write(event(0, version="brain.Event:2"))
    for step in range(2 * args.steps):
        if step == args.steps and gate:
            deadline = time.time() + 60
            while not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.05)
        f.write(event(step, tag="loss", value=args.lr / (step + 1)))
        f.flush()
print("wrote", 2 * args.steps, "steps")
print("loss=%s" % args.lr)
"""
)


def more_events(first_step: int, count: int) -> bytes:
    """``count`` scalar events from ``first_step`` on, framed: what a writer appends."""
    scope: dict[str, object] = {}
    exec(WRITER, scope)  # the job's own writer
    event = scope["event"]
    return b"".join(
        event(step, tag="loss", value=1.0 / (step + 1))  # type: ignore[operator]
        for step in range(first_step, first_step + count)
    )


def scalar_runs(root: Path) -> dict[str, list[int]]:
    """TensorBoard's own reading of ``root``: each run and its ``loss`` steps (needs the
    ``tensorboard`` extra)."""
    from tensorboard.backend.event_processing.event_multiplexer import (  # type: ignore[import-untyped]
        EventMultiplexer,
    )

    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(root))
    multiplexer.Reload()
    return {
        run: [e.step for e in multiplexer.Tensors(run, "loss")]
        if "loss" in multiplexer.Runs()[run].get("tensors", [])
        else [e.step for e in multiplexer.Scalars(run, "loss")]
        for run in multiplexer.Runs()
    }
