"""Classification and saliency-overlap metrics with exact definitions.

Classification
--------------
* :func:`auc` — one-vs-rest ROC AUC, ``average='micro'`` (the MRI paper's headline: labels binarized and all
  class scores pooled; the Mann–Whitney statistic, equal to scikit-learn's ``roc_auc_score``, which a test checks)
  or ``'macro'`` (mean of per-class AUCs; what the MRI seed code computes, there with an analytic SE; scikit-learn's
  ``roc_auc_score`` does the arithmetic).
* :func:`bootstrap_ci` — 95 % CI by resampling test samples with a fixed seed; a resample that lacks a class
  (AUC undefined) is redrawn and counted, never a crash or a silent NaN.
* :func:`auc_weighted` — the micro AUC under many sample weightings at once (every bootstrap resample in one pass).
* :func:`classification_metrics` — accuracy, macro precision / recall / F1, confusion matrix (BackMix).
* :func:`paired_bootstrap` — difference of a metric between two conditions on the same test set.

Saliency overlap (per image; ``x`` map in [0, 1], ``y`` binary mask)
--------------------------------------------------------------------
* AKS = Σ(x·y) / Σx (MRI paper eq. 2) · DSC = 2Σ(x·y) / (Σx + Σy) (soft Dice, as the MRI code computes it)
* %E = Σ_mask z / Σ z · %F = |{z > 0.5} ∩ mask| / |{z > 0.5}| (BackMix §2.4)
* A map that is all zero (or has no pixel above 0.5, for %F) gives NaN for that image; summaries count NaNs.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ._validation import ShortcutlabError, check_int, check_number

__all__ = ["auc", "auc_weighted", "bootstrap_ci", "classification_metrics", "paired_bootstrap", "check_probabilities",
           "aks", "dsc", "energy_pct", "focus_pct", "overlap_metrics", "summarize", "mean_ci_across",
           "correlation_ci", "hierarchical_bootstrap", "seed_t_interval", "seed_welch_interval", "welch_interval",
           "t_bounds", "one_sided_p", "holm", "ALPHA", "TESTS", "VERDICTS", "SUPPORTS", "verdict", "claim_p",
           "planning_seeds", "overlap_bounds", "normalized_overlap"]


def _np(a) -> np.ndarray:
    if torch.is_tensor(a):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def check_probabilities(y, p, *, where: str = "auc", num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels ``y [N]`` and probabilities ``p [N, K]`` (rows sum to 1, values in [0, 1])."""
    y, p = _np(y).astype(np.int64).ravel(), _np(p).astype(np.float64)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ShortcutlabError(f"The 'probs' parameter of {where} must have shape [N, K] with N = {y.shape[0]} "
                               f"labels. Got shape {p.shape} instead.")
    k = p.shape[1] if num_classes is None else num_classes
    if p.shape[1] != k:
        raise ShortcutlabError(f"The 'probs' parameter of {where} must have {k} columns (classes). Got {p.shape[1]}.")
    if y.size == 0:
        raise ShortcutlabError(f"The 'labels' parameter of {where} is empty: an empty split has no metric.")
    sums = p.sum(1)
    if not np.allclose(sums, 1.0, atol=1e-3) or (p < -1e-6).any() or (p > 1 + 1e-6).any():
        i = int(np.argmax(np.abs(sums - 1)))
        raise ShortcutlabError(f"The 'probs' parameter of {where} must hold probabilities (rows in [0, 1] summing "
                               f"to 1; apply softmax to logits). Got row {i} summing to {sums[i]:.4f} instead.")
    if y.min() < 0 or y.max() >= k:
        raise ShortcutlabError(f"The 'labels' parameter of {where} must hold values in [0, {k - 1}]. "
                               f"Got range [{y.min()}, {y.max()}] instead.")
    return y, p


def _mann_whitney(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve of ``scores`` for the binary labels ``positive``, as the Mann–Whitney
    statistic: (sum of the positives' mid-ranks - P (P + 1) / 2) / (P N), ties counted half. It is what
    ``roc_auc_score`` computes (tested against it), in a fraction of the time: the claims' bootstraps call it
    hundreds of thousands of times."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc(y, p, average: str = "micro") -> float:
    """One-vs-rest ROC AUC: ``micro`` (MRI paper) or ``macro``. Needs every class present in ``y``."""
    from sklearn.metrics import roc_auc_score

    if average not in ("micro", "macro"):
        raise ShortcutlabError(f"The 'average' parameter of auc must be one of 'micro', 'macro'. Got {average!r} instead.")
    y, p = check_probabilities(y, p, where="auc")
    k = p.shape[1]
    present = np.unique(y)
    if present.size < 2 or (average == "macro" and present.size < k):
        raise ShortcutlabError(f"The test labels of auc must contain {'every class' if average == 'macro' else 'at least two classes'} "
                               f"(K = {k}). Got classes {present.tolist()} only: AUC is undefined.")
    onehot = np.eye(k)[y]
    if average == "micro":
        return _mann_whitney(onehot.ravel().astype(bool), p.ravel())
    if k == 2:  # binary: the mean of the two one-vs-rest AUCs (each equals the AUC of column 1 when rows sum to 1)
        return float((roc_auc_score(y == 0, p[:, 0]) + roc_auc_score(y == 1, p[:, 1])) / 2)
    return float(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(k)))


def bootstrap_ci(y, p, fn: Callable[[np.ndarray, np.ndarray], float], *, n_boot: int = 1000, ci: float = 0.95,
                 seed: int = 0, require_all_classes: bool = True, max_redraws: int | None = None,
                 batch_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None) -> dict:
    """Point estimate and percentile bootstrap CI of ``fn(y, p)`` over test samples.

    A resample lacking a class of the test set is redrawn (``require_all_classes``) and counted in
    ``n_redrawn``; if more than ``max_redraws`` (default ``10 * n_boot``) are needed, the CI is built from the
    valid ones and ``n_boot_valid`` says how many. A class absent from the test set itself cannot be in any
    resample: it is counted in ``classes_absent`` with a warning, and the metric is bootstrapped over the
    classes present. If the metric is undefined on the test set (e.g. macro AUC with a class absent), the
    estimate and CI are NaN and ``reason`` says why; nothing crashes and nothing is NaN without a reason.

    ``batch_fn(y, p, counts)``, when given, computes ``fn`` on every resample at once from ``counts [B, N]`` (how
    often each test sample was drawn), e.g. :func:`auc_weighted` for the micro AUC; the resamples are the same.
    """
    import warnings

    check_int(n_boot, name="n_boot", where="bootstrap_ci", lo=1)
    check_number(ci, name="ci", where="bootstrap_ci", lo=0, hi=1, lo_open=True, hi_open=True)
    y, p = _np(y), _np(p)
    n = len(y)
    k = p.shape[1] if p.ndim == 2 else int(y.max()) + 1
    present = np.unique(y).size
    out = {"ci": ci, "classes_absent": int(k - present), "n_redrawn": 0, "n_boot_valid": 0}
    if present < k:
        warnings.warn(f"bootstrap_ci: {k - present} of {k} classes are absent from the test set ({n} samples); "
                      f"the metric and its CI use the {present} classes present.", stacklevel=2)
    try:
        est = float(fn(y, p))
    except ShortcutlabError as e:
        nan = float("nan")
        warnings.warn(f"bootstrap_ci: the metric is undefined on this test set ({n} samples, {present} of {k} "
                      f"classes present), so its estimate and CI are NaN: {e}", stacklevel=2)
        return {**out, "estimate": nan, "lo": nan, "hi": nan, "reason": str(e)}
    draws, redrawn = _resamples(y, n_boot, seed=seed, present=present if require_all_classes else 0,
                                max_redraws=10 * n_boot if max_redraws is None else max_redraws)
    if batch_fn is not None and draws:
        counts = np.stack([np.bincount(idx, minlength=n) for idx in draws])
        stats = np.asarray(batch_fn(y, p, counts), dtype=float)
    else:
        stats = np.asarray([fn(y[idx], p[idx]) for idx in draws], dtype=float)
    a = (1 - ci) / 2
    lo, hi = (np.quantile(stats, [a, 1 - a]) if stats.size else (np.nan, np.nan))
    res = {**out, "estimate": est, "lo": float(lo), "hi": float(hi), "n_boot_valid": int(stats.size),
           "n_redrawn": int(redrawn)}
    if not stats.size:
        res["reason"] = f"no valid resample in {redrawn} draws (each lacked a class of the test set)"
        warnings.warn(f"bootstrap_ci: the CI is NaN: {res['reason']}.", stacklevel=2)
    return res



def _resamples(y: np.ndarray, n_boot: int, *, seed: int, present: int, max_redraws: int) -> tuple[list, int]:
    """The bootstrap's index draws: ``rng.integers(0, N, N)`` per replicate from ``default_rng(seed)``; a draw with
    fewer than ``present`` classes is redrawn and counted, up to ``max_redraws``."""
    rng = np.random.default_rng(seed)
    n, draws, redrawn = len(y), [], 0
    while len(draws) < n_boot and redrawn <= max_redraws:
        idx = rng.integers(0, n, n)
        if present and np.unique(y[idx]).size < present:
            redrawn += 1
            continue
        draws.append(idx)
    return draws, redrawn


def auc_weighted(y, p, weights, *, chunk: int = 128) -> np.ndarray:
    """Micro one-vs-rest ROC AUC of ``(y, p)`` under each row of sample ``weights [B, N]``, all rows at once.

    With integer weights (bootstrap counts) it equals :func:`auc` ``(y[idx], p[idx], 'micro')`` of the resample:
    the labels are binarized and every class score pooled, each pooled score carries its sample's weight, and

        AUC = Σ_pos Σ_neg w_pos · w_neg · (1[s_pos > s_neg] + ½ · 1[s_pos = s_neg]) / (W_pos · W_neg)

    (Mann–Whitney with ties counted half, which is the area under the ROC curve). The scores are sorted once; each
    row costs one pass over them. A row whose resample has no positive or no negative score gives NaN.
    """
    y, p = check_probabilities(y, p, where="auc_weighted")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[1] != y.size or (w < 0).any() or not np.isfinite(w).all():
        raise ShortcutlabError(f"The 'weights' parameter of auc_weighted must be finite non-negative weights [B, N] "
                               f"with N = {y.size} samples. Got shape {w.shape} instead.")
    k = p.shape[1]
    s = p.ravel()                                   # pooled scores: entry i * K + c is sample i, class c
    order = np.argsort(s, kind="mergesort")
    s_sorted, sample = s[order], order // k
    positive = (np.arange(k)[None, :] == y[:, None]).ravel()[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])   # groups of tied scores
    out = np.empty(w.shape[0])
    for b in range(0, w.shape[0], chunk):
        ws = w[b:b + chunk][:, sample]
        pos = np.add.reduceat(np.where(positive, ws, 0.0), starts, axis=1)
        neg = np.add.reduceat(np.where(positive, 0.0, ws), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg        # negative weight strictly below each group
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b:b + chunk] = (pos * (below + 0.5 * neg)).sum(1) / (pos.sum(1) * neg.sum(1))
    return out


def classification_metrics(y, p) -> dict:
    """Accuracy, macro precision / recall / F1, confusion matrix (rows: true, columns: predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    y, p = check_probabilities(y, p, where="classification_metrics")
    k = p.shape[1]
    pred = p.argmax(1)
    prec, rec, f1, _ = precision_recall_fscore_support(y, pred, labels=np.arange(k), average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, pred)), "precision": float(prec), "recall": float(rec),
            "f1": float(f1), "confusion": confusion_matrix(y, pred, labels=np.arange(k)).tolist()}


def paired_bootstrap(y, p_a, p_b, fn: Callable = None, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Bootstrap of ``fn(y, p_a) - fn(y, p_b)`` with shared resamples (two models, one test set).

    ``p_better`` is the fraction of valid resamples where A beats B.
    """
    fn = fn or (lambda yy, pp: auc(yy, pp, "micro"))
    y, p_a, p_b = _np(y), _np(p_a), _np(p_b)
    if p_a.ndim != 2 or y.ndim != 1 or p_a.shape[0] != y.shape[0]:
        raise ShortcutlabError(f"The 'p_a' and 'p_b' parameters of paired_bootstrap must be probabilities [N, K] for "
                               f"the N labels in 'y' [N]. Got y {y.shape} and p_a {p_a.shape} instead.")
    if p_a.shape != p_b.shape:
        raise ShortcutlabError(f"The 'p_a' and 'p_b' parameters of paired_bootstrap must have one shape. "
                               f"Got {p_a.shape} and {p_b.shape} instead.")
    k = p_a.shape[1]
    present = np.unique(y).size  # as bootstrap_ci: resamples need the classes of the test set
    nan = float("nan")
    out = {"classes_absent": int(k - present), "n_boot_valid": 0, "n_redrawn": 0}
    try:
        diff = float(fn(y, p_a) - fn(y, p_b))
    except ShortcutlabError as e:
        return {**out, "difference": nan, "lo": nan, "hi": nan, "p_better": nan, "reason": str(e)}
    rng = np.random.default_rng(seed)
    diffs, redrawn = [], 0
    while len(diffs) < n_boot and redrawn <= 10 * n_boot:
        idx = rng.integers(0, len(y), len(y))
        if np.unique(y[idx]).size < present:
            redrawn += 1
            continue
        diffs.append(fn(y[idx], p_a[idx]) - fn(y[idx], p_b[idx]))
    diffs = np.asarray(diffs)
    a = (1 - ci) / 2
    if not diffs.size:
        return {**out, "difference": diff, "lo": nan, "hi": nan, "p_better": nan, "n_redrawn": int(redrawn),
                "reason": f"no valid resample in {redrawn} draws"}
    return {**out, "difference": diff, "lo": float(np.quantile(diffs, a)),
            "hi": float(np.quantile(diffs, 1 - a)), "p_better": float((diffs > 0).mean()),
            "n_boot_valid": int(diffs.size), "n_redrawn": int(redrawn)}


# ------------------------------------------------------------------------------------------- overlap
def _maps(x, y, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(x).float()
    y = torch.as_tensor(y)
    if x.shape != y.shape:
        raise ShortcutlabError(f"The map and mask of {where} must have one shape. Got map {tuple(x.shape)} and "
                               f"mask {tuple(y.shape)} instead.")
    if y.dtype != torch.bool:
        u = torch.unique(y)
        if not bool(((u == 0) | (u == 1)).all()):
            raise ShortcutlabError(f"The mask of {where} must be binary. Got values {u[:6].tolist()} instead.")
        y = y.bool()
    if x.numel() and (float(x.min()) < -1e-6 or float(x.max()) > 1 + 1e-3 or bool(torch.isnan(x).any())):
        raise ShortcutlabError(f"The map of {where} must hold values in [0, 1] (normalized CAM). Got range "
                               f"[{float(x.min()):.3g}, {float(x.max()):.3g}] instead.")
    return x, y


def _per_image(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1e-12), torch.full_like(num, float("nan")))


def aks(x, y) -> torch.Tensor:
    """Anatomic Knowledge Score per image: Σ(x·y) / Σx over the last two dims (NaN if Σx = 0)."""
    x, y = _maps(x, y, "aks")
    return _per_image((x * y).sum((-2, -1)), x.sum((-2, -1)))


def dsc(x, y) -> torch.Tensor:
    """Soft Dice per image: 2Σ(x·y) / (Σx + Σy) (NaN if both are empty)."""
    x, y = _maps(x, y, "dsc")
    return _per_image(2 * (x * y).sum((-2, -1)), x.sum((-2, -1)) + y.float().sum((-2, -1)))


def energy_pct(x, y) -> torch.Tensor:
    """%E per image: share of CAM energy inside the mask, Σ_mask z / Σ z (BackMix; NaN if Σ z = 0)."""
    x, y = _maps(x, y, "energy_pct")
    return _per_image((x * y).sum((-2, -1)), x.sum((-2, -1)))


def focus_pct(x, y, threshold: float = 0.5) -> torch.Tensor:
    """%F per image: |{z > t} ∩ mask| / |{z > t}| (BackMix; NaN if no pixel exceeds t)."""
    x, y = _maps(x, y, "focus_pct")
    hot = x > threshold
    return _per_image((hot & y).float().sum((-2, -1)), hot.float().sum((-2, -1)))


def overlap_metrics(maps, masks) -> dict[str, torch.Tensor]:
    """All four per-image metrics for maps and masks of shape [..., H, W]."""
    return {"aks": aks(maps, masks), "dsc": dsc(maps, masks), "pct_e": energy_pct(maps, masks),
            "pct_f": focus_pct(maps, masks)}


def summarize(values, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0, groups=None,
              group_names: Sequence[str] | None = None) -> dict:
    """Mean ± bootstrap CI of per-image values, NaNs excluded and counted (``n_nan``); optionally per group."""
    v = _np(values).astype(float).ravel()
    ok = ~np.isnan(v)
    out = {"mean": float(np.mean(v[ok])) if ok.any() else float("nan"), "n": int(ok.sum()), "n_nan": int((~ok).sum()),
           "sd": float(np.std(v[ok], ddof=1)) if ok.sum() > 1 else float("nan")}
    if ok.sum() > 1:
        rng = np.random.default_rng(seed)
        vv = v[ok]
        means = vv[rng.integers(0, vv.size, (n_boot, vv.size))].mean(1)
        a = (1 - ci) / 2
        out["lo"], out["hi"] = float(np.quantile(means, a)), float(np.quantile(means, 1 - a))
    else:
        out["lo"] = out["hi"] = float("nan")
    if groups is not None:
        g = _np(groups).ravel()
        out["by_group"] = {}
        for gi in np.unique(g):
            name = group_names[int(gi)] if group_names is not None else str(gi)
            out["by_group"][name] = summarize(v[g == gi], n_boot=n_boot, ci=ci, seed=seed)
    return out


def mean_ci_across(values: Sequence[float], ci: float = 0.95) -> dict:
    """Mean and t-interval across seeds (few values)."""
    from scipy import stats

    v = np.asarray([x for x in values if x == x], dtype=float)
    if v.size == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    if v.size == 1:
        return {"mean": float(v[0]), "lo": float("nan"), "hi": float("nan"), "n": 1}
    h = stats.t.ppf(0.5 + ci / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return {"mean": float(v.mean()), "lo": float(v.mean() - h), "hi": float(v.mean() + h), "n": int(v.size)}


def correlation_ci(a: Sequence[float], b: Sequence[float], ci: float = 0.95) -> dict:
    """Pearson r with a Fisher-z CI and Spearman rho, across models (MRI paper Figure 2).

    Pairs with a NaN are left out (``n`` counts the rest). The Fisher-z standard error is ``1 / sqrt(n - 3)``,
    so there is no CI for ``n <= 3``: ``lo`` and ``hi`` are NaN and ``reason`` says why (``r`` is still given
    for n = 3); for ``n < 3`` nothing is defined.
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ShortcutlabError(f"The 'a' and 'b' parameters of correlation_ci must be 1-D sequences of the same "
                               f"length. Got shapes {a.shape} and {b.shape} instead.")
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = a.size
    nan = float("nan")
    if n < 3:
        return {"r": nan, "lo": nan, "hi": nan, "n": n, "rho": nan, "method": "fisher-z",
                "reason": f"needs at least 3 pairs (got {n})"}
    r = float(np.corrcoef(a, b)[0, 1])
    if n == 3:
        return {"r": r, "lo": nan, "hi": nan, "n": 3, "rho": float(stats.spearmanr(a, b).statistic),
                "method": "fisher-z", "reason": "no Fisher-z CI for n <= 3 (its standard error 1/sqrt(n - 3))"}
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    se = 1 / np.sqrt(n - 3)
    q = stats.norm.ppf(0.5 + ci / 2)
    return {"r": r, "lo": float(np.tanh(z - q * se)), "hi": float(np.tanh(z + q * se)), "n": int(n),
            "rho": float(stats.spearmanr(a, b).statistic), "method": "fisher-z"}



# ------------------------------------------------------------------------------------------ claims over seeds
def hierarchical_bootstrap(effect: Callable[[dict], float], units: Sequence[dict], *, n_boot: int = 1000,
                           ci: float = 0.95, seed: int = 0) -> dict:
    """The mean over seeds of a paired effect, with a CI that accounts for both the seeds and the test sample.

    ``units[s]`` is seed ``s``'s data: ``{set_name: tuple of arrays}``, the arrays of one set sharing their first
    axis (its images). Conditions are compared *paired*: their predictions on the same images sit in the same
    tuple, so one resample index serves all of them. ``effect(unit)`` maps a unit (or a resample of it) to a
    number, e.g. ``AUC(rand) - AUC(full)`` on the decorrelated set.

    A replicate draws S seeds with replacement and, inside each drawn seed, every set's images with replacement,
    then averages the effect over the drawn seeds. The draws, for replaying: ``rng = np.random.default_rng(seed)``;
    per replicate ``rng.integers(0, S, S)``, then for each drawn seed in order and each set name in sorted order
    ``rng.integers(0, n_set, n_set)``. A replicate whose effect is NaN (e.g. a class missing from an AUC resample)
    is drawn again and counted in ``n_redrawn``. The estimate is the mean of the per-seed effects on the full sets.
    """
    n_boot = check_int(n_boot, name="n_boot", where="hierarchical_bootstrap", lo=10)
    ci = check_number(ci, name="ci", where="hierarchical_bootstrap", lo=0, hi=1, lo_open=True, hi_open=True)
    sizes = _check_units(units, "hierarchical_bootstrap")
    per_seed = np.array([float(effect(u)) for u in units])
    rng = np.random.default_rng(seed)
    reps, redrawn, attempts = [], 0, 0
    n_units = len(units)
    while len(reps) < n_boot and attempts < 10 * n_boot:
        attempts += 1
        vals = []
        for s in rng.integers(0, n_units, n_units):
            u = units[int(s)]
            res = {}
            for name in sorted(u):
                idx = rng.integers(0, sizes[int(s)][name], sizes[int(s)][name])
                res[name] = tuple(np.asarray(a)[idx] for a in u[name])
            vals.append(float(effect(res)))
        v = float(np.mean(vals))
        if v != v:
            redrawn += 1
            continue
        reps.append(v)
    a = (1 - ci) / 2
    lo, hi = (float(np.quantile(reps, a)), float(np.quantile(reps, 1 - a))) if reps else (float("nan"),) * 2
    return {"estimate": float(np.mean(per_seed)), "lo": lo, "hi": hi, "per_seed": per_seed.tolist(),
            "n_seeds": n_units, "n_boot": len(reps), "n_redrawn": redrawn, "method": "hierarchical bootstrap"}


def _check_units(units: Sequence[dict], where: str) -> list[dict[str, int]]:
    """Each seed's ``{set_name: n_images}``, after checking ``units`` (see :func:`hierarchical_bootstrap`)."""
    if isinstance(units, dict) or not isinstance(units, Sequence) or not units:
        raise ShortcutlabError(f"The 'units' parameter of {where} must be a non-empty list with one "
                               f"dict of test sets per seed. Got {type(units).__name__} instead.")
    sizes = []
    for s, u in enumerate(units):
        if not isinstance(u, dict) or not u:
            raise ShortcutlabError(f"The 'units' parameter of {where} must hold a dict of test sets "
                                   f"per seed. Got {type(u).__name__} for seed {s} instead.")
        n = {}
        for name, arrays in u.items():
            lens = {len(a) for a in arrays}
            if len(lens) != 1:
                raise ShortcutlabError(f"The arrays of set {name!r} of seed {s} in {where} must share "
                                       f"their first axis (the images). Got lengths {sorted(lens)} instead.")
            n[name] = lens.pop()
        sizes.append(n)
    return sizes


def seed_t_interval(effect: Callable[[dict], float], units: Sequence[dict], *, n_boot: int = 1000,
                    ci: float = 0.95, seed: int = 0) -> dict:
    """The mean over seeds of a paired effect, with a t-interval over the seeds widened by the test sample's
    variance: the claims' CI at two or more seeds.

    ``units`` and ``effect`` are those of :func:`hierarchical_bootstrap`. With per-seed effects ``e_s`` on the
    full test sets (S seeds), the estimate is their mean and the interval

        mean ± t_{S-1, (1+ci)/2} · sqrt( var(e_s) / S + v_test )

    where ``var`` has ddof = 1 and ``v_test`` is the variance (ddof = 1) of the seed-mean effect over ``n_boot``
    resamples of the test images. The seeds' models are scored on the same test images, so one resample index
    per set serves every seed (when the seeds' sets differ in size, each seed draws its own). The draws, for
    replaying: ``rng = np.random.default_rng(seed)``; per replicate, for each set name in sorted order
    ``rng.integers(0, n_set, n_set)`` (shared), or per seed in order and then per set name (not shared). A
    replicate whose effect is NaN is drawn again and counted in ``n_redrawn``.

    Why not the percentile bootstrap over seeds: with three seeds it can only draw 10 distinct seed multisets,
    and its interval is about the range of the three per-seed values, which covers the mean far less often than
    95 %. The t quantile with S - 1 degrees of freedom is the small-sample answer; with one seed there is no
    seed variance to estimate and :func:`hierarchical_bootstrap` (the test sample only) is used instead.
    """
    from scipy import stats

    n_boot = check_int(n_boot, name="n_boot", where="seed_t_interval", lo=10)
    ci = check_number(ci, name="ci", where="seed_t_interval", lo=0, hi=1, lo_open=True, hi_open=True)
    sizes = _check_units(units, "seed_t_interval")
    if len(units) == 1:
        return hierarchical_bootstrap(effect, units, n_boot=n_boot, ci=ci, seed=seed)
    per_seed = np.array([float(effect(u)) for u in units])
    shared = all(sz == sizes[0] for sz in sizes)
    rng = np.random.default_rng(seed)
    reps, redrawn, attempts = [], 0, 0
    while len(reps) < n_boot and attempts < 10 * n_boot:
        attempts += 1
        if shared:
            idx = {name: rng.integers(0, n, n) for name, n in sorted(sizes[0].items())}
            draws = [idx] * len(units)
        else:
            draws = [{name: rng.integers(0, n, n) for name, n in sorted(sz.items())} for sz in sizes]
        vals = [float(effect({name: tuple(np.asarray(a)[d[name]] for a in arrays) for name, arrays in u.items()}))
                for u, d in zip(units, draws)]
        v = float(np.mean(vals))
        if v != v:
            redrawn += 1
            continue
        reps.append(v)
    mean, S = float(np.mean(per_seed)), len(units)
    nan = float("nan")
    if per_seed.size and np.isnan(per_seed).any() or len(reps) < 2:
        lo = hi = nan
        se_seeds = se_test = nan
    else:
        se_seeds = float(per_seed.std(ddof=1) / np.sqrt(S))
        se_test = float(np.std(reps, ddof=1))
        h = float(stats.t.ppf(0.5 + ci / 2, S - 1)) * float(np.hypot(se_seeds, se_test))
        lo, hi = mean - h, mean + h
    return {"estimate": mean, "lo": lo, "hi": hi, "per_seed": per_seed.tolist(), "n_seeds": S, "n_boot": len(reps),
            "n_redrawn": redrawn, "se_seeds": se_seeds, "se_test": se_test, "shared_test_draws": shared,
            "method": f"t over {S} seeds + test bootstrap"}


def welch_interval(per_seed: Sequence[float], reps=None, *, ci: float = 0.95) -> dict:
    """The claims' interval from its two ingredients: the per-seed effects on the full test sets and, when the
    seeds share their test images, a bootstrap of those images drawn once for every seed.

    With S seeds, ``per_seed`` = e_1 … e_S and ``reps`` a ``[B, S]`` array (replicate b of seed s's effect on the
    b-th resample, the same resample for every seed), the estimate is mean(e) and

        se² = var(e) / S + c,      c = mean over s ≠ s' of cov(reps[:, s], reps[:, s'])

    ``var`` with ddof = 1. Why these two parts: an effect is e_s = µ + a_s + b + c_s, a seed's own deviation
    a_s, the shared test sample's b (the same images for every seed) and their interaction c_s. The spread of the
    e_s holds a_s and c_s but not b, which every seed shares; the bootstrap's variance of one seed holds b and c_s
    (so adding it double-counts c_s), and its covariance between two seeds holds b alone. c is clipped at 0.
    The half-width is t_ν · se with Welch–Satterthwaite's degrees of freedom

        ν = se⁴ / ( (var(e)/S)² / (S - 1) + c² / (B - 1) )

    so a test-sample part estimated from hundreds of replicates is not held to S - 1 degrees of freedom. Without
    ``reps`` (the seeds saw different images, so each e_s already holds its own test sample), se² = var(e)/S and
    ν = S - 1. With one seed the bootstrap variance of that seed is the whole se² (ν = B - 1).

    Returns ``estimate``, ``lo``, ``hi``, ``se``, ``df``, ``se_seeds`` (√(var(e)/S)), ``se_test`` (√c) and
    ``n_seeds``."""
    from scipy import stats

    ci = check_number(ci, name="ci", where="welch_interval", lo=0, hi=1, lo_open=True, hi_open=True)
    e = np.asarray(per_seed, dtype=float)
    S = e.size
    nan = float("nan")
    out = {"estimate": float(e.mean()) if S else nan, "n_seeds": int(S), "lo": nan, "hi": nan, "se": nan,
           "df": nan, "se_seeds": nan, "se_test": nan}
    if S == 0 or np.isnan(e).any():
        return out
    r = None if reps is None else np.asarray(reps, dtype=float).reshape(len(reps), -1)
    if r is not None and (r.shape[1] != S or r.shape[0] < 2):
        raise ShortcutlabError(f"The 'reps' parameter of welch_interval must be a [B >= 2, {S}] array (one column "
                               f"per seed). Got shape {r.shape} instead.")
    if S == 1:
        if r is None:
            return out
        v = float(r[:, 0].var(ddof=1))
        a, c, df = 0.0, v, float(r.shape[0] - 1)
    else:
        a = float(e.var(ddof=1) / S)
        if r is None:
            c, df = 0.0, float(S - 1)
        else:
            cov = np.cov(r, rowvar=False, ddof=1)
            c = max(0.0, float((cov.sum() - np.trace(cov)) / (S * (S - 1))))
            den = a * a / (S - 1) + c * c / (r.shape[0] - 1)
            df = float((a + c) ** 2 / den) if den > 0 else float("inf")
    se = float(np.sqrt(a + c))
    h = float(stats.t.ppf(0.5 + ci / 2, df)) * se if se > 0 else 0.0
    out.update(lo=out["estimate"] - h, hi=out["estimate"] + h, se=se, df=df, se_seeds=float(np.sqrt(a)),
               se_test=float(np.sqrt(c)))
    return out


def _fingerprints_shared(units: Sequence[dict], sizes: list[dict[str, int]]) -> bool:
    """Whether every seed scored the same test images: their units' ``fingerprint`` strings agree (a unit without
    one is taken as its own images, never as shared)."""
    fps = [u.get("fingerprint") for u in units]
    return all(isinstance(f, str) and f for f in fps) and len(set(fps)) == 1 and all(s == sizes[0] for s in sizes)


def _sets(u: dict) -> dict:
    return {k: v for k, v in u.items() if k != "fingerprint"}


def seed_welch_interval(effect: Callable[[dict], float], units: Sequence[dict], *, n_boot: int = 1000,
                        ci: float = 0.95, seed: int = 0) -> dict:
    """The claims' CI (the default, ``metrics.claim_ci: welch``): :func:`welch_interval` of the per-seed effects and
    a bootstrap of the shared test images.

    ``units`` and ``effect`` are those of :func:`hierarchical_bootstrap`; each unit may carry a ``fingerprint``
    (a string naming its test images, e.g. a hash of them). The seeds share their test images only when every
    unit has the same fingerprint: then one resample index per set serves every seed and the replicates'
    cross-seed covariance is the shared test-sample variance. Otherwise no bootstrap is drawn for S ≥ 2 (each
    seed's effect already holds its own test sample). The draws, for replaying: ``rng =
    np.random.default_rng(seed)``; per replicate, for each set name in sorted order ``rng.integers(0, n, n)``.
    A replicate whose effect is NaN for any seed is drawn again and counted in ``n_redrawn``."""
    n_boot = check_int(n_boot, name="n_boot", where="seed_welch_interval", lo=10)
    ci = check_number(ci, name="ci", where="seed_welch_interval", lo=0, hi=1, lo_open=True, hi_open=True)
    sets = [_sets(u) for u in units] if isinstance(units, Sequence) and not isinstance(units, (str, dict)) else units
    sizes = _check_units(sets, "seed_welch_interval")
    shared = _fingerprints_shared(units, sizes) or len(units) == 1
    per_seed = np.array([float(effect(u)) for u in sets])
    reps, redrawn, attempts = [], 0, 0
    if shared:
        rng = np.random.default_rng(seed)
        while len(reps) < n_boot and attempts < 10 * n_boot:
            attempts += 1
            idx = {name: rng.integers(0, n, n) for name, n in sorted(sizes[0].items())}
            vals = [float(effect({name: tuple(np.asarray(a)[idx[name]] for a in arrays)
                                  for name, arrays in u.items()})) for u in sets]
            if any(v != v for v in vals):
                redrawn += 1
                continue
            reps.append(vals)
    r = welch_interval(per_seed, np.array(reps) if len(reps) >= 2 else None, ci=ci)
    r.update(per_seed=per_seed.tolist(), n_boot=len(reps), n_redrawn=redrawn, shared_test_draws=bool(shared),
             method=f"Welch t over {len(units)} seed{'s' if len(units) != 1 else ''}"
                    + (" + shared test bootstrap" if shared and len(reps) >= 2 else ""))
    return r


def t_bounds(estimate: float, se: float, df: float, ci: float) -> tuple[float, float]:
    """``estimate ± t_{df, (1+ci)/2} · se`` (NaN when se is NaN): an interval of another level from a claim's se."""
    from scipy import stats

    if not (se == se and df == df):
        return float("nan"), float("nan")
    h = float(stats.t.ppf(0.5 + ci / 2, df)) * se
    return estimate - h, estimate + h


def one_sided_p(estimate: float, se: float, df: float, direction: str = "greater", margin: float = 0.0) -> float:
    """p of the one-sided t test of ``effect > -margin`` (``greater``) or ``effect < margin`` (``less``):
    ``1 - T_df((±estimate + margin) / se)``; with se = 0 (no variation at all) its limit, 0 when the distance
    ±estimate + margin is positive and 1 otherwise. NaN when se or df is NaN."""
    from scipy import stats

    if not (se == se and df == df and estimate == estimate):
        return float("nan")
    dist = (estimate if direction == "greater" else -estimate) + margin
    if se <= 0:
        return 0.0 if dist > 0 else 1.0
    z = dist / se
    return float(stats.t.sf(z, df))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and is not counted):
    p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j)) in increasing order of p."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


ALPHA = 0.025  # every test of the project: one-sided, at this level (a 95 % two-sided interval)
TESTS = ("greater", "less", "noninferior", "nonsuperior", "equivalent")
DIRECTION_OUTCOMES = ("holds", "holds, below Δ", "contradicted", "not replicated", "inconclusive")
VERDICTS = DIRECTION_OUTCOMES + ("non-inferior", "inferior", "not superior", "superior", "equivalent",
                                 "not equivalent")
SUPPORTS = ("holds", "holds, below Δ", "non-inferior", "not superior", "equivalent")  # the paper's statement


def verdict(lo: float, hi: float, *, test: str = "greater", delta: float = 0.0,
            paper_effect: float | None = None) -> str:
    """The verdict of one test from its 95 % interval ``[lo, hi]``: the one verdict function of the project (the
    claims, the lesson and the audit read it). Every bound is one-sided at level 0.025 (:data:`ALPHA`), so a
    favourable and an unfavourable verdict meet the same bar; ``delta`` (Δ) is the smallest effect of interest.

    ``test``:

    * ``greater`` / ``less`` (a direction; ``less`` is read on the effect's negative): *holds* when the interval is
      above 0, and *holds, below Δ* when it also lies below Δ (the direction is there, at less than would matter);
      *contradicted* when it is below 0; *not replicated* when it lies inside (-Δ, Δ) and holds 0 (no effect of
      the size that would matter, either way); *inconclusive* otherwise. Where the paper's own effect (in the
      claimed direction) is no larger than Δ, a small effect is what the paper found too, so the interval cannot
      read *not replicated*: it reads *inconclusive*. With Δ = 0 the outcomes are holds / contradicted /
      inconclusive.
    * ``noninferior``: *non-inferior* when ``lo > -Δ``, *inferior* when ``hi < -Δ``.
    * ``nonsuperior``: *not superior* when ``hi < Δ``, *superior* when ``lo > Δ``.
    * ``equivalent`` (two one-sided tests, each at 0.025): *equivalent* when the interval lies inside (-Δ, Δ),
      *not equivalent* when it lies wholly outside it.

    A NaN bound gives *inconclusive*; never a verdict from a point estimate."""
    from ._validation import check_choice

    check_choice(test, TESTS, name="test", where="verdict")
    delta = check_number(delta, name="delta", where="verdict", lo=0)
    if test in ("noninferior", "nonsuperior", "equivalent") and delta <= 0:
        raise ShortcutlabError(f"The 'delta' parameter of verdict must be > 0 for a {test} test (its margin). "
                               f"Got {delta!r} instead.")
    if not (lo == lo and hi == hi):
        return "inconclusive"
    if test == "noninferior":
        return "non-inferior" if lo > -delta else "inferior" if hi < -delta else "inconclusive"
    if test == "nonsuperior":
        return "not superior" if hi < delta else "superior" if lo > delta else "inconclusive"
    if test == "equivalent":
        return ("equivalent" if -delta < lo and hi < delta else
                "not equivalent" if lo >= delta or hi <= -delta else "inconclusive")
    if test == "less":
        lo, hi = -hi, -lo
        paper_effect = None if paper_effect is None else -paper_effect
    if lo > 0:
        return "holds, below Δ" if delta > 0 and hi < delta else "holds"
    if hi < 0:
        return "contradicted"
    small_paper = paper_effect is not None and paper_effect == paper_effect and paper_effect <= delta
    if delta > 0 and -delta < lo and hi < delta and not small_paper:
        return "not replicated"
    return "inconclusive"


def claim_p(estimate: float, se: float, df: float, *, test: str = "greater", delta: float = 0.0) -> float:
    """The one-sided p of the test :func:`verdict` reads as favourable (its null hypothesis): ``greater``
    effect ≤ 0, ``less`` effect ≥ 0, ``noninferior`` effect ≤ -Δ, ``nonsuperior`` effect ≥ Δ, ``equivalent`` the
    larger of the two one-sided p's against ±Δ. These are the p's Holm adjusts."""
    from ._validation import check_choice

    check_choice(test, TESTS, name="test", where="claim_p")
    if test == "greater":
        return one_sided_p(estimate, se, df, "greater")
    if test == "less":
        return one_sided_p(estimate, se, df, "less")
    if test == "noninferior":
        return one_sided_p(estimate, se, df, "greater", delta)
    if test == "nonsuperior":
        return one_sided_p(estimate, se, df, "less", delta)
    return max(one_sided_p(estimate, se, df, "greater", delta), one_sided_p(estimate, se, df, "less", delta))


def planning_seeds(se_seeds: float, se_test: float, n_seeds: int, n_test: int, *, test: str = "greater",
                   delta: float, alpha: float = ALPHA, power: float = 0.8, n_boot: int = 1000) -> dict:
    """A planning estimate: how many seeds, or how many test images, give ``power`` to decide a test at level
    ``alpha`` when the true effect is Δ (a direction) or 0 (non-inferiority, non-superiority, equivalence). Never at
    the observed effect, so never on the wrong side of it.

    With the run's variance parts scaled, se² = se_seeds² · S / S' + se_test² (S' seeds) or se_seeds² + se_test² ·
    n / n' (n' test images), and ν their Welch–Satterthwaite degrees of freedom (``n_boot`` replicates), a test
    is planned once (t_{1-α, ν} + t_{q, ν}) · se ≤ Δ, q = ``power`` for a direction or one margin and
    (1 + ``power``) / 2 for equivalence (both one-sided tests must pass). Returns ``seeds`` and ``images`` (the
    smallest S' ≥ 2 or n' > n, up to 10,000 seeds or 1,000 times the images; None when that lever alone cannot
    reach it, when Δ is 0, or when the run measured no variance to plan from)."""
    from scipy import stats
    from ._validation import check_choice

    check_choice(test, TESTS, name="test", where="planning_seeds")
    out = {"seeds": None, "images": None}
    if not (delta > 0 and se_seeds == se_seeds and se_test == se_test) or n_seeds < 1:
        return out
    vs, vt = se_seeds ** 2, se_test ** 2
    q = (1 + power) / 2 if test == "equivalent" else power

    def planned(a: float, c: float, s: int) -> bool:
        den = (a * a / (s - 1) if s > 1 else 0.0) + c * c / max(n_boot - 1, 1)
        df = (a + c) ** 2 / den if den > 0 else float("inf")
        return (float(stats.t.ppf(1 - alpha, df)) + float(stats.t.ppf(q, df))) * float(np.sqrt(a + c)) <= delta

    if vs > 0:
        for s in range(2, 10_001):
            if planned(vs * n_seeds / s, vt, s):
                out["seeds"] = s
                break
    if vt > 0 and n_test > 0:
        for k in np.unique(np.round(np.geomspace(1.05, 1000, 200) * n_test)).astype(int):
            if planned(vs, vt * n_test / k, max(n_seeds, 2)):
                out["images"] = int(k)
                break
    return out


# ------------------------------------------------------------------------------------------ overlap floor and ceiling
def overlap_bounds(masks, cam_size: int | tuple[int, int]) -> dict[str, dict[str, torch.Tensor]]:
    """What an overlap metric can read at a CAM's resolution, per image: its floor and its ceiling.

    * floor: the metric of a uniform map (all ones), which knows nothing; for AKS and %E it is the mask's area
      share, for DSC ``2|m| / (N + |m|)``, for %F the area share too (every pixel is above 0.5).
    * ceiling: the metric of the mask itself brought to the CAM's resolution (area average) and back (bilinear,
      as grad-cam resizes), scaled to [0, 1] as grad-cam scales its maps: the best map this layer can draw.

    ``masks``: bool ``[..., H, W]``; ``cam_size``: the CAM layer's (h, w). Returns ``{"floor": {...},
    "ceiling": {...}}`` with one tensor per metric (``aks``, ``dsc``, ``pct_e``, ``pct_f``).
    """
    import torch.nn.functional as tF

    m = torch.as_tensor(_np(masks)).bool()
    if m.ndim < 2:
        raise ShortcutlabError(f"The 'masks' parameter of overlap_bounds must have shape [..., H, W]. Got shape "
                               f"{tuple(m.shape)} instead.")
    h, w = m.shape[-2:]
    ch, cw = (cam_size, cam_size) if isinstance(cam_size, int) else tuple(cam_size)
    check_int(ch, name="cam_size", where="overlap_bounds", lo=1, hi=h)
    check_int(cw, name="cam_size", where="overlap_bounds", lo=1, hi=w)
    flat = m.reshape(-1, 1, h, w).float()
    low = tF.adaptive_avg_pool2d(flat, (ch, cw))
    up = tF.interpolate(low, size=(h, w), mode="bilinear", align_corners=False).reshape(m.shape)
    lo_, hi_ = up.flatten(-2).amin(-1)[..., None, None], up.flatten(-2).amax(-1)[..., None, None]
    ceiling_map = torch.where(hi_ > lo_, (up - lo_) / (hi_ - lo_).clamp_min(1e-12), up)
    return {"floor": overlap_metrics(torch.ones(m.shape), m), "ceiling": overlap_metrics(ceiling_map, m)}


def normalized_overlap(value, floor, ceiling):
    """``(value - floor) / (ceiling - floor)``: 0 for a map that knows nothing, 1 for the best this CAM layer
    can draw; NaN where the ceiling does not exceed the floor."""
    v, f, c = (torch.as_tensor(_np(a), dtype=torch.float64) for a in (value, floor, ceiling))
    return torch.where(c > f, (v - f) / (c - f), torch.full_like(v, float("nan")))
