"""The CUDA path: training, prediction, maps and pretraining on a GPU agree with the CPU path.

CI has no GPU, so these tests are skipped there (with that reason); ``scripts/gpu_check.sh`` runs them on a GPU
machine, together with ``test_augment.py::test_cpu_equals_cuda``. The CPU-side pieces they rely on (the loss read
once per epoch, evaluation on the model's device) are pinned by the CPU tests of fit and the study cache.
"""
import numpy as np
import pytest
import torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")


def _data(n=48):
    from shortcutlab.data.phantoms import make_cmr

    return make_cmr("cm", n, 32, seed=0)


@needs_cuda
def test_fit_and_predict_on_cuda_match_cpu():
    from shortcutlab.models import build_model
    from shortcutlab.train import TrainSettings, fit, predict

    d = _data()
    s = TrainSettings(epochs=3, batch_size=16, select_metric="last", device="cuda")
    torch.manual_seed(0)
    res = fit(build_model("sl_cnn", d.num_classes, d.num_frames), d, None, condition="rand", settings=s, seed=0,
              progress=False)
    losses = [h["train_loss"] for h in res.history]
    assert all(np.isfinite(losses)) and len(losses) == 3
    assert next(res.model.parameters()).is_cuda
    p_gpu = predict(res.model, d, device="cuda")
    assert p_gpu.shape == (len(d), d.num_classes) and np.allclose(p_gpu.sum(1), 1, atol=1e-4)
    cpu_model = res.model.float().cpu().to(memory_format=torch.contiguous_format)
    p_cpu = predict(cpu_model, d, device="cpu")
    # bf16 autocast on the GPU against float32 on the CPU: the same model, probabilities within bf16's precision
    assert np.abs(p_gpu - p_cpu).max() < 0.05
    assert (p_gpu.argmax(1) == p_cpu.argmax(1)).mean() > 0.9


@needs_cuda
def test_study_run_and_maps_on_cuda(tmp_path):
    from shortcutlab import load_preset
    from shortcutlab.study import Study

    cfg = load_preset("smoke", overrides={"train.device": "cuda", "data.cmr_n": 60, "data.cmr_size": 32,
                                          "train.epochs": 2, "saliency.max_images": 8, "metrics.n_bootstrap": 20})
    run = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    assert 0 <= run.metrics["test"]["auc_micro"] <= 1
    gpu_maps = run.cams("test")
    assert gpu_maps["cams"].shape[0] == 8 and np.isfinite(gpu_maps["cams"]).all()
    assert not next(run.model().parameters()).is_cuda  # the maps ran on a copy; the run's model stays on the CPU
    from shortcutlab.saliency.cams import compute_cams

    data = run.study.data("cm")["test"]
    cpu = compute_cams(run.model(), data.float_images()[:8], targets=gpu_maps["pred"])
    assert np.abs(cpu.numpy() - gpu_maps["cams"].astype(np.float32)).max() < 2e-2  # float32 both; float16 stored


@needs_cuda
@pytest.mark.parametrize("method", ["simclr", "moco", "byol"])
def test_pretrain_on_cuda(method):
    from shortcutlab.models import build_model
    from shortcutlab.ssl.contrastive import ContrastiveSettings, pretrain

    d = _data(40)
    s = ContrastiveSettings(epochs=2, batch_size=16, queue_size=32, hidden_dim=32, proj_dim=16, device="cuda")
    res = pretrain(method, d, build_model("sl_cnn", d.num_classes, d.num_frames).encoder, settings=s, seed=0,
                   progress=False)
    assert len(res.history) == 2 and all(np.isfinite(h["loss"]) for h in res.history)
    assert not next(res.encoder.parameters()).is_cuda


@needs_cuda
@pytest.mark.parametrize("cond", ["rand", "backmix", "black", "noise", "shuffle", "bokeh", "cutmix"])
def test_pipeline_never_waits_for_the_gpu(cond):
    """A batch is built without a host-device synchronization (no read-back, no copy from pageable memory), so
    the pipeline's work overlaps the model's. torch's sync debug mode raises at any synchronizing call."""
    from shortcutlab.data.phantoms import make_echo
    from shortcutlab.interventions.geometric import GeometricParams
    from shortcutlab.interventions.pipeline import BatchPipeline

    d = make_echo("id", 64, 32, seed=0)
    pipe = BatchPipeline(d, cond, batch_size=16, geometric=GeometricParams(), f=0.5, lam=1.0, seed=0, device="cuda")
    it = iter(pipe)
    next(it)  # the first batch may allocate and warm up
    torch.cuda.set_sync_debug_mode("error")
    try:
        batches = list(it)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(batches) == 3 and all(b.x.is_cuda for b in batches)
