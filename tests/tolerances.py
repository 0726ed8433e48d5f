"""Every numeric tolerance of the tests, in one place, each with the reason it is not zero.

Where the README promises equality (a resumed run continues as the uninterrupted one, the same
seed gives the same losses, a skipped step changes nothing) the tests compare exactly
(``torch.equal``, ``==``) and no constant here applies.
"""

# Deploy fusion folds BatchNorm into the convolutions: float32 rounding of the folded weights
# moves outputs by this much (the README: "outputs equal within 1e-5"), detection scores alike.
DEPLOY_FOLDING_ATOL = 1e-5

# A box corner is decoded as centre + dx * anchor - exp(dw) * anchor / 2: the folding's 1e-5 on
# the regression outputs times anchors of up to 575 px (the demo RetinaNet's 2 * 128 * 2**(2/3)
# * sqrt(2)) and boxes as wide, in pixels.
DEPLOY_FOLDING_BOX_ATOL_PX = DEPLOY_FOLDING_ATOL * 1000

# DDP averages the ranks' gradients with gloo's all-reduce, which sums in another order than one
# process summing over its batch: float32 rounding, on weights and detections alike.
DDP_VS_ONE_PROCESS_ATOL = 1e-5

# tools/analysis_tools/benchmark.py prints every figure with 2 decimals (plus float slack).
TWO_DECIMALS_ROUNDING = 0.005 + 1e-9

# Segmentation metrics printed and stored with 2 decimals, compared with values computed here
# to full precision (0.005 of rounding plus float slack).
PRINTED_METRIC_ROUNDING = 0.0051

# tools/demo.py's timing line: the total in minutes with 1 decimal (+-3 s) and four stages in
# whole seconds (+-0.5 s each).
DEMO_TIMING_ROUNDING_S = 3 + 4 * 0.5

# ONNX Runtime's float32 kernels sum in another order than PyTorch's (and fuse differently):
# raw graph outputs differ by this much relative to their magnitude, the export tool's own limit
# (lsnet_dense.deploy.TOLERANCE; measured 5e-7 to 1e-6). End-to-end predictions are held to
# issue 22's limits instead, lsnet_dense/deploy/end2end_check.py (boxes 1e-3 px, scores 1e-4).
ONNX_VS_PYTORCH_RELATIVE = 1e-4

# A compiled step runs the same float32 operations, but inductor fuses and reorders sums (and
# AOTAutograd may recompute instead of saving): losses and each gradient relative to its largest
# entry agree to float32 rounding accumulated over the network (measured 2e-6 with inductor on
# the demo RetinaNet, 0 with aot_eager).
COMPILED_VS_EAGER_RTOL = 1e-4
