"""Find a shortcut without masks: cluster the model's maps, name the region each cluster reads, test it on other images.

After Lapuschkin et al. 2019's spectral relevance analysis (SpRAy), which clusters saliency maps over a data set and
shows the clusters to a person, with the step SpRAy leaves to its reader made a test with a verdict:

1. **Cluster the maps.** The model's CAM for its predicted class (the audit's CAM path, grad-cam), one map per image
   (the frames' maps averaged), average-pooled to a ``grid`` × ``grid`` map and scaled to unit mass. The images of a
   random half (the *discovery* half) are clustered per predicted class: spectral clustering (scikit-learn) on the
   maps' symmetric k-nearest-neighbour graph (SpRAy's affinity; k = ⌈ln n⌉, :func:`neighbors_for`), the number of
   clusters chosen by the largest gap among its normalized Laplacian's smallest eigenvalues (the eigengap, as SpRAy
   chooses it), at most ``max_clusters`` (:func:`cluster_maps` says why erring toward more is the safe side).
2. **Name the region.** A cluster's region is the connected set of cells, around its mean map's peak, where the
   mean map is at least half its peak (the half-maximum); where that set is too wide for the placebo below (the
   same shape fits fewer than ``placements`` times elsewhere), the level rises in steps of 0.05 until it fits, and
   the table says at which ``level``. Its *excess mass* is the share of the cluster's map mass
   in the region minus the same share in the class's other clusters (the other classes' images when the class
   has one cluster): how much more this pattern looks there than the rest of the class does.
3. **Test it, on the other half.** Each image of the *test* half joins the cluster of its predicted class whose
   mean map is nearest its own map. The region is replaced in those images (``fill``: ``local``, the median of
   the ring of pixels just outside the region, per image and frame, so no new content enters; ``blur``, a
   Gaussian blur of the image inside it; ``donor``, another test image's pixels there), and so is the same shape
   at ``placements`` (≥ 8) positions elsewhere in the image that do not touch it (one seeded draw per region).
   Per image: the drop in the model's probability for its original prediction when the region is replaced minus
   the mean drop over the placements (a mean that is a rise counts as 0: replacing the same shape elsewhere can make
   the model surer, which says nothing about the region, so the effect is never more than the region's own drop). The effect is the mean over images, its 95 % interval a bootstrap over the
   images (seeded), the verdict the project's (:func:`~shortcutlab.metrics.verdict`, a direction at the registered
   margin :data:`MARGIN`), and Holm adjusts the bootstrap p's over the model's tested regions. *The model reads
   this region* when the verdict is *holds* and it survives Holm.

A cluster is a pattern of the maps; only the counterfactual turns it into evidence. A region on the object is
reported as such where the data have masks (the model reading the object is what it should do).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as tF
from torch import nn

from .._validation import check_choice, check_int, check_number, param_error
from ..data.imageset import ImageSet
from ..metrics import ALPHA, holm, one_sided_p, verdict
from .model import Preprocess, Prepared, find_target_layer, inference_copy

__all__ = ["discover", "DiscoveryResult", "MARGIN", "FILLS", "cluster_maps", "eigengap", "neighbors_for", "region_of",
           "replace_region", "placements_for"]

# the smallest effect the discovery calls reading, registered here (not a preset) before any run
MARGIN = 0.02
MARGIN_WHY = ("2 points of the predicted class's probability, beyond what the same shape elsewhere changes: the "
              "audit's margin (2 points of accuracy), the smallest change the project calls a difference")
FILLS = ("local", "blur", "donor")
FILL_WHY = {
    "local": "the region filled with the median of the pixels just outside it (per image and frame): the local "
             "background, so that nothing new enters the image",
    "blur": "the image blurred inside the region (a Gaussian of one map cell): edges and glyphs go, brightness stays",
    "donor": "another test image's pixels in the region (a seeded draw): the region as another image has it",
}


# ------------------------------------------------------------------------------------------------ the parts
def pooled_maps(cams: torch.Tensor, grid: int) -> np.ndarray:
    """CAMs ``[N, F, H, W]`` → unit-mass maps ``[N, grid, grid]`` (frames averaged, average-pooled); a map with no
    mass becomes uniform."""
    m = cams.float().mean(1, keepdim=True)
    g = tF.adaptive_avg_pool2d(m, (grid, grid))[:, 0].clamp_min(0).double().numpy()
    s = g.sum((1, 2), keepdims=True)
    return np.where(s > 0, g / np.where(s > 0, s, 1), 1.0 / (grid * grid))


def eigengap(affinity, max_k: int) -> tuple[int, np.ndarray]:
    """The number of clusters by the eigengap of the normalized graph Laplacian of ``affinity`` (symmetric,
    ``[n, n]``): ``k`` maximizing λ_{k+1} − λ_k among its ``max_k + 1`` smallest eigenvalues (1 ≤ k ≤ max_k).
    Returns ``k`` and those eigenvalues."""
    from scipy.sparse import csgraph

    a = affinity.toarray() if hasattr(affinity, "toarray") else np.asarray(affinity, dtype=float)
    lap = csgraph.laplacian(a, normed=True)
    ev = np.sort(np.linalg.eigvalsh(lap))[:max_k + 1]
    if ev.size < 2:
        return 1, ev
    return int(np.argmax(np.diff(ev)) + 1), ev


def neighbors_for(n: int) -> int:
    """The k-nearest-neighbour graph's k for ``n`` maps: ⌈ln n⌉, at least 3, the order at which such a graph stays
    connected (von Luxburg 2007, "A tutorial on spectral clustering", section 8.1)."""
    return max(3, int(np.ceil(np.log(max(n, 2)))))


def cluster_maps(features: np.ndarray, *, max_clusters: int = 6, neighbors: int | None = None, seed: int = 0,
                 min_images: int = 10) -> tuple[np.ndarray, dict]:
    """Spectral clustering of ``features`` ``[n, d]`` (scikit-learn, on the symmetric k-nearest-neighbour
    connectivity graph, ``neighbors`` each, default :func:`neighbors_for`), its number of clusters by
    :func:`eigengap`. Fewer than ``min_images`` rows form one cluster. Returns the labels and ``{'k', 'neighbors',
    'components', 'eigenvalues'}``.

    On such a sparse graph the eigengap errs toward more clusters than there are patterns (a group's own graph has
    small eigenvalues of its own), rarely toward fewer. For discovery that is the safe side: a pattern split in two
    gives two regions at the same place, each tested (a little power lost to Holm), while two patterns merged give
    one region for both, tested on images half of which show the other: a shortcut diluted away."""
    import warnings

    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import SpectralClustering
    from sklearn.neighbors import kneighbors_graph

    n = features.shape[0]
    nb = neighbors_for(n) if neighbors is None else int(neighbors)
    if n < max(min_images, 3):
        return np.zeros(n, dtype=np.int64), {"k": 1, "neighbors": nb, "components": 1, "eigenvalues": []}
    graph = kneighbors_graph(features, n_neighbors=min(nb, n - 1), mode="connectivity", include_self=False)
    affinity = 0.5 * (graph + graph.T)
    parts = int(connected_components(affinity, directed=False)[0])
    k, ev = eigengap(affinity, min(max_clusters, n - 1))
    out = {"k": k, "neighbors": nb, "components": parts, "eigenvalues": ev.tolist()}
    if k == 1:
        return np.zeros(n, dtype=np.int64), out
    with warnings.catch_warnings():  # a graph of several components is expected here (counted in 'components')
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        labels = SpectralClustering(n_clusters=k, affinity="precomputed", assign_labels="cluster_qr",
                                    random_state=seed).fit_predict(affinity.toarray())
    return labels.astype(np.int64), out


def region_of(mean_map: np.ndarray, level: float = 0.5) -> np.ndarray:
    """The cells of ``mean_map`` ``[g, g]`` at or above ``level`` × its peak, connected (4-neighbour) to the peak."""
    from scipy import ndimage

    peak = np.unravel_index(int(np.argmax(mean_map)), mean_map.shape)
    lab, _ = ndimage.label(mean_map >= level * mean_map[peak])
    return lab == lab[peak]


def _cells_to_pixels(cells: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """A region of grid cells as a bool mask at the images' size (each pixel takes the cell it falls in, as the
    average pool that made the cells gathered them)."""
    g = cells.shape[0]
    h, w = size
    rows = (np.arange(h) * g) // h
    cols = (np.arange(w) * g) // w
    return torch.from_numpy(cells[rows][:, cols].copy())


def placements_for(cells: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` shifts (in cells) of the region ``cells`` that keep it inside the grid and off itself and its
    neighbouring cells, drawn without replacement; fewer when fewer exist."""
    from scipy import ndimage

    g = cells.shape[0]
    ys, xs = np.nonzero(cells)
    near = ndimage.binary_dilation(cells)
    ok = []
    for dy in range(-int(ys.min()), g - int(ys.max())):
        for dx in range(-int(xs.min()), g - int(xs.max())):
            if not near[ys + dy, xs + dx].any():
                ok.append((dy, dx))
    if len(ok) <= count:
        return ok
    pick = rng.choice(len(ok), size=count, replace=False)
    return [ok[int(i)] for i in sorted(pick)]


def replace_region(x: torch.Tensor, region: torch.Tensor, fill: str, *, donors: torch.Tensor | None = None,
                   cell: int = 1) -> torch.Tensor:
    """The images ``x`` ``[N, F, H, W]`` with ``region`` (bool ``[H, W]``) replaced by ``fill`` (:data:`FILLS`):
    ``local``, each image's and frame's median of the ring of pixels within ``cell`` pixels outside the region;
    ``blur``, a Gaussian blur (σ = ``cell`` / 2) of the image inside the region; ``donor``, the same pixels of
    ``donors`` (images of ``x``'s shape)."""
    check_choice(fill, FILLS, name="fill", where="replace_region")
    r = region.to(x.device)
    if fill == "donor":
        if donors is None or donors.shape != x.shape:
            raise param_error("donors", "replace_region", f"images of shape {tuple(x.shape)}",
                              None if donors is None else tuple(donors.shape))
        return torch.where(r, donors, x)
    if fill == "blur":
        from torchvision.transforms.functional import gaussian_blur

        sigma = max(cell / 2, 0.5)
        k = int(2 * round(3 * sigma) + 1)
        n, f, h, w = x.shape
        b = gaussian_blur(x.reshape(n * f, 1, h, w), [k, k], [sigma, sigma]).reshape(x.shape)
        return torch.where(r, b, x)
    k = 2 * max(int(cell), 1) + 1
    grown = tF.max_pool2d(r[None, None].float(), k, stride=1, padding=k // 2)[0, 0].bool()
    ring = grown & ~r
    if not bool(ring.any()):  # the region is the whole image: nothing outside it to fill from
        ring = ~r if bool((~r).any()) else r
    med = x[..., ring].median(-1).values  # [N, F]
    return torch.where(r, med[..., None, None].expand_as(x), x)


# ------------------------------------------------------------------------------------------------ the result
@dataclass
class DiscoveryResult:
    """What :func:`discover` found. ``summary`` is the one-paragraph answer; ``clusters`` one row per cluster
    (class, size, class shares, its region's area and excess mass, the test's effect, CI, verdict, Holm p and a
    one-line reading); ``info`` what ran; ``arrays`` the maps, the split, each image's cluster, the regions and the
    exemplars."""

    name: str
    summary: str
    clusters: Any
    info: dict
    arrays: dict = field(default_factory=dict, repr=False)
    data: ImageSet | None = field(default=None, repr=False)

    @property
    def reading_regions(self) -> list[int]:
        """The clusters whose region the model reads (verdict *holds*, surviving Holm)."""
        return [int(i) for i in self.clusters.index[self.clusters["reads"].astype(bool)]]

    def region_mask(self, cluster: int) -> np.ndarray:
        """Cluster ``cluster``'s region as a bool mask at the images' size."""
        if isinstance(cluster, bool) or not isinstance(cluster, (int, np.integer)) or \
                int(cluster) not in self.arrays["regions"]:
            raise param_error("cluster", "DiscoveryResult.region_mask",
                              f"a cluster among {sorted(self.arrays['regions'])}", cluster)
        return self.arrays["regions"][int(cluster)]["pixels"].numpy()

    def record(self) -> dict:
        cols = ["class", "size", "n_test", "area", "excess_mass", "effect", "lo", "hi", "verdict", "p", "p_holm",
                "reads", "reading"]
        return {"summary": self.summary, "regions_read": self.reading_regions,
                "clusters": {int(i): {c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in cols}
                             for i, row in self.clusters.iterrows()}}

    def _repr_html_(self) -> str:
        import html

        show = self.clusters[["class", "size", "n_test", "area", "excess_mass", "effect", "lo", "hi", "verdict",
                              "p_holm", "reading"]]
        return f"<p><b>{html.escape(self.name)}</b>: {html.escape(self.summary)}</p>" + show.to_html(float_format="%.3f")


def _reading(row: Mapping[str, Any], m: int, margin: float) -> str:
    if row["verdict"] == "not tested":
        return f"not tested: {row['why']}"
    eff = (f"{100 * row['effect']:+.1f} points [{100 * row['lo']:.1f}, {100 * row['hi']:.1f}] on {row['n_test']} "
           f"images (the drop in the prediction's probability with the region replaced, beyond the same shape "
           f"replaced elsewhere)")
    v = row["verdict"]
    if v == "holds" and row["p_holm"] < ALPHA:
        return f"the model reads this region: {eff}"
    if v == "holds":
        return f"not after Holm over {m} regions (p {row['p_holm']:.3f}): {eff}"
    if v == "holds, below Δ":
        return f"a small effect, below the margin of {100 * margin:g} points: {eff}"
    if v == "not replicated":
        return f"the model does not read this region beyond ± {100 * margin:g} points: {eff}"
    if v == "contradicted":
        return f"replacing it raises the probability more than elsewhere: {eff}"
    return f"not decided on {row['n_test']} images: {eff}"


def _boot(values: np.ndarray, n_boot: int, ci: float, seed: int) -> tuple[float, float, float, float]:
    """Mean and percentile bootstrap interval of ``values`` (:func:`~shortcutlab.metrics.summarize`'s replicates: the
    same generator, the same draws), and the one-sided p of the mean > 0 (a t test over the images,
    :func:`~shortcutlab.metrics.one_sided_p`, as the claims' p), which Holm adjusts: a bootstrap p could not go
    below 1 / (n_boot + 1), so that many regions could never pass Holm."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float(v.mean()) if v.size else float("nan"), float("nan"), float("nan"), float("nan")
    means = v[np.random.default_rng(seed).integers(0, v.size, (n_boot, v.size))].mean(1)
    a = (1 - ci) / 2
    p = one_sided_p(float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)), v.size - 1, "greater")
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)), p


@torch.inference_mode()
def _probs(model: nn.Module, x: torch.Tensor, batch_size: int) -> np.ndarray:
    out = [torch.softmax(model(x[i:i + batch_size]).float(), 1).cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).numpy()


# ------------------------------------------------------------------------------------------------ the front door
def discover(model: nn.Module, data: ImageSet, *, preprocess: Preprocess | Mapping[str, Any] | None = None,
             target_layer: str = "", method: str = "gradcam", grid: int = 16, max_clusters: int = 6,
             neighbors: int | None = None, min_cluster: int = 5, fill: str = "local", placements: int = 8,
             margin: float = MARGIN, n_boot: int = 1000, ci: float = 0.95, seed: int = 0, batch_size: int = 256,
             exemplars: int = 6, name: str = "model", reading: list[str] | None = None) -> DiscoveryResult:
    """Find the regions ``model`` reads on ``data``, without masks (see the module docstring).

    Parameters
    ----------
    model : nn.Module
        Any classifier (:func:`~shortcutlab.auditing.load_model`, timm, torchvision, the study's); ``preprocess`` as
        :func:`~shortcutlab.auditing.audit` takes it (a ``test_input`` other than ``full`` needs the data's masks).
    data : ImageSet
        Images, labelled or not (the labels only give each cluster's class shares); masks, where present, only say
        whether a region lies on the object.
    grid : int
        Cells per side of the pooled maps the clusters and regions are drawn on (at most the image size).
    max_clusters : int
        The most clusters per predicted class the eigengap may choose.
    neighbors : int, optional
        Neighbours per map in the clustering graph (default: ⌈ln n⌉ of the class's maps, at least 3).
    min_cluster : int
        A cluster with fewer discovery images, or a region with fewer test images, is shown and not tested.
    fill : {'local', 'blur', 'donor'}
        What replaces a region (:data:`FILL_WHY`).
    placements : int
        Positions of the same shape elsewhere per region, the placebo (at least 8).
    margin : float
        The smallest effect called reading (default: the registered :data:`MARGIN`; another value is stated).
    """
    import pandas as pd

    t0 = time.perf_counter()
    where = "discover"
    if not isinstance(data, ImageSet):
        raise param_error("data", where, "an ImageSet (sl.load_folder, sl.load_manifest, a study's split)",
                          type(data).__name__)
    check_choice(fill, FILLS, name="fill", where=where)
    check_int(placements, name="placements", where=where, lo=8, hi=1000)
    check_int(max_clusters, name="max_clusters", where=where, lo=1, hi=50)
    if neighbors is not None:
        check_int(neighbors, name="neighbors", where=where, lo=2, hi=1000)
    check_int(min_cluster, name="min_cluster", where=where, lo=2)
    check_int(batch_size, name="batch_size", where=where, lo=1)
    check_int(exemplars, name="exemplars", where=where, lo=1, hi=64)
    check_int(n_boot, name="n_boot", where=where, lo=10)
    check_number(margin, name="margin", where=where, lo=0, hi=1, lo_open=True)
    check_number(ci, name="ci", where=where, lo=0, hi=1, lo_open=True, hi_open=True)
    if len(data) < 4:
        raise param_error("data", where, "at least 4 images (half find the regions, half test them; a region is "
                          "tested on min_cluster images or more)", f"{len(data)} images")
    x = data.float_images()
    h, w = x.shape[-2:]
    check_int(grid, name="grid", where=where, lo=2, hi=min(h, w))
    pre = Preprocess.from_spec(preprocess)
    masks = data.masks.bool() if data.masks is not None and bool(data.has_mask.all()) else None
    if pre.test_input != "full" and masks is None:
        raise param_error("preprocess['test_input']", where, "'full' for images without masks (a test-time "
                          "condition such as 'seg' keeps each image's mask region)", pre.test_input)
    prepared = model if isinstance(model, Prepared) else Prepared(model, pre, frames=x.shape[1])
    prepared.eval()
    from ..interventions.background import apply_test_condition
    from .battery import _probe

    def model_input(xi: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        if prepared.preprocess.test_input == "full":
            return xi
        return apply_test_condition(prepared.preprocess.test_input, xi, masks[torch.as_tensor(idx)], 0.0)

    all_idx = np.arange(len(data))
    _probe(prepared, model_input(x[:2], all_idx[:2]), data)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    fast = inference_copy(prepared, model_input(x[:8], all_idx[:8]))
    probs = _probs(fast, model_input(x, all_idx), batch_size)
    pred = probs.argmax(1)
    timings["predict_s"] = time.perf_counter() - t

    t = time.perf_counter()
    from ..saliency.cams import compute_cams

    layer, reshape, layer_name = find_target_layer(prepared, target_layer)
    cams = compute_cams(prepared, model_input(x, all_idx), targets=pred, method=method, layer=layer, batch_size=64,
                        reshape_transform=reshape)
    maps = pooled_maps(cams, grid)
    feats = maps.reshape(len(data), -1) * grid * grid  # a uniform map is all ones
    timings["cams_s"] = time.perf_counter() - t

    # the split: regions are found on one half and tested on the other
    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(data))
    find_half = np.zeros(len(data), bool)
    find_half[perm[:len(data) // 2]] = True
    assign = np.full(len(data), -1, dtype=np.int64)
    y = data.labels.numpy().astype(np.int64) if data.labels is not None else np.full(len(data), -1)
    clusters: list[dict] = []
    eig: dict[str, Any] = {}
    for c in range(data.num_classes):
        members = np.flatnonzero(find_half & (pred == c))
        if members.size == 0:
            continue
        lab, info = cluster_maps(feats[members], max_clusters=max_clusters, neighbors=neighbors, seed=seed)
        eig[data.class_names[c]] = info
        first = len(clusters)
        for j in range(int(lab.max()) + 1):
            mem = members[lab == j]
            if mem.size == 0:
                continue
            clusters.append({"id": len(clusters), "class_index": c, "members": mem,
                             "mean": maps[mem].mean(0), "centroid": feats[mem].mean(0)})
        ids = list(range(first, len(clusters)))
        # the test half: each image to the nearest cluster of its predicted class
        test = np.flatnonzero(~find_half & (pred == c))
        if test.size:
            cent = np.stack([clusters[i]["centroid"] for i in ids])
            d = ((feats[test][:, None, :] - cent[None]) ** 2).sum(-1)
            assign[test] = np.asarray(ids)[d.argmin(1)]
        for i in ids:
            assign[clusters[i]["members"]] = i
    timings["cluster_s"] = time.perf_counter() - t

    # regions, excess mass, and the counterfactual on the test half
    t = time.perf_counter()
    rows, regions = [], {}
    cell = max(h // grid, 1)
    for cl in clusters:
        i, c = cl["id"], cl["class_index"]
        level, cells = 0.5, region_of(cl["mean"])
        shifts = placements_for(cells, placements, np.random.default_rng([seed, i]))
        while len(shifts) < placements and level < 0.95:  # too wide for the placebo: narrowed to its peak
            level = round(level + 0.05, 2)
            cells = region_of(cl["mean"], level)
            shifts = placements_for(cells, placements, np.random.default_rng([seed, i]))
        pix = _cells_to_pixels(cells, (h, w))
        same = [o for o in clusters if o["class_index"] == c and o["id"] != i]
        mass_in = float(maps[cl["members"]][:, cells].sum(1).mean())
        if same:
            others = np.concatenate([o["members"] for o in same])
            against = "the class's other clusters"
        else:
            others = np.flatnonzero(find_half & (pred != c))
            against = "the other classes' images" if others.size else "nothing (one class predicted)"
        mass_other = float(maps[others][:, cells].sum(1).mean()) if others.size else float("nan")
        shares = {data.class_names[k]: float((y[cl["members"]] == k).mean()) for k in range(data.num_classes)} \
            if (y >= 0).all() else {}
        ex = cl["members"][np.argsort(((feats[cl["members"]] - cl["centroid"]) ** 2).sum(1), kind="stable")[:exemplars]]
        test = np.flatnonzero((assign == i) & ~find_half)
        row = {"cluster": i, "class": data.class_names[c], "size": int(cl["members"].size), "n_test": int(test.size),
               "shares": shares, "area": float(cells.mean()), "mass": mass_in, "mass_other": mass_other,
               "excess_mass": mass_in - mass_other if mass_other == mass_other else float("nan"), "against": against,
               "effect": float("nan"), "lo": float("nan"), "hi": float("nan"), "p": float("nan"),
               "verdict": "not tested", "why": "", "placements": 0}
        row["level"] = level
        if masks is not None:  # the region's share on the object, per image (any frame's mask), averaged
            on = masks[torch.as_tensor(test if test.size else cl["members"])].any(1)
            row["on_object"] = float(((on & pix).flatten(1).sum(1).float() / max(int(pix.sum()), 1)).mean())
        if cl["members"].size < min_cluster:
            row["why"] = f"{cl['members'].size} discovery images, fewer than min_cluster ({min_cluster})"
        elif test.size < min_cluster:
            row["why"] = f"{test.size} test images, fewer than min_cluster ({min_cluster})"
        elif len(shifts) < placements:
            row["why"] = (f"the region covers {100 * cells.mean():.0f} % of the image: {len(shifts)} placements of its "
                          f"shape elsewhere, fewer than {placements}")
        else:
            xt = x[torch.as_tensor(test)]
            donors = None
            if fill == "donor":
                pool = np.flatnonzero(~find_half & (pred != c))
                pool = pool if pool.size else np.flatnonzero(~find_half)
                donors = x[torch.as_tensor(np.random.default_rng([seed, i, 1]).choice(pool, test.size))]
            variants = [replace_region(xt, pix, fill, donors=donors, cell=cell)]
            for dy, dx in shifts:
                sp = _cells_to_pixels(np.roll(np.roll(cells, dy, 0), dx, 1), (h, w))
                variants.append(replace_region(xt, sp, fill, donors=donors, cell=cell))
            pr = _probs(fast, model_input(torch.cat(variants), np.tile(test, len(variants))), batch_size)
            pr = pr.reshape(len(variants), test.size, -1)
            pc = pred[test]
            p_pred = pr[:, np.arange(test.size), pc]  # [1 + placements, n]
            p0 = probs[test, pc]
            drop_region, drop_else = p0 - p_pred[0], (p0[None] - p_pred[1:]).mean(0)
            values = drop_region - np.maximum(drop_else, 0.0)  # a placebo that raises it counts as no change
            eff, lo, hi, p = _boot(values, n_boot, ci, seed)
            row.update(effect=eff, lo=lo, hi=hi, p=p, verdict=verdict(lo, hi, test="greater", delta=margin),
                       drop_region=float(drop_region.mean()), drop_elsewhere=float(drop_else.mean()),
                       placements=len(shifts))
            regions[i] = {"values": values}  # per test image, for a reader who wants more than the interval
        regions.setdefault(i, {}).update(cells=cells, pixels=pix, shifts=shifts, exemplars=ex, mean=cl["mean"],
                                         test=test, members=cl["members"])
        rows.append(row)
    tested = [r for r in rows if r["verdict"] != "not tested"]
    adj = holm([r["p"] for r in tested]) if tested else []
    for r, pa in zip(tested, adj):
        r["p_holm"] = float(pa)
    for r in rows:
        r.setdefault("p_holm", float("nan"))
        r["reads"] = bool(r["verdict"] == "holds" and r["p_holm"] < ALPHA)
        r["reading"] = _reading(r, len(tested), margin)
    timings["test_s"] = time.perf_counter() - t
    table = pd.DataFrame(rows).set_index("cluster", drop=False) if rows else pd.DataFrame(
        columns=["cluster", "class", "size", "n_test", "area", "excess_mass", "effect", "lo", "hi", "verdict", "p",
                 "p_holm", "reads", "reading"])
    summary = _summary(table, len(tested), margin, fill)
    timings["total_s"] = time.perf_counter() - t0
    dev = next((p.device for p in prepared.parameters()), torch.device("cpu"))
    from .entry import input_steps

    pipeline = list(reading) if reading else input_steps(data)
    chans = prepared.preprocess.channels
    if chans is not None and x.shape[1] == 1 and chans != 1:
        pipeline.append(f"each image's {x.shape[1]} channel repeated into the model's {chans}")
    pipeline += [f"the model's preprocessing: {prepared.preprocess.describe()}", f"run on {dev.type}, batches of "
                 f"{batch_size}"]
    info = {"model": name, "data": data.name, "n_images": len(data), "classes": list(data.class_names),
            "frames": int(x.shape[1]), "size": [int(h), int(w)], "pipeline": pipeline, "target_layer": layer_name,
            "method": method, "grid": grid, "max_clusters": max_clusters, "neighbors": neighbors,
            "min_cluster": min_cluster, "fill": fill, "fill_why": FILL_WHY[fill], "placements": placements,
            "margin": margin, "margin_registered": margin == MARGIN, "margin_why": MARGIN_WHY if margin == MARGIN
            else f"set by the user ({margin}); the registered margin is {MARGIN}", "n_boot": n_boot, "ci": ci,
            "seed": seed, "n_find": int(find_half.sum()), "n_test": int((~find_half).sum()), "eigengap": eig,
            "has_masks": masks is not None, "device": dev.type, "regions_tested": len(tested),
            "forward_images": int(len(data) + sum(r["n_test"] * (1 + r["placements"]) for r in tested)),
            **timings}
    arrays = {"maps": maps, "pred": pred, "probs": probs, "labels": y, "find_half": find_half, "cluster": assign,
              "regions": regions}
    return DiscoveryResult(name=name, summary=summary, clusters=table, info=info, arrays=arrays, data=data)


def _summary(table, m: int, margin: float, fill: str) -> str:
    if not len(table):
        return "No cluster was formed: no image of the discovery half was predicted."
    read = table[table["reads"].astype(bool)]
    head = (f"{len(table)} cluster(s) of the maps over {table['class'].nunique()} predicted class(es); {m} region(s) "
            f"tested on the other half of the images (each region replaced by its {fill} fill, against the same "
            f"shape elsewhere), Holm over them.")
    if len(read):
        parts = [f"cluster {int(r.cluster)} ({r['class']}, {100 * r.area:.0f} % of the image, +{100 * r.effect:.1f} "
                 f"points [{100 * r.lo:.1f}, {100 * r.hi:.1f}])" for _, r in read.iterrows()]
        return head + f" The model reads {len(read)} region(s): " + "; ".join(parts) + "."
    if m == 0:
        return head + " No region could be tested (see each cluster's reason)."
    return head + f" No region is read at the margin of {100 * margin:g} points."
