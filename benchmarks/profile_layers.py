"""Where a wsbench server's time goes, by layer, from a py-spy profile of it.

    pip install py-spy
    py-spy record --pid PID --rate 250 --format raw --threads -o profile.txt   # while loaded
    python benchmarks/profile_layers.py profile.txt

Reads py-spy's raw output (one collapsed stack per line, then its sample count) and charges
each sample to the layer of its innermost frame: the event loop thread's samples to websockets,
asyncio (the event loop and its sockets), wsbench, or the rest of Python's library; the store's
thread (``wsbench-mysql``) to the connector or to wsbench. Prints each layer's share of all
samples and its busiest functions.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# The innermost frame's file decides: "Frame.parse (websockets/frames.py:294)".
FRAME = re.compile(r"^(?P<function>.+) \((?P<file>[^()]*?)(?::\d+)?\)$")
LAYERS = (  # (layer, file prefix): the first match wins
    ("websockets", "websockets/"),
    ("wsbench", "wsbench/"),
    ("asyncio and selectors", "asyncio/"),
    ("asyncio and selectors", "selectors.py"),
    ("MySQL connector", "mysql/"),
)


def layer_of(stack: list[str]) -> tuple[str, str]:
    """The layer and the function of a stack's innermost frame."""
    thread = "store thread" if "wsbench-mysql" in stack[0] else "event loop thread"
    if len(stack) == 1:
        return f"{thread}: idle or in C", "-"
    match = FRAME.match(stack[-1])
    function, path = (match["function"], match["file"]) if match else (stack[-1], "")
    layer = next((name for name, prefix in LAYERS if path.startswith(prefix)), "other Python")
    return f"{thread}: {layer}", f"{function} ({path.rsplit('/', 1)[-1]})"


def read(path: Path) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Samples per layer, and per function within each layer."""
    layers: Counter[str] = Counter()
    functions: dict[str, Counter[str]] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        layer, function = layer_of(stack.split(";"))
        layers[layer] += int(count)
        functions.setdefault(layer, Counter())[function] += int(count)
    return layers, functions


def main() -> int:
    """Print the layers, the biggest first, each with its three busiest functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    args = parser.parse_args()
    layers, functions = read(args.profile)
    total = sum(layers.values())
    if not total:
        print(f"{args.profile}: no samples (is it py-spy's --format raw?)", file=sys.stderr)
        return 1
    print(f"{total:,} samples")
    for layer, count in layers.most_common():
        top = ", ".join(f"{name} {n / total:.1%}" for name, n in functions[layer].most_common(3))
        print(f"{count / total:6.1%}  {layer:<44} {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
