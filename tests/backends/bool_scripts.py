"""Training scripts that parse booleans each common way, shared by the local and
emulated-cloud tests. Each records its argv and what it parsed in MLX_MODEL_DIR/seen.json
and prints ``loss`` (0 when ``amp`` is on), so a tuning job has an objective."""

from __future__ import annotations

RECORD = """
import json, os, sys
def record(values):
    seen = {"argv": sys.argv[1:], **values}
    with open(os.path.join(os.environ["MLX_MODEL_DIR"], "seen.json"), "w") as f:
        json.dump(seen, f)
    print("loss=%d" % (0 if values.get("amp") else 1), flush=True)
"""
STORE_TRUE = (
    RECORD
    + """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--run")
p.add_argument("--amp", action="store_true")
p.add_argument("--shrinking", action="store_true")
a = p.parse_args()
record({"run": a.run, "amp": a.amp, "shrinking": a.shrinking})
"""
)
# distutils.util.strtobool, re-created (distutils left the standard library in Python 3.12,
# PEP 632): the same words, any case. Scripts use it as `type=` instead of the `type=bool` trap.
STRTOBOOL = (
    RECORD
    + """
import argparse
def strtobool(val):
    val = val.lower()
    if val in ("y", "yes", "t", "true", "on", "1"):
        return 1
    if val in ("n", "no", "f", "false", "off", "0"):
        return 0
    raise ValueError("invalid truth value %r" % (val,))
p = argparse.ArgumentParser()
p.add_argument("--run")
p.add_argument("--amp", type=lambda s: bool(strtobool(s)), default=False)
p.add_argument("--shrinking", type=lambda s: bool(strtobool(s)), default=True)
p.add_argument("--fast", action="store_true")
a = p.parse_args()
record({"run": a.run, "amp": a.amp, "shrinking": a.shrinking, "fast": a.fast})
"""
)
# Hydra itself is not installed here: the script reads key=value overrides and booleans as
# Hydra's override grammar does (true/false, any case: hydra/grammar/Override.g4, BOOL).
HYDRA = (
    RECORD
    + """
def value(text):
    return text.lower() == "true" if text.lower() in ("true", "false") else text
cfg = {k: value(v) for k, v in (arg.split("=", 1) for arg in sys.argv[1:])}
record(cfg)
"""
)
