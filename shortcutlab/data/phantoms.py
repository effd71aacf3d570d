"""Synthetic cardiac MRI and echocardiography phantoms with exact masks and a dial for the shortcut.

The real cohorts of both papers cannot ship, so the package generates them. Every image is drawn from
coordinate grids with tensor operations over the whole batch (no per-pixel or per-sample Python), seeded by
one ``torch.Generator``.

* :func:`make_cmr` — short-axis mid-ventricular cine MRI slice at end-diastole (ED) and end-systole (ES):
  torso with subcutaneous fat, lungs, liver, spine, aorta; heart = LV blood pool + LV myocardium + RV
  (their union is the mask, as in Nakashima et al. 2023). Disease changes the heart; two cohorts (``cm``,
  ``acdc``) differ in scanner (field of view, noise, contrast, bias field). A *spurious* cue in the
  background agrees with the class with probability ``strength``; a *systemic* cue (amyloid effusion) is
  real extra-cardiac signal.
* :func:`make_echo` — 112 x 112 echo frames of four views (PLAX, PSAX, A2C, A4C) inside an ultrasound
  sector (the mask) with speckle, on black with metadata overlays (Bransby et al. 2024). At the i.d. site the
  overlay style agrees with the view with probability ``overlay_strength``; o.o.d. sites draw other styles
  with no correlation.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as tF

from .._validation import ShortcutlabError, check_choice, check_int, check_number
from .imageset import ImageSet

PHANTOM_VERSION = 5  # bump whenever generated images change: it keys the on-disk cache

__all__ = ["PHANTOM_VERSION", "make_cmr", "make_echo", "COHORTS", "CUE_KINDS", "ECHO_VIEWS", "ECHO_SITES", "CMR_CLASS_PARAMS"]

COHORTS = {"cm": ("NICM", "ICM", "AMYL", "HCM"), "acdc": ("DCM", "HCM", "MINF", "NOR", "RV")}
CUE_KINDS = ("marker", "habitus", "artifact", "none")
ECHO_VIEWS = ("PLAX", "PSAX", "A2C", "A4C")
ECHO_SITES = ("id", "ood")
ECHO_BACKGROUNDS = ("site", "id_agree", "id_conflict", "vendor", "black")

# Heart parameters per class, means and standard deviations (normalized units: the torso half-width ~0.85).
# r: LV cavity radius at ED; w: LV wall thickness; ef: LV ejection fraction (area based); rv: RV size factor;
# rvef: RV ejection fraction; sept: extra septal thickness (fraction of w); inf: prob. of a thin akinetic
# segment; tex: myocardial texture amplitude; eff: prob. of effusion (systemic sign, amyloidosis).
_BASE = dict(r=0.165, w=0.05, ef=0.60, rv=1.0, rvef=0.5, sept=0.0, inf=0.0, tex=0.0, eff=0.0)
CMR_CLASS_PARAMS = {
    "NOR": dict(_BASE),
    "DCM": dict(_BASE, r=0.205, w=0.041, ef=0.36, rv=1.08),
    "NICM": dict(_BASE, r=0.200, w=0.042, ef=0.38, rv=1.06),
    "ICM": dict(_BASE, r=0.190, w=0.048, ef=0.42, inf=0.8),
    "MINF": dict(_BASE, r=0.190, w=0.048, ef=0.42, inf=0.85),
    "AMYL": dict(_BASE, r=0.150, w=0.064, ef=0.52, tex=0.35, eff=0.75),
    "HCM": dict(_BASE, r=0.140, w=0.058, ef=0.68, sept=0.6),
    "RV": dict(_BASE, r=0.160, w=0.048, ef=0.57, rv=1.45, rvef=0.3),
}
_SD = dict(r=0.022, w=0.0085, ef=0.075, rv=0.12, rvef=0.07, sept=0.25, tex=0.12)
# Scanner per cohort: field of view (zoom), noise, gamma (contrast), bias-field amplitude, blood/myo levels.
_SCANNER = {
    "cm": dict(fov=1.0, noise=0.035, gamma=1.0, bias=0.15, blood=0.90, myo=0.28),
    "acdc": dict(fov=1.18, noise=0.05, gamma=0.8, bias=0.25, blood=0.82, myo=0.32),
}


def _gen(seed: int | torch.Generator | None, where: str = "make_cmr") -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if seed is not None:
        check_int(seed, name="seed", where=where, lo=0, hi=2**63 - 1)
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _rn(g, *shape):
    return torch.randn(*shape, generator=g)


def _ru(g, *shape):
    return torch.rand(*shape, generator=g)


def _soft(d: torch.Tensor, edge: float) -> torch.Tensor:
    """Soft indicator of d < 0 with an edge width (partial volume)."""
    return d.div(-edge).sigmoid_()  # (-d) / edge == d / (-edge) exactly: one pass fewer


def _soft_(d: torch.Tensor, edge: float) -> torch.Tensor:
    """:func:`_soft` in place on ``d`` (a temporary)."""
    return d.div_(-edge).sigmoid_()


def _cue_classes(labels, k, strength, g):
    """With probability ``strength`` the cue agrees with the label, otherwise it is uniform over k classes."""
    agree = _ru(g, labels.shape[0]) < strength
    rand = torch.randint(0, k, labels.shape, generator=g)
    return torch.where(agree, labels, rand)


def _to_u8(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Intensities in [0, 1] to uint8 (round half up). In place on ``x``; written into ``out`` when given."""
    x = x.clamp_(0, 1).mul_(255.0).add_(0.5)
    return x.to(torch.uint8) if out is None else out.copy_(x)


def make_cmr(cohort: str = "cm", n: int = 200, size: int = 64, *, spurious: str = "marker",
             strength: float = 0.9, systemic: bool = True, seed: int | torch.Generator | None = 0,
             labels: Sequence[int] | torch.Tensor | None = None, cue: Sequence[int] | torch.Tensor | None = None,
             chunk: int = 32, _heart_patch: bool = True) -> ImageSet:
    """Cardiac MRI phantom: short-axis mid-ventricular slice, frames ED and ES.

    Parameters
    ----------
    cohort : {'cm', 'acdc'}
        ``cm``: NICM, ICM, AMYL, HCM (internal cohort). ``acdc``: DCM, HCM, MINF, NOR, RV (external).
    n : int
        Number of patients (one image pair each); at least the number of classes.
    size : int
        Image side in pixels.
    spurious : {'marker', 'habitus', 'artifact', 'none'}
        Kind of spurious background cue: an annotation glyph in a random corner whose shape encodes a class,
        body habitus (subcutaneous fat thickness), or a site artifact (a dotted zipper line below the body
        whose dot period encodes a class).
    strength : float in [0, 1]
        Probability that the cue agrees with the class; otherwise it is drawn uniformly. 0: no information.
    systemic : bool
        Whether amyloidosis shows a pericardial / pleural effusion (a legitimate sign outside the heart).
    seed : int or torch.Generator
    labels : sequence of int, optional
        Class of each patient; by default balanced (as ACDC) and shuffled.
    cue : sequence of int, optional
        The class each patient's spurious cue points to, instead of the draw. The draw is still made, so with the
        same ``seed`` and ``labels`` the patients, their anatomy and every noise field are the same and only the
        cue differs: a counterfactual render of the same patients (e.g. ``cue=labels``: the cue agrees).

    Returns
    -------
    ImageSet
        uint8 images ``[n, 2, size, size]``, heart masks, metadata ``cue`` (class the cue points to),
        ``cue_agrees``, ``fat``, ``ef``, ``lv_radius``, ``wall``, ``effusion``.
    """
    where = "make_cmr"
    check_choice(cohort, tuple(COHORTS), name="cohort", where=where)
    classes = COHORTS[cohort]
    k = len(classes)
    check_int(n, name="n", where=where, lo=k)
    check_int(size, name="size", where=where, lo=16, hi=1024)
    check_choice(spurious, CUE_KINDS, name="spurious", where=where)
    strength = check_number(strength, name="strength", where=where, lo=0, hi=1)
    if not isinstance(systemic, bool):
        from .._validation import param_error
        raise param_error("systemic", where, "a bool", systemic)
    check_int(chunk, name="chunk", where=where, lo=1)
    g = _gen(seed, where)
    if labels is None:
        lab = torch.arange(n) % k
        lab = lab[torch.randperm(n, generator=g)]
    else:
        lab = torch.as_tensor(labels, dtype=torch.int64)
        if lab.shape != (n,) or lab.min() < 0 or lab.max() >= k:
            raise ShortcutlabError(f"The 'labels' parameter of make_cmr must hold {n} ints in [0, {k - 1}]. "
                                   f"Got shape {tuple(lab.shape)} with range [{int(lab.min())}, {int(lab.max())}] instead.")
    cue_drawn = _cue_classes(lab, k, strength, g)  # drawn for every kind and override: the same random stream
    if cue is None:
        cue = cue_drawn
    else:
        cue = torch.as_tensor(cue, dtype=torch.int64)
        if cue.shape != (n,) or cue.min() < 0 or cue.max() >= k:
            raise ShortcutlabError(f"The 'cue' parameter of make_cmr must hold {n} ints in [0, {k - 1}]. "
                                   f"Got shape {tuple(cue.shape)} with range [{int(cue.min())}, {int(cue.max())}] "
                                   f"instead.")
    if spurious == "none":
        cue = torch.full_like(lab, -1)
    images = torch.empty(n, 2, size, size, dtype=torch.uint8)
    masks = torch.empty(n, 2, size, size, dtype=torch.bool)
    metas = []
    for s in range(0, n, chunk):
        img, masks[s:s + chunk], mt = _cmr_chunk(cohort, lab[s:s + chunk], cue[s:s + chunk], size, spurious,
                                                  systemic, g, _heart_patch)
        _to_u8(img, images[s:s + chunk])
        metas.append(mt)
    meta = {key: torch.cat([m[key] for m in metas]) for key in metas[0]}
    meta["cue"] = cue
    meta["cue_agrees"] = cue == lab
    meta["cohort"] = [cohort] * n
    return ImageSet(images=images, labels=lab, class_names=classes, masks=masks,
                    groups=torch.arange(n), meta=meta, frame_names=("ED", "ES"),
                    name=f"cmr-{cohort}")


def _noise_rng(g: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from the torch stream, for the large noise fields (its raw bytes are ~5x faster
    than ``torch.randn``; every draw still follows from the one seed)."""
    return np.random.Generator(np.random.SFC64(int(torch.randint(0, 2 ** 62, (1,), generator=g))))


def _noise(rng: np.random.Generator, *shape: int) -> torch.Tensor:
    """Zero-mean, unit-variance noise: the sum of two uniform random bytes (triangular), ~2 ns per value."""
    n = math.prod(shape)
    b = np.frombuffer(rng.bytes(2 * n), dtype=np.uint8)
    s = b[:n].astype(np.float32)
    s += b[n:]
    s -= 255.0
    s *= 1.0 / 104.51  # sd of the sum of two uniform bytes: sqrt(2 (256^2 - 1) / 12)
    return torch.from_numpy(s).view(*shape)


def _ramp(d: torch.Tensor, half: float | torch.Tensor) -> torch.Tensor:
    """Soft indicator of d < 0 (partial volume): 1 inside, 0 outside, linear over |d| < half."""
    return (d * (-0.5 / half) + 0.5).clamp_(0, 1)


def _smooth3(x: torch.Tensor) -> torch.Tensor:
    """Binomial [1, 2, 1] / 4 smoothing along H and W by shifted adds (the border keeps its own weight)."""
    for dim in (-1, -2):
        y = x * 0.5
        n = x.shape[dim]
        y.narrow(dim, 1, n - 1).add_(x.narrow(dim, 0, n - 1), alpha=0.25)
        y.narrow(dim, 0, n - 1).add_(x.narrow(dim, 1, n - 1), alpha=0.25)
        y.select(dim, 0).mul_(4 / 3)
        y.select(dim, n - 1).mul_(4 / 3)
        x = y
    return x


def _ell(xs, ys, cx, cy, ax, ay, half) -> torch.Tensor:
    """Soft indicator of an axis-aligned ellipse from separable terms: two full-size operations.

    ``xs`` [1,1,1,W] and ``ys`` [1,1,H,1] are coordinates; centre and axes broadcast as [n,1,1,1] or floats.
    With q = (dx/ax)^2 + (dy/ay)^2 = (1 + d)^2 ~ 1 + 2d near the rim, a ramp in d of half-width ``half``
    (in coordinate units, divided by the mean axis) is linear in q: no square root, no sigmoid.
    """
    k = (ax * ay) ** 0.5 / (4.0 * half)
    tx = (0.5 + k) - k * ((xs - cx) / ax) ** 2
    ty = k * ((ys - cy) / ay) ** 2
    return (tx - ty).clamp_(0, 1)


def _cmr_chunk(cohort, lab, cue, size, spurious, systemic, g, heart_patch=True):
    """One chunk of MRI phantoms, drawn in the order the random stream is consumed: the patients' parameters,
    then the torso, the heart (ED and ES), the spurious cue and the scanner. Returns images in [0, 1] (float),
    heart masks and the per-patient metadata."""
    p = _cmr_patients(cohort, lab, cue, size, spurious, systemic, g)
    img = _cmr_torso(p)
    img, mask = _cmr_heart(p, img, heart_patch)
    img = _cmr_cue(p, img, mask, cue, spurious)
    img = _cmr_scanner(p, img)
    meta = {"fat": p.fat, "ef": p.ef, "lv_radius": p.r_ed, "wall": p.w_ed, "effusion": p.eff.bool(),
            "infarct": p.inf.bool()}
    return img, mask, meta


def _cmr_patients(cohort, lab, cue, size, spurious, systemic, g) -> SimpleNamespace:
    """Each patient's anatomy (class-dependent, with spread), fat thickness (the habitus cue when it is the
    shortcut), and the uniform draws and noise generator the renderers read, plus the image grid."""
    n = lab.shape[0]
    k = len(COHORTS[cohort])
    sc = _SCANNER[cohort]
    names = COHORTS[cohort]
    P = {key: torch.tensor([CMR_CLASS_PARAMS[names[i]][key] for i in lab.tolist()]) for key in _BASE}

    def draw(key, lo=None, hi=None):
        v = P[key] + (_rn(g, n) * _SD[key] if key in _SD else 0)
        return v.clamp(lo, hi)

    scale = (1 + 0.06 * _rn(g, n)).clamp(0.85, 1.15)  # patient size
    r_ed = draw("r", 0.08, 0.32) * scale
    w_ed = draw("w", 0.02, 0.11) * scale
    ef = draw("ef", 0.12, 0.85)
    rv = draw("rv", 0.6, 2.2)
    rvef = draw("rvef", 0.1, 0.8)
    sept = draw("sept", 0.0, 1.5)
    inf = (_ru(g, n) < P["inf"]).float()
    tex = draw("tex", 0.0, 0.8) * (P["tex"] > 0).float()
    eff = ((_ru(g, n) < P["eff"]) & torch.tensor(systemic)).float()
    # Fat thickness: habitus cue or random.
    if spurious == "habitus":
        fat = 0.035 + 0.045 * cue.float() / max(k - 1, 1) + 0.006 * _rn(g, n)
    else:
        fat = 0.035 + 0.045 * _ru(g, n)
    fat = fat.clamp(0.02, 0.1)
    rnd = _ru(g, n, 16)  # every other per-patient draw, in one call
    rng = _noise_rng(g)

    fov = sc["fov"]
    lin = torch.linspace(-1, 1, size) * fov
    px = 2.0 * fov / size
    return SimpleNamespace(n=n, size=size, sc=sc, fov=fov, lin=lin, xs=lin.view(1, 1, 1, size),
                           ys=lin.view(1, 1, size, 1), px=px,
                           half=0.8 * px,  # partial-volume ramp of the torso's rims: ~1.6 px wide
                           edge=1.2 * px,  # the heart's rims are softer (through-plane motion, thin walls)
                           r_ed=r_ed, w_ed=w_ed, ef=ef, rv=rv, rvef=rvef, sept=sept, inf=inf, tex=tex, eff=eff,
                           fat=fat, rnd=rnd, rng=rng, ef_rows=torch.nonzero(eff > 0).flatten())


def _v(t: torch.Tensor) -> torch.Tensor:
    return t.view(-1, 1, 1, 1)


def _nrm(p, j: int) -> torch.Tensor:
    """A per-patient standard normal from the j-th uniform draw (inverse CDF)."""
    return _v(math.sqrt(2.0) * torch.erfinv(2 * p.rnd[:, j] - 1))


def _cmr_torso(p) -> torch.Tensor:
    """Body with subcutaneous fat, lungs, liver, spine, aorta, and the pleural effusion of amyloidosis: one
    frame ``[n, 1, size, size]`` (the torso does not move between ED and ES)."""
    xs, ys, half, v, fat = p.xs, p.ys, p.half, _v, p.fat
    nrm = lambda j: _nrm(p, j)  # noqa: E731
    # Torso: body with subcutaneous fat, lungs, liver, spine, aorta (frame-independent).
    bcx, bcy = 0.03 * nrm(0), 0.05 + 0.03 * nrm(1)
    ba, bb = 0.8 + 0.04 * nrm(2), 0.6 + 0.03 * nrm(3)
    body = _ell(xs, ys, bcx, bcy, ba, bb, half)
    inner = _ell(xs, ys, bcx, bcy, ba - v(fat), bb - v(fat), half)
    img = torch.add(body * 0.86, inner, alpha=0.34 - 0.86)  # fat ring bright, body 0.34
    lungs = (_ell(xs, ys, bcx - 0.42, bcy - 0.08, 0.26 + 0.02 * nrm(4), 0.36, half)
             + _ell(xs, ys, bcx + 0.45, bcy - 0.1, 0.24 + 0.02 * nrm(5), 0.34, half)).clamp_(0, 1).mul_(inner)
    img.lerp_(torch.tensor(0.07), lungs)
    img.lerp_(torch.tensor(0.42), _ell(xs, ys, bcx - 0.38, bcy + 0.3, 0.34, 0.22, half).mul_(inner))
    spine_c = _ell(xs, ys, bcx, bcy + 0.42, 0.1, 0.09, half).mul_(inner)
    spine_ring = _ell(xs, ys, bcx, bcy + 0.42, 0.125, 0.115, half).mul_(inner).sub_(spine_c).clamp_(0, 1)
    img.lerp_(torch.tensor(0.12), spine_ring)
    img.lerp_(torch.tensor(0.48), spine_c)
    img.lerp_(torch.tensor(0.85), _ell(xs, ys, bcx + 0.16, bcy + 0.3, 0.055, 0.055, half).mul_(inner))
    # effusion (pleural here, pericardial below) is computed for the rows that have it (the others: weight 0)
    ef_rows = p.ef_rows
    if ef_rows.numel():  # pleural effusion at the lung bases: the systemic sign of amyloidosis
        e = lambda t: t[ef_rows] if torch.is_tensor(t) else t  # noqa: E731
        pleural = (_ell(xs, ys, e(bcx) - 0.42, e(bcy) + 0.22, 0.2, 0.07, half)
                   + _ell(xs, ys, e(bcx) + 0.45, e(bcy) + 0.2, 0.18, 0.06, half)).clamp_(0, 1).mul_(inner[ef_rows])
        img[ef_rows] = img[ef_rows].lerp_(torch.tensor(0.92), pleural)

    p.bcx, p.bcy, p.bb = bcx, bcy, bb  # the heart sits in the body; the artifact cue below it
    p.inner = inner
    return img


def _cmr_heart(p, img: torch.Tensor, patch: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """LV blood pool and myocardium, RV cavity and wall, at ED and ES, over the torso; the heart mask is their
    union. Class signs live here: dilation and ejection fraction, an akinetic infarct segment, septal
    hypertrophy, amyloid texture, the pericardial effusion ring (outside the mask). ``patch=False`` renders over
    the whole image instead of a patch around the heart (the same masks; a test checks it)."""
    n, size, sc, fov, lin, edge = p.n, p.size, p.sc, p.fov, p.lin, p.edge
    v, bcx, bcy, rnd, rng = _v, p.bcx, p.bcy, p.rnd, p.rng
    r_ed, w_ed, ef, rv, rvef, sept, inf, tex = p.r_ed, p.w_ed, p.ef, p.rv, p.rvef, p.sept, p.inf, p.tex
    ef_rows = p.ef_rows
    nrm = lambda j: _nrm(p, j)  # noqa: E731
    # Heart: LV centre and orientation (RV direction points to the patient's right = image left, anterior).
    hcx = 0.12 + 0.035 * nrm(6) + bcx
    hcy = -0.06 + 0.035 * nrm(7) + bcy
    rv_dir = math.pi + 0.35 + 0.2 * nrm(8)  # angle of the RV (image left, slightly up)
    inf_dir = 0.3 + 1.2 * v(rnd[:, 9]) + rv_dir + math.pi / 2  # infarct somewhere away from the septum
    r_ed4, w_ed4 = v(r_ed), v(w_ed)
    outer_ed = r_ed4 + w_ed4
    area = outer_ed ** 2 - r_ed4 ** 2
    r_es = r_ed4 * torch.sqrt(1 - v(ef))
    w_es = torch.sqrt(r_es ** 2 + area) - r_es
    ax_ed = 0.75 * outer_ed * v(rv).clamp(min=0.3) + 0.018
    ay_ed = 1.35 * outer_ed * v(rv).clamp(min=0.5) ** 0.5 + 0.018

    # The heart is rendered in a square patch around the LV centre (one side for the chunk, placed per
    # patient) that holds everything the heart draws: the LV with its thickest wall and the effusion ring,
    # and the RV, whose far rim lies within 0.95 (r + w) + its longer axis of the LV centre. Outside the
    # patch every heart layer is exactly zero, so only the patch is computed.
    lv_reach = torch.maximum(r_ed4 + w_ed4 * (1 + v(sept)), r_es + w_es * (1 + v(sept))) + 0.045
    # farthest RV rim point from the LV centre: max over c = cos(t) in [-1, 1] of
    # (d + a c)^2 + b^2 (1 - c^2), with d the RV centre's offset and a, b its axes (at ED, the larger frame)
    d_rv = 0.95 * outer_ed
    c_star = torch.where(ay_ed > ax_ed, ax_ed * d_rv / (ay_ed ** 2 - ax_ed ** 2).clamp(min=1e-9),
                         torch.ones_like(d_rv)).clamp(-1, 1)
    rv_reach = ((d_rv + ax_ed * c_star) ** 2 + ay_ed ** 2 * (1 - c_star ** 2)).sqrt()
    reach = torch.maximum(lv_reach, rv_reach) + 7 * edge  # the sigmoid rims are < 1e-3 beyond 7 edges
    step = 2 * fov / (size - 1)  # linspace spacing
    side = min(size, int(math.ceil(2 * float(reach.max()) / step)) + 3) if patch else size
    ox = ((hcx.view(n) + fov) / step - (side - 1) / 2).round().long().clamp(0, size - side)
    oy = ((hcy.view(n) + fov) / step - (side - 1) / 2).round().long().clamp(0, size - side)
    cols = ox.view(n, 1) + torch.arange(side)  # [n, side] pixel columns of each patient's patch
    rows = oy.view(n, 1) + torch.arange(side)
    xs_p, ys_p = lin[cols].view(n, 1, 1, side), lin[rows].view(n, 1, side, 1)
    # flat index of every patch pixel in frame 0 of an [n, 2, size, size] tensor (frame 1: + size^2)
    at = (torch.arange(n).view(n, 1, 1) * (2 * size * size) + rows.view(n, side, 1) * size
          + cols.view(n, 1, side)).view(n, 1, side, side)

    dx, dy = xs_p - hcx, ys_p - hcy
    rho = (dx * dx + dy * dy).add_(1e-12).sqrt_()
    # von Mises bumps exp(kappa (cos(phi - dir) - 1)) with cos(phi - dir) = (dx cos dir + dy sin dir) / rho
    bump_sept = ((dx * torch.cos(rv_dir) + dy * torch.sin(rv_dir)).div_(rho).sub_(1).mul_(4.0)).exp_()
    bump_inf = ((dx * torch.cos(inf_dir) + dy * torch.sin(inf_dir)).div_(rho).sub_(1).mul_(6.0)).exp_().mul_(v(inf))
    wall_factor = (bump_sept * v(sept)).add_(1).mul_(1 - 0.55 * bump_inf)
    # RV: an ellipse beside the LV along rv_dir (rotated coordinates u along, t across), minus the LV
    rcx = hcx + torch.cos(rv_dir) * outer_ed * 0.95
    rcy = hcy + torch.sin(rv_dir) * outer_ed * 0.95
    c, s = torch.cos(rv_dir), torch.sin(rv_dir)
    u2 = ((xs_p - rcx) * c + (ys_p - rcy) * s) ** 2
    t2 = ((ys_p - rcy) * c - (xs_p - rcx) * s) ** 2
    lr = max(1, size // 32)
    out = img.expand(n, 2, size, size).contiguous()
    mask = torch.zeros(n, 2, size, size, dtype=torch.bool)
    torso_patch = out.take(at)  # [n, 1, side, side]
    for fi in range(2):  # ED, ES
        if fi == 0:
            r_f = r_ed4
            w_f = w_ed4 * wall_factor
        else:
            # akinetic segment: does not move inward and does not thicken
            r_f = bump_inf * (r_ed4 - r_es) + r_es
            w_f = (bump_inf * (w_ed4 - w_es)).add_(w_es).mul_(wall_factor)
        # (in-place chains on temporaries: the same arithmetic as the plain expressions, fewer passes)
        lv_in = rho - r_f
        lv_out = lv_in - w_f
        blood_lv = _soft_(lv_in, edge)
        lv_soft = _soft(lv_out, edge)
        myo = lv_soft - blood_lv
        rv_scale = v(rv) * (1.0 if fi == 0 else torch.sqrt(1 - v(rvef)))
        ax = (0.75 * outer_ed) * rv_scale.clamp(min=0.3)
        ay = 1.35 * outer_ed * rv_scale.clamp(min=0.5) ** 0.5
        q_wall = torch.div(u2, (ax + 0.018) ** 2).addcmul_(t2, 1 / (ay + 0.018) ** 2)
        heart_mask = (lv_out < 0) | ((q_wall < 1) & (lv_out >= 0.012))
        rv_in = _soft_(torch.div(u2, ax ** 2).addcmul_(t2, 1 / ay ** 2).sqrt_().sub_(1), edge)
        rv_out = _soft_(q_wall.sqrt_().sub_(1), edge)
        rv_cav = _soft_(lv_out - 0.012, edge).neg_().add_(1).mul_(rv_in)
        rv_wall = rv_out.sub_(rv_in).clamp_(0, 1).mul_(lv_soft.neg().add_(1))
        heart_soft = torch.maximum(rv_cav, rv_wall)
        torch.maximum(lv_soft, heart_soft, out=heart_soft)

        f = torso_patch.clone()
        f.lerp_(torch.tensor(0.36), heart_soft)  # pericardial fat-free heart region baseline
        tx_rows = torch.nonzero(tex > 0).flatten()
        if tx_rows.numel():  # amyloid: textured myocardium (smooth noise, drawn at 1/lr resolution)
            field = _noise(rng, n, 1, -(-side // lr), -(-side // lr))[tx_rows]  # drawn for all: one stream
            if lr > 1:
                field = tF.interpolate(field, scale_factor=lr, mode="bilinear", align_corners=False)[..., :side, :side]
            level = torch.full_like(f, sc["myo"])  # rows without texture: the plain level (texture 0 gives it)
            level[tx_rows] = (field * (0.8 * tex[tx_rows].view(-1, 1, 1, 1))).add_(1).clamp_(0.2, 3.0).mul_(sc["myo"])
            f.lerp_(level, myo)
        else:
            f.lerp_(torch.tensor(sc["myo"]), myo)
        f.lerp_(torch.tensor(sc["blood"]), blood_lv)
        f.lerp_(torch.tensor(sc["blood"] * 0.97), rv_cav)
        f.lerp_(torch.tensor(sc["myo"]), rv_wall)
        if ef_rows.numel():  # pericardial effusion ring around the heart (outside the mask)
            d = lv_out[ef_rows]
            peri = (_soft(d - 0.045, edge) - _soft(d - 0.02, edge)).clamp_(0, 1)
            f[ef_rows] = f[ef_rows].lerp_(torch.tensor(0.95), peri.mul_(1 - heart_soft[ef_rows]))
        out.put_(at + fi * size * size, f)
        mask.put_(at + fi * size * size, heart_mask)
    return out, mask


def _cmr_cue(p, img: torch.Tensor, mask: torch.Tensor, cue: torch.Tensor, spurious: str) -> torch.Tensor:
    """The spurious cue, in the background only: a corner glyph whose shape names a class (``marker``) or a
    dotted zipper line whose period does (``artifact``); ``habitus`` is the fat thickness drawn with the patient."""
    size, fov, xs, ys, half, px, rnd, v = p.size, p.fov, p.xs, p.ys, p.half, p.px, p.rnd, _v
    bcy, bb = p.bcy, p.bb
    # Spurious cue (background only; it never enters the heart mask). Its placement uses rnd[:, 10:13] for
    # every kind, so all kinds consume the same random stream.
    corner = (rnd[:, 10] * 4).long().clamp(max=3)
    jitter = rnd[:, 11:13]
    if spurious == "marker":
        # a scanner annotation glyph in a random corner outside the body; *which* glyph encodes a class
        # (appearance, not position: a CNN with global pooling reads it easily, as it would a real marker)
        gs = max(1, size // 32)
        gh = 5 * gs
        ys_ = torch.where(corner < 2, 1 + (jitter[:, 0] * 2 * gs).long(), size - gh - 1 - (jitter[:, 0] * 2 * gs).long())
        xs_ = torch.where(corner % 2 == 0, 1 + (jitter[:, 1] * 3 * gs).long(),
                          size - gh - 1 - (jitter[:, 1] * 3 * gs).long())
        _stamp(img, _cmr_glyphs(), cue.clamp(min=0), ys_, xs_, 0.95, gs, keep=mask)
    elif spurious == "artifact":
        # a dotted 'zipper' line below the body at a random x; its dot period encodes a class
        cx = v(-0.5 + 1.0 * jitter[:, 1])
        line = _ramp((xs - cx).abs() - 0.012 * fov, half)
        period = v(2.0 + cue.float().clamp(min=0)) * px * max(1, size // 48)
        dots = (torch.remainder(ys, period) < period / 2) & (ys > bcy + bb + 0.04) & (ys < 0.98 * fov)
        img = torch.maximum(img, (0.8 * line * dots) * (~mask))

    return img


def _cmr_scanner(p, img: torch.Tensor) -> torch.Tensor:
    """The cohort's scanner: a smooth bias field, gamma, and Rician noise."""
    n, size, sc, fov, xs, ys, rng = p.n, p.size, p.sc, p.fov, p.xs, p.ys, p.rng
    nrm = lambda j: _nrm(p, j)  # noqa: E731
    # Scanner: bias field, gamma, Rician noise.
    a = sc["bias"]
    p_, q_, r_ = nrm(13), nrm(14), nrm(15)
    xx, yy = xs / fov, ys / fov
    bias = torch.addcmul(1 + a * p_ * xx, yy, a * (q_ + 0.5 * r_ * xx))
    img = img.mul_(bias).clamp_(0, 1)
    if sc["gamma"] != 1.0:
        img = img.pow_(sc["gamma"])
    s = sc["noise"]
    # The imaginary channel reads the same draws shifted by half a frame: at every pixel the pair is
    # independent (Rician marginals) at half the draws, and neither needs a copy.
    shift = (size * size) // 2 + size // 2
    buf = _noise(rng, n * 2 * size * size + shift)
    n1 = buf[:n * 2 * size * size].view(n, 2, size, size)
    n2 = buf[shift:].view(n, 2, size, size)
    img = img.add_(n1, alpha=s)
    img = img.mul_(img).addcmul_(n2, n2, value=s * s).sqrt_()
    return img


# ----------------------------------------------------------------------------------------------------------
# Echocardiography phantom
# ----------------------------------------------------------------------------------------------------------
# Chambers per view in image coordinates (x right, y down, apex of the sector at y = -0.95):
# (cx, cy, ax, ay, angle) for up to 4 chambers; ax = 0 means absent.
_VIEWS = {
    "PLAX": [(-0.12, 0.12, 0.46, 0.15, -0.25), (-0.08, -0.38, 0.36, 0.08, -0.2),
             (0.40, -0.02, 0.20, 0.09, -0.2), (0.38, 0.40, 0.17, 0.16, 0.0)],
    "PSAX": [(0.02, 0.18, 0.22, 0.22, 0.0), (-0.30, 0.02, 0.20, 0.11, 0.7),
             (0.0, 0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 0.0)],
    "A2C": [(0.0, -0.08, 0.20, 0.42, 0.0), (0.02, 0.58, 0.19, 0.19, 0.0),
            (0.0, 0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 0.0)],
    "A4C": [(0.18, -0.02, 0.15, 0.38, 0.08), (-0.20, 0.04, 0.13, 0.32, -0.1),
            (0.18, 0.62, 0.14, 0.16, 0.0), (-0.20, 0.62, 0.13, 0.15, 0.0)],
}
_GLYPHS_N = 48


def _glyph_bank() -> torch.Tensor:
    g = torch.Generator().manual_seed(1234)
    bank = (torch.rand(_GLYPHS_N, 5, 4, generator=g) < 0.55).float()
    bank[:, :, 3] = 0  # letter spacing column
    return bank


def _cmr_glyphs() -> torch.Tensor:
    """Five distinct 5 x 5 annotation glyphs (one per class of the larger cohort), fixed."""
    rows = ["11111 10001 10001 10001 11111", "00100 00100 11111 00100 00100", "10001 01010 00100 01010 10001",
            "11111 00001 11111 10000 11111", "10101 10101 11111 10101 10101"]
    return torch.tensor([[[int(c) for c in r] for r in g.split()] for g in rows], dtype=torch.float32)


def _stamp(img: torch.Tensor, glyphs: torch.Tensor, ids: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
           value: torch.Tensor | float, scale: int, *, keep: torch.Tensor | None = None) -> None:
    """Stamp glyph ``ids[n]`` (from ``glyphs``) at (ys[n], xs[n]) into img[n] (in place, max), vectorized.

    ``img`` is ``[n, H, W]`` or ``[n, F, H, W]`` (every frame gets the glyph); ``keep`` (bool, like ``img``)
    marks pixels the glyph leaves alone. Only the glyph's pixels are touched.
    """
    n = img.shape[0]
    h, w = img.shape[-2:]
    nf = img[0].numel() // (h * w)
    gl = glyphs[ids]  # [n, gh, gw]
    if scale > 1:
        gl = gl.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    gh, gw = gl.shape[1:]
    dy = torch.arange(gh).view(1, gh, 1)
    dx = torch.arange(gw).view(1, 1, gw)
    yy = (ys.view(n, 1, 1) + dy).clamp(0, h - 1)
    xx = (xs.view(n, 1, 1) + dx).clamp(0, w - 1)
    idx = (yy * w + xx).reshape(n, 1, -1).expand(n, nf, -1)
    val = (gl * (value.view(n, 1, 1) if torch.is_tensor(value) else value)).reshape(n, 1, -1).expand(n, nf, -1)
    if keep is not None:
        val = val * ~keep.reshape(n, nf, h * w).gather(2, idx)
    img.view(n, nf, h * w).scatter_reduce_(2, idx, val.contiguous(), reduce="amax")


def make_echo(site: str = "id", n: int = 200, size: int = 112, *, overlay_strength: float = 0.9,
              seed: int | torch.Generator | None = 0, n_sites: int = 4, chunk: int = 32,
              background: str = "site") -> ImageSet:
    """Echocardiography phantom: one frame per image, four views inside an ultrasound sector.

    Parameters
    ----------
    site : {'id', 'ood'}
        ``id``: the training site, whose metadata overlay style agrees with the view with probability
        ``overlay_strength``. ``ood``: ``n_sites`` other sites (other sector geometry, gain and overlay
        layout) whose overlays carry no information about the view.
    n : int
        Number of images (at least 4).
    size : int
        Image side in pixels (the paper uses 112).
    overlay_strength : float in [0, 1]
        Probability that the overlay style encodes the view (ignored for ``ood``, where it is 0).
    seed : int or torch.Generator
    n_sites : int
        Number of o.o.d. sites.
    background : {'site', 'id_agree', 'id_conflict', 'vendor', 'black'}
        The overlay on the black background. ``site``: each site's own. The others are counterfactuals of the
        same sectors (every random draw is made as for ``site``, so with the same ``seed`` only the background
        differs; the sector keeps its site's geometry and gain, the acquisition shift): ``id_agree``, the i.d.
        site's overlay layout with its style pointing to the true view; ``id_conflict``, that layout pointing to
        another view (drawn uniformly from the other three, seeded); ``vendor``, a layout that shares no code
        with the i.d. site (other header glyphs, a fixed bar and marker); ``black``, no overlay at all.

    Returns
    -------
    ImageSet
        uint8 ``[n, 1, size, size]``, sector masks, metadata ``style``, ``style_agrees``, ``site``,
        ``background``.
    """
    where = "make_echo"
    check_choice(site, ECHO_SITES, name="site", where=where)
    check_choice(background, ECHO_BACKGROUNDS, name="background", where=where)
    check_int(n, name="n", where=where, lo=len(ECHO_VIEWS))
    check_int(size, name="size", where=where, lo=32, hi=1024)
    overlay_strength = check_number(overlay_strength, name="overlay_strength", where=where, lo=0, hi=1)
    check_int(n_sites, name="n_sites", where=where, lo=1, hi=64)
    check_int(chunk, name="chunk", where=where, lo=1)
    g = _gen(seed, where)
    k = len(ECHO_VIEWS)
    lab = torch.arange(n) % k  # each patient (group of k consecutive images) has all four views
    strength = overlay_strength if site == "id" else 0.0
    style = _cue_classes(lab, k, strength, g)
    site_id = torch.zeros(n, dtype=torch.int64) if site == "id" else 1 + torch.randint(0, n_sites, (n,), generator=g)
    if background == "id_agree":
        style = lab.clone()
    elif background == "id_conflict":  # another view, from a generator of its own (the main stream is untouched)
        base = int(seed) if isinstance(seed, int) else g.initial_seed()
        shift = torch.randint(1, k, (n,), generator=torch.Generator().manual_seed(base + 7))
        style = (lab + shift) % k
    images = torch.empty(n, 1, size, size, dtype=torch.uint8)
    masks = torch.empty(n, 1, size, size, dtype=torch.bool)
    for s in range(0, n, chunk):
        img, masks[s:s + chunk] = _echo_chunk(lab[s:s + chunk], style[s:s + chunk], site_id[s:s + chunk], size, g,
                                              background)
        _to_u8(img, images[s:s + chunk])
    # patients: one image of each view per patient (splits keep a patient together)
    groups = torch.arange(n) // k + (0 if site == "id" else 10_000_000)
    meta = {"style": style, "style_agrees": style == lab, "site": site_id, "background": [background] * n}
    return ImageSet(images=images, labels=lab, class_names=ECHO_VIEWS, masks=masks,
                    groups=groups, meta=meta, frame_names=("frame",), name=f"echo-{site}")


def _echo_chunk(lab, style, site_id, size, g, background="site"):
    n = lab.shape[0]
    lin = torch.linspace(-1, 1, size)
    xs, ys = lin.view(1, 1, 1, size), lin.view(1, 1, size, 1)  # separable coordinates
    v = lambda t: t.view(n, 1, 1, 1)  # noqa: E731
    edge = 2.0 / size
    # per-site geometry: o.o.d. sites have slightly different sector width / depth / gain
    site_rng = torch.Generator().manual_seed(99)
    site_half = 0.66 + 0.08 * (torch.rand(65, generator=site_rng) - 0.5)
    site_half[0] = 0.66
    site_depth = 1.85 + 0.1 * (torch.rand(65, generator=site_rng) - 0.5)
    site_depth[0] = 1.85
    site_gain = 1.0 + 0.25 * (torch.rand(65, generator=site_rng) - 0.5)
    site_gain[0] = 1.0
    half = v(site_half[site_id] + 0.02 * _rn(g, n))
    depth = v(site_depth[site_id] + 0.03 * _rn(g, n))
    # The sector (apex at y = -0.95): radius and angle are the same grid for every image; only the opening
    # angle and the depth vary, so the per-image work is three comparisons.
    apex_y = -0.95
    ry = ys - apex_y
    rr = (xs * xs + ry * ry).add_(1e-12).sqrt_()  # [1, 1, H, W]
    th = torch.atan2(xs.expand_as(rr), ry.expand_as(rr)).abs_()
    sector_d = torch.maximum(torch.maximum(th - half, rr - depth), 0.06 - rr)
    mask = sector_d < 0
    sector = _ramp(sector_d, edge)

    # Chambers (dark blood) with bright walls, jittered per sample.
    table = torch.tensor([_VIEWS[vname] for vname in ECHO_VIEWS])  # [V, 4, 5]
    p = table[lab].clone()  # [n, 4, 5]
    present = (p[..., 2] > 0).float()
    # chamber dropout (out of plane, shadowing): each chamber vanishes with probability 0.2
    present = present * (_ru(g, n, 4) > 0.2).float()
    p[..., 0] += 0.1 * _rn(g, n, 4)
    p[..., 1] += 0.1 * _rn(g, n, 4)
    sz = (1 + 0.2 * _rn(g, n, 1)).clamp(0.6, 1.4)
    p[..., 2] *= sz * (1 + 0.15 * _rn(g, n, 4))
    p[..., 3] *= sz * (1 + 0.15 * _rn(g, n, 4))
    p[..., 4] += 0.3 * _rn(g, n, 1)
    # whole-heart rotation about the sector axis
    rot = 0.2 * _rn(g, n, 1)
    cx0, cy0 = p[..., 0].clone(), p[..., 1].clone()
    p[..., 0] = torch.cos(rot) * cx0 - torch.sin(rot) * cy0
    p[..., 1] = torch.sin(rot) * cx0 + torch.cos(rot) * cy0
    pv = lambda j: p[..., j].view(n, 4, 1, 1)  # noqa: E731
    # an absent chamber is moved far outside the image, so it draws nothing
    far = present.view(n, 4, 1, 1) == 0
    cx, cy = torch.where(far, 100.0, pv(0)), torch.where(far, 100.0, pv(1))
    ax = torch.where(pv(2) > 0, pv(2), torch.ones_like(pv(2)))
    ay = torch.where(pv(3) > 0, pv(3), torch.ones_like(pv(3)))
    c, s = torch.cos(pv(4)), torch.sin(pv(4))
    dx, dy = xs - cx, ys - cy  # [n, 4, 1, W], [n, 4, H, 1]
    u = dx * (c / ax) + dy * (s / ax)  # rotated, in units of the axes: [n, 4, H, W]
    w = dy * (c / ay) - dx * (s / ay)
    d = u.mul_(u).addcmul_(w, w).sqrt_().sub_(1.0)  # normalized ellipse distance, negative inside
    cav = _ramp(d, 0.16).amax(1, keepdim=True)  # blood pool: soft over +-0.16 of the axes
    wall = _ramp(d.sub_(0.35), 0.2).amax(1, keepdim=True)  # wall: a broad bright rim
    contrast = v(0.45 + 0.35 * _ru(g, n))  # gain / image quality varies by patient
    tissue = (wall - cav).clamp_(0, 1).mul_(contrast * 0.4).add_(0.34).mul_(1 - contrast * cav)
    # speckle: multiplicative Rayleigh noise (two quadrature channels read from one buffer, shifted), smoothed
    shift = (size * size) // 2 + size // 2
    buf = _noise(_noise_rng(g), n * size * size + shift)
    n1, n2 = buf[:n * size * size].view(n, 1, size, size), buf[shift:].view(n, 1, size, size)
    sp = (n1 * n1).addcmul_(n2, n2).sqrt_().mul_(1 / 1.25)
    sp = _smooth3(sp)
    atten = 1.0 - 0.25 * (rr / depth).clamp_(0, 1)
    img = tissue.mul_(sp).mul_(atten).mul_(v(site_gain[site_id] * (1 + 0.1 * _rn(g, n))))
    img = img.mul_(sector).mul_(mask).clamp_(0, 1)  # exactly black outside the sector

    # Metadata overlays on the black background.
    ov = torch.zeros(n, size, size)
    bank = _glyph_bank()
    sc = max(1, size // 112)
    gw = 4 * sc
    # 'style' -> which tag glyphs appear in the header, where the calibration bar is, which marker.
    st = style
    id_site = (site_id == 0)  # the sector's own site (its ECG trace)
    id_layout = id_site | (background in ("id_agree", "id_conflict"))  # whose overlay layout
    vendor = background == "vendor"
    glyph_off = torch.where(id_layout, torch.zeros_like(st), 24 + (site_id % 3) * 6)
    if vendor:  # glyphs 42-47: no site uses them; the same three for every view
        glyph_off, st_glyph = torch.full_like(st, 42), torch.zeros_like(st)
    else:
        st_glyph = st
    # header text: 3 style-tag glyphs + 5 random glyphs (patient info), top left
    y0 = torch.where(id_layout, torch.full_like(st, 3 * sc), torch.full_like(st, 6 * sc))
    for j in range(8):
        if j < 3:
            gid = (glyph_off + st_glyph * 3 + j) % _GLYPHS_N
        else:
            gid = torch.randint(12, 24, (n,), generator=g)
        _stamp(ov, bank, gid, y0, torch.full_like(st, 3 * sc + j * gw), 0.85, sc)
    # second text line: random (date/time), top right
    for j in range(6):
        gid = torch.randint(12, 24, (n,), generator=g)
        _stamp(ov, bank, gid, y0, torch.full_like(st, size - (6 - j) * gw - 3 * sc), 0.7, sc)
    # calibration bar: left or right edge, tick spacing by style
    side_right = (st % 2 == 1)
    bar_x = torch.where(side_right, torch.full_like(st, size - 5 * sc), torch.full_like(st, 4 * sc))
    bar_x = torch.where(id_layout, bar_x, bar_x + torch.where(side_right, -3 * sc, 3 * sc))
    spacing = (4 + (st // 2) * 3) * sc
    if vendor:  # a fixed bar, dense ticks no style uses, in the middle of the left margin
        bar_x, spacing = torch.full_like(st, 9 * sc), torch.full_like(st, 3 * sc)
    rows = torch.arange(size).view(1, size)
    tick = ((rows % spacing.view(n, 1)) < sc) & (rows > size * 0.3) & (rows < size * 0.9)
    cols = torch.arange(size).view(1, 1, size)
    bar = tick.unsqueeze(2) & ((cols - bar_x.view(n, 1, 1)).abs() <= sc)
    ov = torch.maximum(ov, 0.8 * bar.float())
    # measurement marker '+' near the sector's lower edge, position by style
    mk_x = (size * (0.22 + 0.18 * st.float())).long()
    if vendor:
        mk_x = torch.full_like(st, int(size * 0.5))
    mk_y = torch.full_like(st, int(size * 0.9))
    plus = torch.zeros(_GLYPHS_N, 5, 4)
    plus[:, 2, :3] = 1
    plus[:, :, 1] = 1
    _stamp(ov, plus, torch.zeros_like(st), mk_y, mk_x, 0.9, sc)
    # ECG trace at the very bottom for i.d. site and some o.o.d. sites
    ecg_on = (id_site | (site_id % 2 == 0)).float().view(n, 1, 1)
    t = torch.arange(size).float()
    ph = _ru(g, n, 1) * 6.28
    trace = (size - 4 * sc - (2 * sc * torch.sin(t.view(1, -1) * 0.35 + ph))).round().long().clamp(0, size - 1)
    ecg = torch.zeros(n, size, size)
    ecg.scatter_(1, trace.view(n, 1, size), 0.6)
    ov = torch.maximum(ov, ecg * ecg_on)
    ov = ov.unsqueeze(1) * (~mask).float()
    if background == "black":
        ov = ov.zero_()
    img = torch.maximum(img, ov)
    return img, mask
