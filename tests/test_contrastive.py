import math

import pytest
import torch
from conftest import seed_interval
import torch.nn.functional as tF

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.ssl.contrastive import (ContrastiveSettings, MoCoQueue, _Learner, byol_loss, cosine_momentum,
                                     info_nce_loss, momentum_update, nt_xent_loss, pretrain)
from shortcutlab.models import build_model
from shortcutlab.data.phantoms import make_cmr
from shortcutlab.study import Study


def _nt_xent_reference(z1, z2, t):
    """Hand-written loop over the 2N anchors (SimCLR eq. 1)."""
    z = [tF.normalize(v, dim=0) for v in torch.cat([z1, z2])]
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        num = math.exp(float(z[i] @ z[j]) / t)
        den = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n2) if k != i)
        total += -math.log(num / den)
    return total / n2


def test_nt_xent_reference_and_closed_forms():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    assert math.isclose(float(nt_xent_loss(z1, z2, 0.3)), _nt_xent_reference(z1, z2, 0.3), rel_tol=1e-5)
    # identical embeddings everywhere: every logit equal -> log(2N - 1)
    same = torch.ones(4, 3)
    assert math.isclose(float(nt_xent_loss(same, same, 0.5)), math.log(7), rel_tol=1e-6)
    # orthogonal pairs: positive similarity 1, negatives 0
    e = torch.eye(4)
    t = 0.5
    expect = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 6))
    assert math.isclose(float(nt_xent_loss(e, e, t)), expect, rel_tol=1e-6)


def test_info_nce_reference():
    g = torch.Generator().manual_seed(1)
    q, k, queue = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(6, 4, generator=g)
    t = 0.2
    qn, kn, un = tF.normalize(q, dim=1), tF.normalize(k, dim=1), tF.normalize(queue, dim=1)
    ref = 0.0
    for i in range(3):
        logits = [float(qn[i] @ kn[i]) / t] + [float(qn[i] @ un[j]) / t for j in range(6)]
        ref += -logits[0] + math.log(sum(math.exp(v) for v in logits))
    assert math.isclose(float(info_nce_loss(q, k, queue, t)), ref / 3, rel_tol=1e-5)


def test_byol_loss_formula_and_momentum():
    p, z = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    assert math.isclose(float(byol_loss(p, z)), ((2 - 2 * 1) + (2 - 2 * 0)) / 2)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    momentum_update(a, b, 0.9)
    assert torch.allclose(b.weight, 0.9 * wb + 0.1 * wa)
    assert cosine_momentum(0, 10, 0.99) == 0.99 and math.isclose(cosine_momentum(10, 10, 0.99), 1.0)


def test_queue_pointer_wraps():
    q = MoCoQueue(5, 2)
    q.enqueue(torch.tensor([[1.0, 0.0]] * 3))
    assert int(q.ptr) == 3
    q.enqueue(torch.tensor([[0.0, 1.0]] * 3))
    assert int(q.ptr) == 1
    assert torch.allclose(q.keys[0], torch.tensor([0.0, 1.0])) and torch.allclose(q.keys[2], torch.tensor([1.0, 0.0]))


def test_queue_batch_larger_than_queue_equals_one_by_one():
    """A batch of 7 keys into a queue of 3 (pointer at 2) leaves what enqueuing them one at a time leaves."""
    keys = torch.nn.functional.normalize(torch.randn(7, 4, generator=torch.Generator().manual_seed(1)), dim=1)
    a, b = MoCoQueue(3, 4), MoCoQueue(3, 4)
    a.enqueue(keys[:2]), b.enqueue(keys[:2])
    a.enqueue(keys)
    for k in keys:
        b.enqueue(k[None])
    assert int(a.ptr) == int(b.ptr) == (2 + 7) % 3
    assert torch.equal(a.keys, b.keys)


def test_byol_target_gets_no_gradient():
    enc = build_model("sl_cnn", 2).encoder
    s = ContrastiveSettings(hidden_dim=16, proj_dim=8)
    learner = _Learner("byol", enc, s, torch.Generator().manual_seed(0))
    assert learner.projector.net[0].in_features == enc.num_features  # sized from the encoder itself
    x = torch.rand(4, 1, 32, 32)
    learner.loss(x, x.flip(-1), s).backward()
    assert all(p.grad is None for p in learner.t_encoder.parameters())
    assert any(p.grad is not None for p in learner.encoder.parameters())


def test_bad_input():
    s = make_cmr("cm", 8, 32, seed=0)
    enc = build_model("sl_cnn", 4).encoder
    with pytest.raises(ShortcutlabError, match="'method'.*'simclr', 'moco', 'byol'"):
        pretrain("swav", s, enc)
    with pytest.raises(ShortcutlabError, match="'temperature'.*> 0.*Got 0"):
        pretrain("simclr", s, enc, settings=ContrastiveSettings(temperature=0))
    with pytest.raises(ShortcutlabError, match=r"'momentum'.*\[0, 1\)"):
        pretrain("moco", s, enc, settings=ContrastiveSettings(momentum=1.0))
    with pytest.raises(ShortcutlabError, match="'batch_size'.*>= 2"):
        pretrain("simclr", s, enc, settings=ContrastiveSettings(batch_size=1))
    with pytest.raises(ShortcutlabError, match="'queue_size'.*own negatives.*try"):
        pretrain("moco", s, enc, settings=ContrastiveSettings(queue_size=64, batch_size=4))
    with pytest.raises(ShortcutlabError, match="at least 2"):
        nt_xent_loss(torch.ones(1, 3), torch.ones(1, 3))


@pytest.mark.outcome
@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_loss_falls(method):
    """Over four seeds, the lower of the last two epochs' losses is below the first epoch's, on the seeds' interval.
    Measured (AMD EPYC Zen 3, fp32), first minus the lower of the last two, seeds 0-3: SimCLR +0.23 / +0.40 / +0.54 /
    +0.36, BYOL +2.06 / +2.36 / +1.71 / +2.50. MoCo is not asserted: at this size its loss rises while the queue
    fills with real keys (epoch 1) and then falls only +0.19 / -0.20 / -0.05 / -0.02 from epoch 2 in six epochs
    (+0.39 / +0.38 / +0.12 / +0.14 in ten): not decided, so its loss is pinned as a mechanism instead, against
    the hand-written reference (test_info_nce_reference) and through its queue (test_queue_*)."""
    s = make_cmr("cm", 32, 32, seed=0)
    st = ContrastiveSettings(epochs=6, batch_size=16, lr=3e-3, queue_size=16, hidden_dim=32, proj_dim=16)
    falls = []
    for seed in range(4):
        torch.manual_seed(seed)
        enc = build_model("sl_cnn", 4).encoder
        losses = [h["loss"] for h in pretrain(method, s, enc, settings=st, seed=seed, progress=False).history]
        falls.append(losses[0] - min(losses[-2:]))
    r = seed_interval(falls)
    assert r["lo"] > 0, r


@pytest.mark.outcome
def test_pretrained_probe_beats_random_probe(tmp_path):
    """A MoCo-pretrained encoder's linear probe beats a random encoder's linear probe, over three seeds (the seed of
    the pretraining, the encoder's initial weights and the probes).

    From cm n=600 at 64 px (MoCo 3 epochs, probes 12 epochs), one seed each: 0.81 / 0.71 / 0.77 vs 0.53 / 0.58 /
    0.56 micro AUC over data seeds 0-2. Smaller sizes were not robust (n=400, 8 probe epochs: 0.59 vs 0.51; n=240 at
    48 px with SimCLR: 0.57 vs 0.52), so the test uses this size. Over training seeds 0-2 (AMD EPYC Zen 3, fp32) the
    gain is +0.149 micro AUC, interval +0.044 to +0.253.
    """
    cfg = load_preset("smoke", overrides={"data.cmr_n": 600, "data.cmr_size": 64, "train.epochs": 12,
                                          "contrastive.epochs": 3, "contrastive.batch_size": 64,
                                          "contrastive.queue_size": 256, "contrastive.hidden_dim": 256,
                                          "contrastive.proj_dim": 128})
    study = Study(cfg, root=tmp_path, progress=False)
    gain = []
    for seed in (0, 1, 2):
        pre = study.pretrain("moco", "cm", seed=seed)
        probe = study.run("cm", "full", init=pre, probe=True, seed=seed)
        rnd = study.run("cm", "full", probe=True, seed=seed)
        gain.append(probe.metrics["test"]["auc_micro"] - rnd.metrics["test"]["auc_micro"])
    r = seed_interval(gain)
    assert r["lo"] > 0, r


def test_transfer_and_resume(tmp_path, kill_after):
    cfg = load_preset("smoke", overrides={"data.cmr_n": 48, "data.cmr_size": 32, "train.epochs": 1,
                                          "contrastive.epochs": 2, "contrastive.batch_size": 16,
                                          "contrastive.queue_size": 16})
    study = Study(cfg, root=tmp_path, progress=False)
    pre = study.pretrain("simclr", "cm")
    tr = study.run("acdc", "full", init=pre)  # cm-pretrained encoder, finetuned on acdc
    assert "-from-cm-simclr-" in tr.name and tr.spec["num_classes"] == 5
    assert study.pretrain("simclr", "cm").loaded_from_cache
    with pytest.raises(kill_after.Killed):
        study.pretrain("moco", "cm", _on_epoch=kill_after(1))
    resumed = study.pretrain("moco", "cm")
    fresh = Study(cfg, root=tmp_path / "fresh", progress=False).pretrain("moco", "cm")
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in fresh.history], rel=1e-6)
    a, b = resumed.encoder_state(), fresh.encoder_state()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
