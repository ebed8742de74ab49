#!/usr/bin/env python3
"""Writes Tests/Fixtures/terminal/: checkpoints whose tensor names, metadata and pickle globals
carry terminal control sequences (ESC colour and cursor codes, an OSC window-title sequence,
BEL, CR, newline, DEL, the C1 CSI byte, bidirectional overrides, line separators, zero-width
marks). irzoo must show them escaped on a terminal and keep `--json` valid JSON that holds the
exact names (tests in Tests/CLITests/TerminalEscapingTests.swift).

names.json lists the exact names, in file order, for the tests.
"""
import json
import os
import pathlib
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fixture_lib import ZipMember, ZipWriter, glob, tup, uni  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "terminal"

NAMES = [
    "red\x1b[31m.weight",              # SGR colour
    "clear\x1b[2J\x1b[H.weight",       # clear screen, cursor home
    "title\x1b]0;pwned\x07.weight",    # OSC: set the window title, ended by BEL
    "line\nbreak.weight",              # a fake second line
    "carriage\rreturn.weight",         # overwrite the start of the line
    "del\x7f.bias",
    "c1\u009b31m.bias",                # C1 CSI, a one-character ESC [
    "bidi\u202egnp.exe.bias",          # right-to-left override
    "sep\u2028arator.bias",            # Unicode line separator
    "zero\u200bwidth.bias",            # zero-width space (a format character)
    "plain.weight",
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    tensors = {n: rng.standard_normal((2, 3)).astype(np.float32) for n in NAMES}
    save_file(tensors, str(OUT / "control_names.safetensors"),
              metadata={"format": "pt", "note\x1b[5m": "blink\x1b[5m\x07"})
    torch.save({n: torch.from_numpy(v) for n, v in tensors.items()}, str(OUT / "control_names.pth"))

    # A pickle naming a global whose module and name hold control sequences: refused, and the
    # error that names it must be escaped.
    w = ZipWriter()
    pkl = b"\x80\x02" + glob("os\x1b[31m", "system\x1b]0;pwned\x07") + tup([uni("true")]) + b"R."
    w.add(ZipMember("archive/data.pkl", pkl))
    w.add(ZipMember("archive/byteorder", b"little"))
    w.add(ZipMember("archive/version", b"3\n"))
    (OUT / "control_global.pt").write_bytes(w.build())

    order = list(tensors)  # safetensors.numpy writes sorted; the tests compare as sets
    (OUT / "names.json").write_text(json.dumps({"names": order}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
