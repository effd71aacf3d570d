#!/usr/bin/env bash
# On the CPU machine, before a GPU run: fill .gpu_run/ (git-ignored) with what the GPU machine lacks.
#   * wheels of grad-cam and what it needs beyond torch/timm/scikit-learn/matplotlib (ttach, opencv headless),
#     and pytest (the image may have none); all pure Python or abi3, so any CPython 3.10+ takes them;
#   * jobs.json: the default study's independent training jobs, for the packing check (scripts/gpu_pack.py),
#     listed from a finished default study's cache (runs/default; `make study` makes it).
# Then, with the device tool: carry .gpu_run and run `bash scripts/gpu_check.sh "$OUT"` (about 8 minutes on an H200).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p .gpu_run/wheels
$PY -m pip download -q --no-deps -d .gpu_run/wheels ttach==0.0.3 "opencv-python-headless==4.10.0.84" \
    pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0 2>&1 | grep -v "is ignored" || true
# grad-cam is published as an sdist only: build its wheel here (the GPU machine has no internet for build tools)
$PY -m pip download -q --no-deps --no-binary :all: -d .gpu_run/sdist grad-cam==1.5.7 2>&1 | grep -v "is ignored" || true
$PY -m pip wheel -q --no-deps --no-build-isolation -w .gpu_run/wheels .gpu_run/sdist/grad_cam-1.5.7.tar.gz
rm -rf .gpu_run/sdist
$PY scripts/gpu_pack.py jobs --cache runs/default --out .gpu_run/jobs.json
du -sh .gpu_run   # the device tool carries at most 64 MiB with the working tree
