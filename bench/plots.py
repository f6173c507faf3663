"""The bench's PNGs (matplotlib, Agg backend: no display on CI machines). Small on purpose: they
are committed, so a low dpi keeps each well under 200 KB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_DPI = 80
_STYLE = {
    "gradgold": ("o-", "C0"),
    "gradcheck": ("s--", "C1"),
    "gradcheck_fast": ("^--", "C2"),
    "gradgradcheck": ("s:", "C3"),
    "gradgradcheck_fast": ("^:", "C4"),
}


def plot_cost(res: dict[str, Any], path: Path) -> None:
    """Median seconds per check vs input size, log-log, one panel per function."""
    names = list(dict.fromkeys(r["workload"] for r in res["cost"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), sharey=True)
    for ax, name in zip(axes, names, strict=True):
        rows = [r for r in res["cost"] if r["workload"] == name]
        for method, (fmt, color) in _STYLE.items():
            pts = [(r["size"], r["timings"][method]["median_s"]) for r in rows if r["timings"][method]]
            if pts:
                ax.plot(*zip(*pts, strict=True), fmt, color=color, label=method, markersize=4)
        ax.set(xscale="log", yscale="log", title=name, xlabel="input elements")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("seconds per check (median)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def plot_floors(res: dict[str, Any], path: Path) -> None:
    """Detection floor (smallest relative error caught, every entry scaled) per method and
    subject; lower is better, a missing marker means nothing in the sweep was caught or n/a."""
    rows = [r for r in res["sensitivity"]["rows"] if "scaled" in r]
    subjects = list(dict.fromkeys(r["subject"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / max(len(subjects), 1)
    for k, subject in enumerate(subjects):
        xs, ys = [], []
        for i, m in enumerate(methods):
            hit = [r for r in rows if r["subject"] == subject and r["method"] == m]
            if hit and hit[0]["scaled"]["floor"]:
                xs.append(i + k * width)
                ys.append(hit[0]["scaled"]["floor"])
        ax.plot(xs, ys, "o", label=subject)
    ax.set_yscale("log")
    ax.set_ylim(1e-15, 1)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(methods))])
    ax.set_xticklabels([m.replace("gradgold_", "gg ") for m in methods], fontsize=8)
    ax.set_ylabel("smallest relative error caught")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
