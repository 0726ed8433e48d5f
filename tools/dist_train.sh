#!/usr/bin/env bash
# Train on GPUS processes per node with torchrun (PyTorch DDP through mmengine); without CUDA,
# GPUS processes on the CPU (gloo).
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each node.
set -euo pipefail
CONFIG=$1
GPUS=$2
"${PYTHON:-python}" "$(dirname "$0")/torchrun.py" \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
