#!/usr/bin/env bash
# A first look at the workbench on any machine, no download needed: inspect a checkpoint, then measure
# this machine's GEMM and fused-attention speed at SAM 2 sizes. Run from the project root after
# `swift build -c release`.
set -euo pipefail
cd "$(dirname "$0")/.."
wb=.build/release/workbench

# A small PyTorch checkpoint committed with the tests (made by Scripts/fixtures/make_checkpoint_fixtures.py).
# Point it at an official file instead, e.g. `workbench info ~/checkpoints/sam2.1_hiera_tiny.pt`.
"$wb" info Tests/SAM2Tests/Fixtures/checkpoint/small.pt

# GFLOP/s of OpenBLAS sgemm and of the streaming-softmax attention (4096 queries × 28,736 keys × 256).
"$wb" bench gemm --repeats 2
