"""Checks that Tools/reference/anyir.py and promptir.py produce exactly the upstream state_dict
keys, shapes and order of the published configs (Tests/Fixtures/keys, copies of
shared/architectures/*keys*) and the published parameter counts.

Builds the published configs on the meta device (no memory, no weights).
Usage: python Tools/check_anyir_reference_keys.py   (exit 1 on any difference)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
KEYS = os.path.join(HERE, "..", "Tests", "Fixtures", "keys")

import anyir  # noqa: E402
import promptir  # noqa: E402

CASES = [
    ("AnyIR-T", lambda: anyir.AnyIR(**anyir.TINY), "anyir_T_state_dict_keys.txt", 825, 5_736_376),
    ("AnyIR-S", lambda: anyir.AnyIR(**anyir.SMALL), "anyir_S_state_dict_keys.txt", 979, 8_513_436),
    ("PromptIR", lambda: promptir.PromptIR(**promptir.PUBLISHED), "promptir_state_dict_keys.txt", 548, 35_592_263),
]


def read_key_list(name):
    rows = []
    with open(os.path.join(KEYS, name)) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, shape = line.rstrip("\n").split("\t")[:2]
            rows.append((key, [int(d) for d in shape.strip("[]").split(",") if d.strip()]))
    return rows


def check(label, net, key_file, keys, params):
    got = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    want = read_key_list(key_file)
    problems = []
    if [k for k, _ in got] != [k for k, _ in want]:
        gk, wk = [k for k, _ in got], [k for k, _ in want]
        first = next((i for i, (a, b) in enumerate(zip(gk, wk)) if a != b), min(len(gk), len(wk)))
        problems.append(f"key order/set differs at index {first}: "
                        f"missing {sorted(set(wk) - set(gk))[:5]} extra {sorted(set(gk) - set(wk))[:5]}")
    bad = [(k, s, dict(want)[k]) for k, s in got if k in dict(want) and s != dict(want)[k]]
    if bad:
        problems.append(f"{len(bad)} shapes differ, e.g. {bad[:3]}")
    n = promptir.parameter_count(net)
    if len(got) != keys:
        problems.append(f"{len(got)} keys, want {keys}")
    if n != params:
        problems.append(f"{n:,} parameters, want {params:,}")
    print(f"{label}: {'OK' if not problems else 'FAILED'} ({len(got)} keys, {n:,} parameters)")
    for p in problems:
        print("  " + p)
    return not problems


def main():
    ok = True
    with torch.device("meta"):
        for label, make, key_file, keys, params in CASES:
            ok &= check(label, make(), key_file, keys, params)
    print("ALL OK" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
