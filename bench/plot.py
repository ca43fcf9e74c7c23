#!/usr/bin/env python3
"""Draws how a poll cycle's time and peak memory grow with the number of sources.

    python3 bench/plot.py bench/scaling.csv docs/scaling.png     (needs matplotlib)

The CSV holds the figures bench/cycle.sh printed (see BENCHMARKS.md): one row per
sources x cycle, with wall seconds and peak RSS in MB. Both axes are logarithmic, with a dotted
line for linear growth from the smallest run, so anything steeper than linear shows.
"""
import csv
import sys
from collections import defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("bench/plot.py: matplotlib is not installed (python3 -m pip install matplotlib)")

if len(sys.argv) != 3:
    sys.exit("usage: bench/plot.py SCALING.csv OUT.png")

series = defaultdict(list)
with open(sys.argv[1], newline="") as figures:
    for row in csv.DictReader(figures):
        series[row["cycle"]].append(
            (int(row["sources"]), float(row["seconds"]), float(row["peak_rss_mb"]))
        )

figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
for cycle, points in series.items():
    points.sort()
    sources = [p[0] for p in points]
    time_axis.plot(sources, [p[1] for p in points], marker="o", label=cycle)
    memory_axis.plot(sources, [p[2] for p in points], marker="o", label=cycle)
    smallest, seconds = points[0][0], points[0][1]
    time_axis.plot(
        sources, [seconds * n / smallest for n in sources], ":", color="grey", linewidth=0.8
    )
for axis, title, unit in [
    (time_axis, "Poll cycle time (dotted: linear growth)", "seconds"),
    (memory_axis, "Peak memory", "peak RSS, MB"),
]:
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("sources (50 entries each)")
    axis.set_ylabel(unit)
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
memory_axis.axhline(300, color="red", linestyle="--", linewidth=0.8)
memory_axis.text(110, 320, "300 MB target", color="red", fontsize=8)
figure.suptitle("tributary once, 2 cores, loopback nginx origin")
figure.tight_layout()
figure.savefig(sys.argv[2], dpi=110)
