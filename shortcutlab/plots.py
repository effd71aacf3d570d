"""Teaching figures for the phantoms (notebook 00) and small plot helpers."""
from __future__ import annotations

import numpy as np

from .phantoms import make_cmr, make_echo

__all__ = ["cue_gallery", "ed_es_figure", "echo_sites_figure", "plot_calibration"]


def cue_gallery(size: int = 96, seed: int = 0):
    """One patient per row with the spurious cue off / on for each kind, and the systemic sign (AMYL)."""
    import matplotlib.pyplot as plt

    kinds = ["none", "marker", "habitus", "artifact"]
    fig, axes = plt.subplots(2, len(kinds) + 1, figsize=(2.0 * (len(kinds) + 1), 4.3))
    for row, label in enumerate((0, 3)):  # NICM, HCM
        for j, kind in enumerate(kinds):
            s = make_cmr("cm", 4, size, spurious=kind, strength=1.0, seed=seed, labels=[label] * 4)
            ax = axes[row, j]
            ax.imshow(s.images[0, 0], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{s.class_names[label]} · cue: {kind}", fontsize=7)
            ax.axis("off")
    for row, systemic in enumerate((False, True)):
        s = make_cmr("cm", 4, size, spurious="none", systemic=systemic, seed=seed, labels=[2] * 4)
        i = int(np.argmax(s.meta["effusion"].numpy())) if systemic else 0
        ax = axes[row, -1]
        ax.imshow(s.images[i, 0], cmap="gray", vmin=0, vmax=255)
        ax.contour(s.masks[i, 0].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.6)
        ax.set_title(f"AMYL · systemic {'on' if systemic else 'off'}", fontsize=7)
        ax.axis("off")
    fig.suptitle("Spurious cues (agree with the class: strength 1) and the legitimate systemic sign", fontsize=9)
    fig.tight_layout()
    return fig


def ed_es_figure(size: int = 96, seed: int = 0):
    """ED and ES of one patient per class with the heart mask: ejection and wall thickening."""
    import matplotlib.pyplot as plt

    s = make_cmr("cm", 8, size, spurious="none", seed=seed)
    fig, axes = plt.subplots(2, s.num_classes, figsize=(2.0 * s.num_classes, 4.2))
    for c in range(s.num_classes):
        i = int(np.flatnonzero(s.labels.numpy() == c)[0])
        for f in range(2):
            ax = axes[f, c]
            ax.imshow(s.images[i, f], cmap="gray", vmin=0, vmax=255)
            ax.contour(s.masks[i, f].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.6)
            ax.set_title(f"{s.class_names[c]} · {s.frame_names[f]} · EF {float(s.meta['ef'][i]):.2f}", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def echo_sites_figure(size: int = 112, seed: int = 0, overlay_strength: float = 1.0):
    """Echo phantom: the four views at the i.d. site (overlays agree with the view) and at o.o.d. sites."""
    import matplotlib.pyplot as plt

    a = make_echo("id", 8, size, overlay_strength=overlay_strength, seed=seed)
    b = make_echo("ood", 8, size, seed=seed)
    fig, axes = plt.subplots(2, 4, figsize=(8, 4.3))
    for row, s in enumerate((a, b)):
        for c in range(4):
            i = int(np.flatnonzero(s.labels.numpy() == c)[0])
            ax = axes[row, c]
            ax.imshow(s.images[i, 0], cmap="gray", vmin=0, vmax=255)
            ax.contour(s.masks[i, 0].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.5)
            ax.set_title(f"{'i.d.' if row == 0 else 'o.o.d. site ' + str(int(s.meta['site'][i]))} · {s.class_names[c]}",
                         fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_calibration(df, title: str = "Linear probe on pixels (macro AUC)"):
    """Probe AUC of heart-only / background-only / full images against the cue strength."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for col, style in zip(("seg", "bg", "full"), ("-o", "-s", "-^")):
        ax.plot(df.index, df[col], style, label={"seg": "heart only", "bg": "background only", "full": "full image"}[col])
    ax.axhline(0.5, ls=":", color="grey", lw=1)
    ax.set_xlabel("spurious-cue strength")
    ax.set_ylabel("macro AUC")
    ax.set_ylim(0.4, 1.0)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
