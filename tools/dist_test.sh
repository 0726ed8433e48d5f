#!/usr/bin/env bash
# Test on GPUS processes per node with torchrun (PyTorch DDP through mmengine); without CUDA,
# GPUS processes on the CPU (gloo). The metrics equal those of one process.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each node.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
"${PYTHON:-python}" "$(dirname "$0")/torchrun.py" \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
