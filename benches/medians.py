#!/usr/bin/env python3
"""Prints the median of every `ours` / `interledger-packet` pair of the codec benches, and the
ratio (interledger-packet / ours: above 1 means ours is faster), from criterion's
`estimates.json` files.

Usage: python3 benches/medians.py [CRITERION_DIR]   (default: $CARGO_TARGET_DIR/criterion,
else target/criterion)
"""

import json
import os
import sys

OURS = "ours"
# Ours again, encoding into a buffer the caller reuses (encode groups only).
OURS_VARIANTS = [OURS, "ours-into-buffer"]
THEIRS = "interledger-packet"


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def median(path):
    with open(os.path.join(path, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]


def main():
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    root = sys.argv[1] if len(sys.argv) > 1 else default
    print("| case | ours (median) | interledger-packet (median) | ratio |")
    print("|---|---:|---:|---:|")
    for group in sorted(os.listdir(root)):
        theirs_dir = os.path.join(root, group, THEIRS)
        for variant in OURS_VARIANTS:
            ours_dir = os.path.join(root, group, variant)
            if not (os.path.isdir(ours_dir) and os.path.isdir(theirs_dir)):
                continue
            if os.path.isfile(os.path.join(ours_dir, "new", "estimates.json")):
                params = [None]
            else:
                params = sorted(os.listdir(ours_dir), key=lambda p: (len(p), p))
                params = [p for p in params if p != "report"]
            for param in params:
                o = median(os.path.join(ours_dir, param) if param else ours_dir)
                t = median(os.path.join(theirs_dir, param) if param else theirs_dir)
                name = f"{group}/{param}" if param else group
                if variant != OURS:
                    name += f" ({variant})"
                print(f"| {name} | {fmt(o)} | {fmt(t)} | {t / o:.1f}x |")


if __name__ == "__main__":
    main()
