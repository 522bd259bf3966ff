#!/usr/bin/env bash
# The main job, end to end: compile examples/basic/simple_mlp.triton to PyTorch, train it on
# MNIST for 10 epochs on the CPU, evaluate the best checkpoint, and print the metrics table
# (accuracy, packed size, compression, latency, training time, each beside the expected value).
# MNIST is read from $TRITON_DATA, else from the shared datasets folder beside the checkout
# when there is one, else downloaded (with checksum verification) into the user cache.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
repo=$(pwd)
out="$repo/runs/simple_mlp"
mkdir -p "$out"

data_args=()
if [ -z "${TRITON_DATA:-}" ] && [ -d "$repo/../shared/datasets/mnist" ]; then
  data_args=(--data-path "$repo/../shared/datasets/mnist")
fi

triton compile examples/basic/simple_mlp.triton --output "$out/simple_mlp.py"
cd "$out"
python simple_mlp.py --train --dataset mnist --epochs 10 "${data_args[@]}"
python simple_mlp.py --eval --checkpoint simple_mlp_best.pth --dataset mnist "${data_args[@]}"
