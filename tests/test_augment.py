import math

import pytest
import torch

from shortcutlab import ImageSet, ShortcutlabError
from shortcutlab.interventions.background import (CONDITIONS, bg, bokeh_bg, cutmix, donor_swap, gaussian_blur, intervene,
                                                  noise_bg, noise_values, seg, select, select_masked_fraction, shuffle_bg,
                                                  wbackmix_weights)
from shortcutlab.interventions.geometric import GeometricParams, geometric, two_views
from shortcutlab.interventions.pipeline import BatchPipeline


def _batch(b=6, f=2, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, f, h, w, generator=g)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    cy = torch.randint(5, 11, (b, 1, 1, 1), generator=g)
    m = ((yy - cy) ** 2 + (xx - 8) ** 2 < torch.randint(6, 16, (b, f, 1, 1), generator=g))
    return x, m


def test_seg_and_bg_definitions():
    x, m = _batch()
    s = seg(x, m, fill=0.25)
    assert torch.equal(s[m], x[m]) and bool((s[~m] == 0.25).all())
    b = bg(x, m)
    assert torch.equal(b[~m], x[~m]) and bool((b[m] == 0).all())  # bg leaves no object pixel


def test_donor_swap_replays_formula():
    x, m = _batch(b=8)
    apply = torch.tensor([1, 1, 0, 1, 1, 1, 0, 1], dtype=torch.bool)
    pool = torch.tensor([0, 1, 3, 4, 5, 7])  # only samples with masks donate
    self_idx = torch.full((8,), -1)
    self_idx[pool] = torch.arange(6)
    g = torch.Generator().manual_seed(5)
    out, donor = donor_swap(x, m, apply, x, m, generator=g, pool=pool, self_index=self_idx)
    assert (donor[~apply] == -1).all()
    assert bool(torch.isin(donor[apply], pool).all())  # donors come from the masked pool
    assert bool((donor[apply] != torch.arange(8)[apply]).all())  # never its own donor
    for i in torch.nonzero(apply).flatten().tolist():
        j = int(donor[i])
        expect = torch.where(m[i], x[i], torch.where(m[j], torch.zeros_like(x[j]), x[j]))
        assert torch.equal(out[i], expect)
    assert torch.equal(out[~apply], x[~apply])
    # replay the seeded generator: same donors
    out2, donor2 = donor_swap(x, m, apply, x, m, generator=torch.Generator().manual_seed(5), pool=pool,
                              self_index=self_idx)
    assert torch.equal(donor, donor2) and torch.equal(out, out2)


def test_shuffle_preserves_background_multiset_and_object():
    x, m = _batch()
    apply = torch.ones(6, dtype=torch.bool)
    out = shuffle_bg(x, m, apply, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[m], x[m])
    for i in range(6):
        for f in range(2):
            a, b = x[i, f][~m[i, f]], out[i, f][~m[i, f]]
            assert torch.equal(torch.sort(a).values, torch.sort(b).values)
            assert not torch.equal(a, b)


def _get_noise_replayed(x, m, apply, generator, values=None):
    """BackMix's Noise as its code writes it (``get_noise`` and ``__getitem__``: ``noise = uniform(0, 30, 112 *
    112)`` once; per image ``shuffle(noise)``, ``frame[mask == 0] = noise[mask == 0]``, then ``/ 255``), one frame
    at a time, with this package's draws: the values, then one tensor of shuffle keys for the batch."""
    b, f, h, w = x.shape
    noise = torch.rand(h * w, generator=generator) * (30 / 255) if values is None else values
    keys = torch.rand(b, f, h * w, generator=generator)
    out = x.clone()
    for i in range(b):
        if not apply[i]:
            continue
        for j in range(f):
            shuffled = noise[torch.argsort(keys[i, j])].reshape(h, w)
            frame = out[i, j]
            frame[~m[i, j]] = shuffled[~m[i, j]]
    return out


def test_noise_and_bokeh():
    x, m = _batch()
    apply = torch.tensor([True, False, True, True, True, True])
    n = noise_bg(x, m, apply, generator=torch.Generator().manual_seed(7))
    assert torch.equal(n, _get_noise_replayed(x, m, apply, torch.Generator().manual_seed(7)))
    assert torch.equal(n[m], x[m]) and torch.equal(n[1], x[1]) and not torch.equal(n[0], x[0])
    bgv = n[0][~m[0]]
    assert bool(((bgv >= 0) & (bgv < 30 / 255)).all())
    # one array for the data set: each frame's noise is a permutation of the same values
    vals = noise_values(x.shape[2], x.shape[3], generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(9)
    full = torch.zeros_like(m)  # no object: every pixel is background, so each frame holds all the values
    k = noise_bg(x, full, torch.ones(len(x), dtype=torch.bool), generator=g, values=vals)
    for i in range(len(x)):
        for j in range(x.shape[1]):
            assert torch.equal(torch.sort(k[i, j].flatten()).values, torch.sort(vals).values)
    assert not torch.equal(k[0, 0], k[1, 0])
    assert torch.equal(k, _get_noise_replayed(x, full, torch.ones(len(x), dtype=torch.bool),
                                              torch.Generator().manual_seed(9), values=vals))
    k = bokeh_bg(x, m, apply, sigma=2.0)
    blurred = gaussian_blur(x, 2.0)
    assert torch.equal(k[m], x[m]) and torch.allclose(k[0][~m[0]], blurred[0][~m[0]])
    # blur of a constant image is the constant
    assert torch.allclose(gaussian_blur(torch.full((1, 1, 9, 9), 0.3), 2.0), torch.full((1, 1, 9, 9), 0.3))


def test_cutmix_box_and_soft_labels():
    x, _ = _batch(b=8)
    y = torch.arange(8) % 3
    out, soft, info = cutmix(x, y, 3, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(soft.sum(1), torch.ones(8))
    perm, area = info["partner"], info["box_area"]
    for i in range(8):
        changed = (out[i] != x[i]).any(0)
        from_partner = (out[i] == x[perm[i]]).all(0)
        assert bool(from_partner[changed].all())
        if perm[i] != i:
            assert math.isclose(float(changed.float().mean()), float(area[i]), abs_tol=1e-6)
        expect = torch.zeros(3)
        expect[y[i]] += 1 - area[i]
        expect[y[perm[i]]] += area[i]
        assert torch.allclose(soft[i], expect)


def test_masked_fraction_exact_and_weights_formula():
    has = torch.ones(200, dtype=torch.bool)
    has[:10] = False
    with pytest.raises(ShortcutlabError, match="asks for 200 masked samples.*only 190"):
        select_masked_fraction(has, 1.0, generator=torch.Generator())
    for f in (0.9, 0.5, 0.05, 0.01):
        sel = select_masked_fraction(has, f, generator=torch.Generator().manual_seed(0))
        assert int(sel.sum()) == round(f * 200) and not sel[:10].any()
    sel = select_masked_fraction(has, 0.05, generator=torch.Generator().manual_seed(0))
    for lam in (0.0, 1.0, 2.0):
        w = wbackmix_weights(sel, 0.05, lam)
        assert torch.allclose(w[sel], torch.full((int(sel.sum()),), 1 + lam * 0.95))
        assert torch.allclose(w[~sel], torch.full((int((~sel).sum()),), 1 - lam * 0.05))
        assert math.isclose(float(w.mean()), 1.0, rel_tol=1e-6)  # the re-weighting keeps the mean loss scale


def test_geometric_moves_image_and_mask_together_same_draw_for_frames():
    x, m = _batch(b=8, f=2, h=32, w=32)
    m[:, 1] = m[:, 0]
    img = m.float()  # the image is its mask: both must land in the same place
    img2 = torch.cat([img[:, :1], img[:, :1]], 1)
    p = GeometricParams(rotate=30, flip_p=0.5, scale_min=0.6)
    out, om, info = geometric(img2, m, p, generator=torch.Generator().manual_seed(0))
    assert om.dtype == torch.bool
    inter = ((out > 0.5) & om).sum((2, 3)).float()
    union = ((out > 0.5) | om).sum((2, 3)).float().clamp(min=1)
    assert bool((inter / union > 0.85).all())
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(om[:, 0], om[:, 1])  # frames share the draw
    # replay: the same seed gives the same theta
    _, _, info2 = geometric(img2, m, p, generator=torch.Generator().manual_seed(0))
    assert torch.equal(info["theta"], info2["theta"])
    # identity parameters leave the image unchanged
    ident = GeometricParams(rotate=0, flip_p=0, scale_min=1.0)
    same, sm, _ = geometric(x, m, ident, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5) and torch.equal(sm, m)


def test_two_views_independent():
    x, _ = _batch(b=4)
    a, b = two_views(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and not torch.allclose(a, b)
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def _set(n=24, masks=True):
    x, m = _batch(b=n)
    return ImageSet(images=(x * 255).to(torch.uint8), labels=torch.arange(n) % 3, class_names=["a", "b", "c"],
                    masks=m if masks else None)


def test_pipeline_seeded_and_eval_deterministic():
    s = _set()
    geo = GeometricParams()
    a = [b.x for b in BatchPipeline(s, "backmix", batch_size=8, geometric=geo, f=0.5, seed=3)]
    b = [b.x for b in BatchPipeline(s, "backmix", batch_size=8, geometric=geo, f=0.5, seed=3)]
    c = [b.x for b in BatchPipeline(s, "backmix", batch_size=8, geometric=geo, f=0.5, seed=4)]
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and not all(torch.equal(u, v) for u, v in zip(a, c))
    ev = list(BatchPipeline(s, "seg", batch_size=10, train=False))
    assert [len(b.y) for b in ev] == [10, 10, 4]
    xs = torch.cat([b.x for b in ev])
    assert torch.equal(xs, seg(s.float_images(), s.masks))


def test_pipeline_backmix_fraction_weights_and_donors():
    s = _set(n=40)
    p = BatchPipeline(s, "backmix", batch_size=40, f=0.25, lam=2.0, seed=0)
    assert int(p.augmented.sum()) == 10
    (batch,) = list(p)
    assert torch.equal(batch.augmented, p.augmented[batch.index])
    assert torch.allclose(batch.weight, wbackmix_weights(batch.augmented, 0.25, 2.0))
    # non-augmented samples are untouched (no geometric aug here)
    untouched = ~batch.augmented
    assert torch.equal(batch.x[untouched], s.float_images()[batch.index][untouched])


def test_pipeline_noise_draws_its_values_once_per_data_set():
    """Every batch's noise comes from the one array the pipeline drew from its seed (BackMix's ``get_noise`` runs
    once, in the data set's constructor): each background pixel holds one of those values."""
    s = _set(n=24)
    p = BatchPipeline(s, "noise", batch_size=8, seed=3)
    g = torch.Generator().manual_seed(3)  # the pipeline's draws, replayed: the masked subset, then the noise
    select_masked_fraction(s.has_mask, 1.0, generator=g)
    want = noise_values(*s.size, generator=g)
    assert torch.equal(p._noise, want)
    allowed = set(want.tolist())
    for b in p:
        m = s.masks[b.index]
        got = b.x[~m]
        assert set(got.tolist()) <= allowed and bool((got < 30 / 255).all())


@pytest.mark.parametrize("kw,match", [
    (dict(condition="seg", masks=False), "needs masks"),
    (dict(condition="backmix", f=0.0), r"'f' parameter of BatchPipeline must be a float in \(0, 1\]"),
    (dict(condition="backmix", f=1.5), r"'f'.*Got 1.5"),
    (dict(condition="backmix", lam=-1.0), "'lam' parameter.*>= 0.*Got -1.0"),
    (dict(condition="rand", batch_size=1), "at least 2.*batch of one"),
    (dict(condition="backmixx"), "'condition'.*'backmix'.*Did you mean"),
])
def test_pipeline_bad_input(kw, match):
    masks = kw.pop("masks", True)
    cond = kw.pop("condition")
    with pytest.raises(ShortcutlabError, match=match):
        BatchPipeline(_set(masks=masks), cond, **kw)


def test_intervene_batch_of_one_and_unknown():
    x, m = _batch(b=1)
    with pytest.raises(ShortcutlabError, match="at least 2 samples"):
        intervene("rand", x, m, generator=torch.Generator())
    with pytest.raises(ShortcutlabError, match="at least 2 samples"):
        cutmix(x, torch.tensor([0]), 2, generator=torch.Generator())
    with pytest.raises(ShortcutlabError, match="'condition'.*one of"):
        intervene("mixup", x, m, generator=torch.Generator())
    with pytest.raises(ShortcutlabError, match="'masks' parameter.*None"):
        intervene("noise", x, None, generator=torch.Generator())
    assert set(CONDITIONS) >= {"full", "seg", "bg", "rand", "backmix", "black", "noise", "shuffle", "bokeh", "cutmix"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")
def test_cpu_equals_cuda():
    s = _set()
    geo = GeometricParams()
    for cond in ("rand", "backmix", "shuffle", "noise", "bokeh", "cutmix"):
        a = [b.x for b in BatchPipeline(s, cond, batch_size=8, geometric=geo, f=0.5, seed=3)]
        b = [b.x.cpu() for b in BatchPipeline(s, cond, batch_size=8, geometric=geo, f=0.5, seed=3, device="cuda")]
        assert all(torch.allclose(u, v, atol=1e-4) for u, v in zip(a, b)), cond


def test_affine_grid_matches_torch():
    from shortcutlab.interventions.geometric import _affine, _affine_grid
    theta, _ = _affine(5, GeometricParams(rotate=30, scale_min=0.6), torch.Generator().manual_seed(1))
    for h, w in ((16, 16), (12, 20)):
        ref = torch.nn.functional.affine_grid(theta, (5, 2, h, w), align_corners=False)
        assert torch.allclose(_affine_grid(theta, h, w), ref, atol=1e-6)


@pytest.mark.parametrize("cond", ["seg", "bg", "black", "rand", "backmix"])
def test_uint8_interventions_equal_float(cond):
    """The pipeline mixes stored uint8 images for selection-only conditions: same values as in float."""
    x, m = _batch(b=8)
    x8 = (x * 255).round().to(torch.uint8)
    xf = x8.float() / 255
    apply = torch.tensor([1, 0, 1, 1, 0, 1, 1, 1], dtype=torch.bool)
    kw = dict(apply=apply, fill=51 / 255)
    if cond == "backmix":
        kw.update(donor_images=x8, donor_masks=m, pool=torch.tensor([0, 2, 3, 5, 6]))
    a, _, ia = intervene(cond, x8, m, generator=torch.Generator().manual_seed(2), **kw)
    kw["donor_images"] = xf if cond == "backmix" else None
    if cond != "backmix":
        kw.pop("donor_images")
    b, _, ib = intervene(cond, xf, m, generator=torch.Generator().manual_seed(2), **kw)
    assert a.dtype == torch.uint8 and torch.equal(a.float() / 255, b)
    # pre-blanked donors (what a pipeline keeps resident) give the same mix as blanking per batch
    if cond == "backmix":
        blanked = x8.masked_fill(m, 51)
        c, donor = donor_swap(x8, m, apply, blanked, None, generator=torch.Generator().manual_seed(2),
                              fill=51 / 255, pool=torch.tensor([0, 2, 3, 5, 6]))
        assert torch.equal(c, a) and torch.equal(donor, ia["donor"])
    with pytest.raises(ShortcutlabError, match=r"'fill' parameter of seg must be a multiple of 1/255.*Got 0.3"):
        seg(x8, m, fill=0.3)


def test_pipeline_trailing_batch_of_one_joins_previous():
    s = _set(n=17)
    for cond in ("rand", "cutmix"):
        p = BatchPipeline(s, cond, batch_size=8, seed=0)
        sizes = [len(b.y) for b in p]
        assert sizes == [8, 9] and len(p) == 2
        assert sorted(torch.cat([b.index for b in p]).tolist()) == list(range(17))  # nothing dropped
    assert [len(b.y) for b in BatchPipeline(s, "full", batch_size=8)] == [8, 8, 1]
    assert [len(b.y) for b in BatchPipeline(s, "rand", batch_size=8, drop_last=True)] == [8, 8]


def test_pipeline_intervenes_before_geometric():
    """Swap first, then transforms (seed order): with identity geometry the batch equals the bare swap."""
    s = _set(n=16)
    ident = GeometricParams(rotate=0, flip_p=0, scale_min=1.0, brightness=0, contrast=0)
    (a,) = list(BatchPipeline(s, "rand", batch_size=16, geometric=ident, seed=1))
    (b,) = list(BatchPipeline(s, "rand", batch_size=16, geometric=None, seed=1))
    assert torch.allclose(a.x, b.x, atol=1e-6)
    bg_pix = ~s.masks[b.index]
    assert not torch.equal(b.x[bg_pix], s.float_images()[b.index][bg_pix])  # backgrounds were swapped
    assert torch.equal(b.x[~bg_pix], s.float_images()[b.index][~bg_pix])    # hearts untouched


def test_pipeline_seg_training_input_is_exactly_heart_only():
    """seg/bg/black pin pixels to `fill` after the transforms (replayed here), so training sees test's input."""
    from shortcutlab.interventions.geometric import intensity
    from shortcutlab.interventions.pipeline import POST_TRANSFORM, PRE_TRANSFORM
    assert set(PRE_TRANSFORM) | set(POST_TRANSFORM) | {"full", "baseline", "sma_variant"} == set(CONDITIONS)
    s = _set(n=16)
    geo = GeometricParams(brightness=0.2, contrast=0.3)
    (b,) = list(BatchPipeline(s, "seg", batch_size=16, geometric=geo, seed=7, fill=0.0))
    g = torch.Generator().manual_seed(7)
    idx = torch.randperm(16, generator=g)
    x, m, _ = geometric(s.float_images()[idx], s.masks[idx], geo, generator=g)
    x = intensity(x, geo, generator=g)
    assert torch.equal(b.index, idx) and torch.allclose(b.x, seg(x, m), atol=1e-6)
    assert bool((b.x[~m] == 0).all())


def test_pipeline_backmix_after_standard_augmentations_replayed():
    """BackMix §2.1: 'We apply BackMix augmentation after standard augmentations' (replayed by formula)."""
    from shortcutlab.interventions.geometric import intensity, warp_masks
    s = _set(n=16)
    geo = GeometricParams(rotate=30)
    p = BatchPipeline(s, "backmix", batch_size=16, geometric=geo, f=0.5, seed=5)
    (b,) = list(p)
    g = torch.Generator().manual_seed(5)
    aug = select_masked_fraction(s.has_mask, 0.5, generator=g)
    idx = torch.randperm(16, generator=g)
    x, _, info = geometric(s.float_images()[idx], None, geo, generator=g)
    x = intensity(x, geo, generator=g)
    m = warp_masks(s.masks[idx], info["theta"])
    pool = torch.nonzero(aug).flatten()
    pos = torch.full((16,), -1)
    pos[pool] = torch.arange(pool.numel())
    out, donor = donor_swap(x, m, aug[idx], s.images, s.masks, generator=g, pool=pool, self_index=pos[idx])
    assert torch.equal(b.augmented, aug[idx]) and torch.allclose(b.x, out, atol=1e-6)
    rows = torch.nonzero(b.augmented).flatten()
    assert bool((donor[rows] >= 0).all()) and bool(aug[donor[rows]].all())  # donors only from the masked f


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64])
def test_select_is_torch_where_bit_for_bit(dtype):
    """select() (bitwise, the pipeline's fast path) equals torch.where on every bit pattern, with scalars
    on either side and a per-row condition broadcast over frames and pixels."""
    g = torch.Generator().manual_seed(5)
    if dtype.is_floating_point:
        a = torch.randn(4, 2, 8, 8, generator=g).to(dtype)
        b = torch.randn(4, 2, 8, 8, generator=g).to(dtype)
        a[0, 0, 0, :3] = torch.tensor([float("nan"), -0.0, float("inf")]).to(dtype)
    else:
        a = torch.randint(0, 200, (4, 2, 8, 8), generator=g).to(dtype)
        b = torch.randint(0, 200, (4, 2, 8, 8), generator=g).to(dtype)
    cond = torch.rand(4, 2, 8, 8, generator=g) < 0.5
    rows = torch.tensor([True, False, True, False]).view(-1, 1, 1, 1)

    def same(u, v):  # bit patterns, so NaN and -0.0 count
        return u.dtype == v.dtype and u.shape == v.shape and torch.equal(u.view(torch.uint8), v.view(torch.uint8))

    assert same(select(cond, a, b), torch.where(cond, a, b))
    assert same(select(rows, a, b), torch.where(rows, a, b))
    assert same(select(cond, a, 3), torch.where(cond, a, torch.tensor(3, dtype=dtype)))
    assert same(select(cond, 7, b), torch.where(cond, torch.tensor(7, dtype=dtype), b))


def test_select_falls_back_and_rejects_two_scalars():
    m = torch.tensor([True, False])
    assert torch.equal(select(m, m, ~m), torch.where(m, m, ~m))  # bool: torch.where
    assert torch.equal(select(m, torch.tensor([1, 2]), torch.tensor([3.5, 4.5])), torch.tensor([1.0, 4.5]))
    with pytest.raises(ShortcutlabError, match=r"'a' parameter of select must be a tensor.*Got 1 instead"):
        select(m, 1, 2)


def test_wbackmix_weights_stay_non_negative_and_finite():
    """1 - lambda f must not go below 0, and lambda must be finite: both are errors naming lambda."""
    aug = torch.tensor([True, False])
    w = wbackmix_weights(aug, 0.5, 2.0)  # lambda f = 1: the edge is allowed (weight 0)
    assert torch.equal(w, torch.tensor([2.0, 0.0]))
    for lam in (2.5, float("inf"), float("nan")):
        with pytest.raises(ShortcutlabError, match=r"'lambda' parameter of wbackmix_weights.*\[0, 2"):
            wbackmix_weights(aug, 0.5, lam)
