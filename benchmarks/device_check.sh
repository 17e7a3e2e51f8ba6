#!/usr/bin/env bash
# The GPU checks as one call on a lent GPU machine (its python3 holds torch, numpy, scikit-learn
# and pytest; no MLflow, no librosa, no network): the CUDA tests (the musicnn port among them),
# the musicnn network's cost per clip (issue 14), then issue 16's GPU target (conv_vae and
# hybrid_vae epochs at 10,000 rows, CUDA against the same machine's CPU threads, in float32
# and bfloat16, at batches of 64 and 512).
#
# Here first, where the data, librosa and the musicnn weights are (the inputs are the
# gtzan-mini features each encoder reads by default; the benchmark repeats their rows up to
# 10,000 there; the weights are 37 MB):
#
#     python benchmarks/encoders.py --encoders conv_vae,hybrid_vae --save-inputs .device/inputs.pkl
#     python -c "import musicnn, os; print(os.path.dirname(musicnn.__file__))" \
#         | xargs -I{} sh -c 'mkdir -p .device/musicnn && cp -r {}/M* .device/musicnn/'
#
# Then on the machine, with `.device` carried: `bash benchmarks/device_check.sh` (about 6-7
# minutes on an H200 with 16 CPU threads, most of it the CPU's epochs). It writes gpu.txt,
# cuda-tests.txt, musicnn-network.md and .json, encoders-10000.md and .json under $OUT (the
# device tool's output folder), or under benchmarks/results/device elsewhere. ROWS, EPOCHS
# and CLIPS change the sizes (a quick try here: ROWS=400 EPOCHS=2 CLIPS=2).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/device}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
# the plugins load through their entry points, so the package is installed (offline: the
# image's setuptools builds it, and --no-deps leaves the image's packages as they are)
python3 -m pip install --quiet --no-deps --no-build-isolation -e .
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
fi
if [ -f .device/musicnn/MSD_musicnn/.index ]; then
    export MUSICNN_WEIGHTS=$PWD/.device/musicnn
fi
status=0  # a failing test is recorded, and the timings still run
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$out/cuda-tests.txt" \
    || status=$?
python3 benchmarks/musicnn_network.py --clips "${CLIPS:-30}" --results "$out" || status=$?
python3 benchmarks/encoders.py --inputs .device/inputs.pkl --rows "${ROWS:-10000}" \
    --epochs "${EPOCHS:-5}" --encoders conv_vae,hybrid_vae --batch-sizes 64,512 \
    --precisions float32,bfloat16 --results "$out"
exit "$status"
