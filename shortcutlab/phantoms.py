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
from typing import Sequence

import torch
import torch.nn.functional as tF

from ._validation import ShortcutlabError, check_choice, check_int, check_number
from .imageset import ImageSet

PHANTOM_VERSION = 4  # bump whenever generated images change: it keys the on-disk cache

__all__ = ["PHANTOM_VERSION", "make_cmr", "make_echo", "COHORTS", "CUE_KINDS", "ECHO_VIEWS", "ECHO_SITES", "CMR_CLASS_PARAMS"]

COHORTS = {"cm": ("NICM", "ICM", "AMYL", "HCM"), "acdc": ("DCM", "HCM", "MINF", "NOR", "RV")}
CUE_KINDS = ("marker", "habitus", "artifact", "none")
ECHO_VIEWS = ("PLAX", "PSAX", "A2C", "A4C")
ECHO_SITES = ("id", "ood")

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


def _gen(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _rn(g, *shape):
    return torch.randn(*shape, generator=g)


def _ru(g, *shape):
    return torch.rand(*shape, generator=g)


def _soft(d: torch.Tensor, edge: float) -> torch.Tensor:
    """Soft indicator of d < 0 with an edge width (partial volume)."""
    return torch.sigmoid(-d / edge)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, C, H, W]."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = tF.conv2d(tF.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = tF.conv2d(tF.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return x


def _ellipse_d(x, y, cx, cy, ax, ay, ang=None):
    """Normalized ellipse 'distance' minus 1 (negative inside); params broadcast as [N,1,1]."""
    dx, dy = x - cx, y - cy
    if ang is not None:
        c, s = torch.cos(ang), torch.sin(ang)
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    ux, uy = dx / ax, dy / ay
    return torch.sqrt(ux * ux + uy * uy + 1e-12) - 1.0


def _vm(delta, kappa):
    """Von Mises bump in [0, 1], peak at delta = 0."""
    return torch.exp(kappa * (torch.cos(delta) - 1.0))


def _cue_classes(labels, k, strength, g):
    """With probability ``strength`` the cue agrees with the label, otherwise it is uniform over k classes."""
    agree = _ru(g, labels.shape[0]) < strength
    rand = torch.randint(0, k, labels.shape, generator=g)
    return torch.where(agree, labels, rand)


def _to_u8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)


def make_cmr(cohort: str = "cm", n: int = 200, size: int = 64, *, spurious: str = "marker",
             strength: float = 0.9, systemic: bool = True, seed: int | torch.Generator | None = 0,
             labels: Sequence[int] | torch.Tensor | None = None, chunk: int = 16) -> ImageSet:
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
        from ._validation import param_error
        raise param_error("systemic", where, "a bool", systemic)
    g = _gen(seed)
    if labels is None:
        lab = torch.arange(n) % k
        lab = lab[torch.randperm(n, generator=g)]
    else:
        lab = torch.as_tensor(labels, dtype=torch.int64)
        if lab.shape != (n,) or lab.min() < 0 or lab.max() >= k:
            raise ShortcutlabError(f"The 'labels' parameter of make_cmr must hold {n} ints in [0, {k - 1}]. "
                                   f"Got shape {tuple(lab.shape)} with range [{int(lab.min())}, {int(lab.max())}] instead.")
    cue = _cue_classes(lab, k, strength, g)  # drawn for every kind, so 'none' consumes the same random stream
    if spurious == "none":
        cue = torch.full_like(lab, -1)
    imgs, masks, metas = [], [], []
    for s in range(0, n, chunk):
        im, ms, mt = _cmr_chunk(cohort, lab[s:s + chunk], cue[s:s + chunk], size, spurious, systemic, g)
        imgs.append(im), masks.append(ms), metas.append(mt)
    meta = {key: torch.cat([m[key] for m in metas]) for key in metas[0]}
    meta["cue"] = cue
    meta["cue_agrees"] = cue == lab
    meta["cohort"] = [cohort] * n
    return ImageSet(images=torch.cat(imgs), labels=lab, class_names=classes, masks=torch.cat(masks),
                    groups=torch.arange(n), meta=meta, frame_names=("ED", "ES"),
                    name=f"cmr-{cohort}")


def _cmr_chunk(cohort, lab, cue, size, spurious, systemic, g):
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

    lin = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    x = (xx * sc["fov"]).expand(n, 1, size, size)
    y = (yy * sc["fov"]).expand(n, 1, size, size)
    v = lambda t: t.view(n, 1, 1, 1)  # noqa: E731
    edge = 1.2 * 2.0 * sc["fov"] / size  # ~1 pixel soft edge

    # Body (torso) ellipse, subcutaneous fat ring, organs.
    bcx, bcy = v(0.03 * _rn(g, n)), v(0.05 + 0.03 * _rn(g, n))
    ba, bb = v(0.8 + 0.04 * _rn(g, n)), v(0.6 + 0.03 * _rn(g, n))
    body_d = _ellipse_d(x, y, bcx, bcy, ba, bb)
    body = _soft(body_d, edge / 0.7)
    inner = _soft(_ellipse_d(x, y, bcx, bcy, ba - v(fat), bb - v(fat)), edge / 0.7)
    fat_ring = (body - inner).clamp(0, 1)
    lung_l = _soft(_ellipse_d(x, y, bcx - 0.42, bcy - 0.08, v(0.26 + 0.02 * _rn(g, n)), 0.36), edge)
    lung_r = _soft(_ellipse_d(x, y, bcx + 0.45, bcy - 0.1, v(0.24 + 0.02 * _rn(g, n)), 0.34), edge)
    lungs = (lung_l + lung_r).clamp(0, 1) * inner
    liver = _soft(_ellipse_d(x, y, bcx - 0.38, bcy + 0.3, 0.34, 0.22), edge) * inner
    spine_c = _soft(_ellipse_d(x, y, bcx, bcy + 0.42, 0.1, 0.09), edge) * inner
    spine_ring = (_soft(_ellipse_d(x, y, bcx, bcy + 0.42, 0.125, 0.115), edge) * inner - spine_c).clamp(0, 1)
    aorta = _soft(_ellipse_d(x, y, bcx + 0.16, bcy + 0.3, 0.055, 0.055), edge) * inner

    # Heart: LV centre and orientation (RV direction points to the patient's right = image left, anterior).
    hcx = v(0.12 + 0.035 * _rn(g, n)) + bcx
    hcy = v(-0.06 + 0.035 * _rn(g, n)) + bcy
    rv_dir = v(math.pi + 0.35 + 0.2 * _rn(g, n))  # angle of the RV (image left, slightly up)
    inf_dir = v(0.3 + 1.2 * _ru(g, n)) + rv_dir + math.pi / 2  # infarct somewhere away from the septum

    dx, dy = x - hcx, y - hcy
    rho = torch.sqrt(dx * dx + dy * dy + 1e-12)
    phi = torch.atan2(dy, dx)
    bump_sept = _vm(phi - rv_dir, 4.0)
    bump_inf = _vm(phi - inf_dir, 6.0) * v(inf)

    frames_img, frames_mask = [], []
    r_ed4, w_ed4 = v(r_ed), v(w_ed)
    area = (r_ed4 + w_ed4) ** 2 - r_ed4 ** 2
    for fi in range(2):  # ED, ES
        if fi == 0:
            r_f = r_ed4 * (1 + 0.0 * bump_inf)
            w_f = w_ed4 * (1 + v(sept) * bump_sept) * (1 - 0.55 * bump_inf)
        else:
            r_es = r_ed4 * torch.sqrt(1 - v(ef))
            w_es = torch.sqrt(r_es ** 2 + area) - r_es
            # akinetic segment: does not move inward and does not thicken
            r_f = r_es + (r_ed4 - r_es) * bump_inf
            w_f = (w_es + (w_ed4 - w_es) * bump_inf) * (1 + v(sept) * bump_sept) * (1 - 0.55 * bump_inf)
        lv_in = rho - r_f
        lv_out = rho - (r_f + w_f)
        blood_lv = _soft(lv_in, edge)
        myo = (_soft(lv_out, edge) - blood_lv).clamp(0, 1)
        # RV: ellipse beside the LV, minus the LV (crescent). Size shrinks by RV EF at ES.
        rv_scale = v(rv) * (1.0 if fi == 0 else torch.sqrt(1 - v(rvef)))
        rcx = hcx + torch.cos(rv_dir) * (r_ed4 + w_ed4) * 0.95
        rcy = hcy + torch.sin(rv_dir) * (r_ed4 + w_ed4) * 0.95
        ax = (0.75 * (r_ed4 + w_ed4)) * rv_scale.clamp(min=0.3)
        ay = 1.35 * (r_ed4 + w_ed4) * rv_scale.clamp(min=0.5) ** 0.5
        rv_d = _ellipse_d(x, y, rcx, rcy, ax, ay, rv_dir)
        rv_wall_d = _ellipse_d(x, y, rcx, rcy, ax + 0.018, ay + 0.018, rv_dir)
        lv_outer_d = lv_out - 0.012
        rv_cav = (_soft(rv_d, edge) * (1 - _soft(lv_outer_d, edge))).clamp(0, 1)
        rv_wall = ((_soft(rv_wall_d, edge) - _soft(rv_d, edge)).clamp(0, 1) * (1 - _soft(lv_out, edge))).clamp(0, 1)
        heart_soft = torch.maximum(_soft(lv_out, edge), torch.maximum(rv_cav, rv_wall))
        mask = (lv_out < 0) | ((rv_wall_d < 0) & (lv_outer_d >= 0)) | ((rv_d < 0) & (lv_outer_d >= 0))
        # Effusion ring around the heart (outside the mask) and at the lung bases: systemic sign.
        peri = (_soft(rho - (r_f + w_f + 0.045), edge) - _soft(rho - (r_f + w_f + 0.02), edge)).clamp(0, 1)
        peri = peri * (1 - heart_soft) * v(eff)
        pleural = (_soft(_ellipse_d(x, y, bcx - 0.42, bcy + 0.22, 0.2, 0.07), edge)
                   + _soft(_ellipse_d(x, y, bcx + 0.45, bcy + 0.2, 0.18, 0.06), edge)).clamp(0, 1) * v(eff) * inner

        # Intensities (bSSFP-like): fat and blood bright, myocardium dark, lungs dark.
        img = 0.34 * inner + 0.86 * fat_ring
        img = img * (1 - lungs) + 0.07 * lungs
        img = img * (1 - liver) + 0.42 * liver
        img = img * (1 - spine_ring) + 0.12 * spine_ring
        img = img * (1 - spine_c) + 0.48 * spine_c
        img = img * (1 - aorta) + 0.85 * aorta
        img = img * (1 - pleural) + 0.92 * pleural
        # heart
        tex_field = _blur(_rn(g, n, 1, size, size), 0.9 if size <= 64 else size / 64.0) * 2.5
        myo_val = sc["myo"] * (1 + v(tex) * tex_field).clamp(0.2, 3.0)
        img = img * (1 - heart_soft) + heart_soft * 0.36  # pericardial fat-free heart region baseline
        img = img * (1 - myo) + myo * myo_val
        img = img * (1 - blood_lv) + blood_lv * sc["blood"]
        img = img * (1 - rv_cav) + rv_cav * sc["blood"] * 0.97
        img = img * (1 - rv_wall) + rv_wall * sc["myo"]
        img = img * (1 - peri) + peri * 0.95
        frames_img.append(img)
        frames_mask.append(mask)

    img = torch.cat(frames_img, 1)  # [n, 2, H, W]
    mask = torch.cat(frames_mask, 1)

    # Spurious cue (background only; it never enters the heart mask).
    cue_layer = torch.zeros_like(img)
    # Random placement of the cue, drawn for every kind so that all kinds consume the same random stream.
    corner = torch.randint(0, 4, (n,), generator=g)
    jitter = _ru(g, n, 2)
    if spurious == "marker":
        # a scanner annotation glyph in a random corner outside the body; *which* glyph encodes a class
        # (appearance, not position: a CNN with global pooling reads it easily, as it would a real marker)
        scale = max(1, size // 32)
        gh = 5 * scale
        ys = torch.where(corner < 2, 1 + (jitter[:, 0] * 2 * scale).long(), size - gh - 1 - (jitter[:, 0] * 2 * scale).long())
        xs = torch.where(corner % 2 == 0, 1 + (jitter[:, 1] * 3 * scale).long(),
                         size - gh - 1 - (jitter[:, 1] * 3 * scale).long())
        layer = torch.zeros(n, size, size)
        _stamp(layer, _cmr_glyphs(), cue.clamp(min=0), ys, xs, 0.95, scale)
        cue_layer = layer.unsqueeze(1).expand(n, 2, size, size)
    elif spurious == "artifact":
        # a dotted 'zipper' line below the body at a random x; its dot period encodes a class
        cx = v(-0.5 + 1.0 * jitter[:, 1])
        line = _soft((x - cx).abs() - 0.012 * sc["fov"], edge)
        period = v(2.0 + cue.float().clamp(min=0)) * (2.0 * sc["fov"] / size) * max(1, size // 48)
        dots = (torch.remainder(y, period) < period / 2).float()
        band = ((y > bcy + bb + 0.04) & (y < 0.98 * sc["fov"])).float()
        cue_layer = (0.8 * line * dots * band).expand(n, 2, size, size)
    if spurious in ("marker", "artifact"):
        img = torch.maximum(img, cue_layer * (~mask).float())

    # Scanner: bias field, gamma, Rician noise.
    a = sc["bias"]
    bias = 1 + a * (v(_rn(g, n)) * xx + v(_rn(g, n)) * yy + 0.5 * v(_rn(g, n)) * xx * yy)
    img = (img * bias).clamp(0, 1) ** sc["gamma"]
    s = sc["noise"]
    img = torch.sqrt((img + s * _rn(g, n, 2, size, size)) ** 2 + (s * _rn(g, n, 2, size, size)) ** 2)
    meta = {"fat": fat, "ef": ef, "lv_radius": r_ed, "wall": w_ed, "effusion": eff.bool(), "infarct": inf.bool()}
    return _to_u8(img), mask, meta


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
           value: torch.Tensor | float, scale: int) -> None:
    """Stamp glyph ``ids[n]`` (from ``glyphs``) at (ys[n], xs[n]) into img[n] (in place, max), vectorized."""
    n, h, w = img.shape
    gl = glyphs[ids]  # [n, gh, gw]
    if scale > 1:
        gl = gl.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    gh, gw = gl.shape[1:]
    dy = torch.arange(gh).view(1, gh, 1)
    dx = torch.arange(gw).view(1, 1, gw)
    yy = (ys.view(n, 1, 1) + dy).clamp(0, h - 1)
    xx = (xs.view(n, 1, 1) + dx).clamp(0, w - 1)
    idx = (yy * w + xx).reshape(n, -1)
    val = (gl * (value.view(n, 1, 1) if torch.is_tensor(value) else value)).reshape(n, -1)
    img.view(n, -1).scatter_reduce_(1, idx, val, reduce="amax")


def make_echo(site: str = "id", n: int = 200, size: int = 112, *, overlay_strength: float = 0.9,
              seed: int | torch.Generator | None = 0, n_sites: int = 4, chunk: int = 16) -> ImageSet:
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

    Returns
    -------
    ImageSet
        uint8 ``[n, 1, size, size]``, sector masks, metadata ``style``, ``style_agrees``, ``site``.
    """
    where = "make_echo"
    check_choice(site, ECHO_SITES, name="site", where=where)
    check_int(n, name="n", where=where, lo=len(ECHO_VIEWS))
    check_int(size, name="size", where=where, lo=32, hi=1024)
    overlay_strength = check_number(overlay_strength, name="overlay_strength", where=where, lo=0, hi=1)
    check_int(n_sites, name="n_sites", where=where, lo=1, hi=64)
    g = _gen(seed)
    k = len(ECHO_VIEWS)
    lab = torch.arange(n) % k  # each patient (group of k consecutive images) has all four views
    strength = overlay_strength if site == "id" else 0.0
    style = _cue_classes(lab, k, strength, g)
    site_id = torch.zeros(n, dtype=torch.int64) if site == "id" else 1 + torch.randint(0, n_sites, (n,), generator=g)
    imgs, masks = [], []
    for s in range(0, n, chunk):
        im, ms = _echo_chunk(lab[s:s + chunk], style[s:s + chunk], site_id[s:s + chunk], size, g)
        imgs.append(im), masks.append(ms)
    # patients: one image of each view per patient (splits keep a patient together)
    groups = torch.arange(n) // k + (0 if site == "id" else 10_000_000)
    meta = {"style": style, "style_agrees": style == lab, "site": site_id}
    return ImageSet(images=torch.cat(imgs), labels=lab, class_names=ECHO_VIEWS, masks=torch.cat(masks),
                    groups=groups, meta=meta, frame_names=("frame",), name=f"echo-{site}")


def _echo_chunk(lab, style, site_id, size, g):
    n = lab.shape[0]
    lin = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    x, y = xx.expand(n, 1, size, size), yy.expand(n, 1, size, size)
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
    apex_y = -0.95
    ry = y - apex_y
    rr = torch.sqrt(x * x + ry * ry + 1e-12)
    th = torch.atan2(x, ry)
    sector_d = torch.maximum(th.abs() - half, rr - depth)
    sector_d = torch.maximum(sector_d, 0.06 - rr)
    mask = sector_d < 0
    sector = _soft(sector_d * 3.0, edge * 3)

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
    safe_ax = torch.where(pv(2) > 0, pv(2), torch.ones_like(pv(2)))
    safe_ay = torch.where(pv(3) > 0, pv(3), torch.ones_like(pv(3)))
    d = _ellipse_d(x, y, pv(0), pv(1), safe_ax, safe_ay, pv(4))  # [n, 4, H, W]
    pres = present.view(n, 4, 1, 1)
    cav = (_soft(d, 0.08) * pres).amax(1, keepdim=True)
    wall = (_soft(d - 0.35, 0.1) * pres).amax(1, keepdim=True)
    contrast = v(0.45 + 0.35 * _ru(g, n))  # gain / image quality varies by patient
    tissue = 0.34 + contrast * 0.4 * (wall - cav).clamp(0, 1)
    tissue = tissue * (1 - contrast * cav)
    # speckle: multiplicative Rayleigh-like noise, smoothed
    sp = torch.sqrt(_rn(g, n, 1, size, size) ** 2 + _rn(g, n, 1, size, size) ** 2) / 1.25
    sp = _blur(sp, 0.6 * size / 112)
    atten = 1.0 - 0.25 * (rr / depth).clamp(0, 1)
    img = tissue * sp * atten * v(site_gain[site_id] * (1 + 0.1 * _rn(g, n)))
    img = (img * sector * mask.float()).clamp(0, 1)  # exactly black outside the sector

    # Metadata overlays on the black background.
    ov = torch.zeros(n, size, size)
    bank = _glyph_bank()
    sc = max(1, size // 112)
    gw = 4 * sc
    # 'style' -> which tag glyphs appear in the header, where the calibration bar is, which marker.
    st = style
    id_site = (site_id == 0)
    glyph_off = torch.where(id_site, torch.zeros_like(st), 24 + (site_id % 3) * 6)
    # header text: 3 style-tag glyphs + 5 random glyphs (patient info), top left
    y0 = torch.where(id_site, torch.full_like(st, 3 * sc), torch.full_like(st, 6 * sc))
    for j in range(8):
        if j < 3:
            gid = (glyph_off + st * 3 + j) % _GLYPHS_N
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
    bar_x = torch.where(id_site, bar_x, bar_x + torch.where(side_right, -3 * sc, 3 * sc))
    spacing = (4 + (st // 2) * 3) * sc
    rows = torch.arange(size).view(1, size)
    tick = ((rows % spacing.view(n, 1)) < sc) & (rows > size * 0.3) & (rows < size * 0.9)
    cols = torch.arange(size).view(1, 1, size)
    bar = tick.unsqueeze(2) & ((cols - bar_x.view(n, 1, 1)).abs() <= sc)
    ov = torch.maximum(ov, 0.8 * bar.float())
    # measurement marker '+' near the sector's lower edge, position by style
    mk_x = (size * (0.22 + 0.18 * st.float())).long()
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
    img = torch.maximum(img, ov)
    return _to_u8(img), mask
