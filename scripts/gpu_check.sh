#!/usr/bin/env bash
# The GPU check (and the packing check), one prepared run on a GPU machine without internet.
# Prepare on the CPU with scripts/gpu_prepare.sh, then on the GPU machine, from the repository root:
#   bash scripts/gpu_check.sh OUT_DIR
# It writes, each phase as it finishes (a phase that runs out of time does not stop the next):
#   OUT_DIR/versions.txt  python, torch, CUDA, cuDNN, timm, the card, the CPU
#   OUT_DIR/pytest_cuda.txt  the CPU-vs-CUDA equality test of the augmentations and tests/test_cuda.py
#   OUT_DIR/bench_cuda.{txt,json}  `shortcutlab bench --device cuda`: sections 1-5 and the papers' models (a), (b), (c)
#   OUT_DIR/pack.json  the default study's independent jobs, 1 at a time vs k sharing the GPU
set -uo pipefail
OUT=${1:-gpu_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
PY=${PY:-$(command -v python3 || command -v python)}
DEVICE=${DEVICE:-cuda}   # DEVICE=cpu: a dry run of the script's plumbing on a CPU machine (small sizes, no paper models)
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 PYTHONUNBUFFERED=1
phase() { echo; echo "== $(date -u +%T) $*"; }

phase "versions"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  $PY - <<'PY'
import platform, sys
import torch, timm
print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| cuDNN", torch.backends.cudnn.version(), "| timm", timm.__version__)
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")
PY
  grep -m1 "model name" /proc/cpuinfo; echo "cores $(nproc)"
} 2>&1 | tee "$OUT/versions.txt"

SITE=$(mktemp -d)   # outside the tree: a dry run leaves nothing to carry next time
phase "install: carried wheels into $SITE, the package with --no-deps"
$PY -m pip install -q --no-deps --no-index --target "$SITE" .gpu_run/wheels/*.whl 2>&1 | tail -3
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
if $PY -m pip install -q --no-deps --no-build-isolation -e . 2>"$OUT/install_package.txt"; then
  echo "shortcutlab installed (editable, --no-deps)"
else
  echo "editable install failed (see install_package.txt); using PYTHONPATH=$PWD"
  export PYTHONPATH="$PWD:$PYTHONPATH"
fi
$PY -c "import shortcutlab, pytorch_grad_cam, cv2; print('shortcutlab', shortcutlab.__version__, 'from', shortcutlab.__file__)"

phase "correctness on CUDA"
timeout 150 $PY -m pytest -q -p no:cacheprovider -o addopts="-ra" tests/test_augment.py::test_cpu_equals_cuda \
    tests/test_cuda.py 2>&1 | tee "$OUT/pytest_cuda.txt" | tail -25

phase "shortcutlab bench --device cuda (sections 1-5 at smoke size, then the papers' models)"
PAPER=$([ "$DEVICE" = cuda ] && echo --paper-models || echo --no-paper-models)
timeout 240 $PY -m shortcutlab bench --preset smoke --device "$DEVICE" $PAPER --out "$OUT/bench_cuda.json" 2>&1 \
    | tee "$OUT/bench_cuda.txt"

phase "packing: the default study's independent jobs, 1 vs k at once on one GPU"
timeout 170 $PY scripts/gpu_pack.py pack --jobs .gpu_run/jobs.json --k "${PACK_K:-1,4,8}" --device "$DEVICE" \
    --preset "${PACK_PRESET:-default}" --max-jobs "${PACK_JOBS:-16}" --out "$OUT/pack.json" 2>&1 | grep -v -i warn | tail -8
phase "done"
