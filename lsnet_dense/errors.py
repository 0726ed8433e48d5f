"""The toolkit's errors: what the tools report as ``error: ...`` with a non-zero exit code."""


class PreflightError(Exception):
    """A problem with the user's files or config, reported before anything is built."""


class CheckpointMismatchError(PreflightError):
    """A checkpoint whose tensors do not fit the model it is loaded into."""


class ExportMismatch(Exception):
    """ONNX Runtime differs from PyTorch by more than the tolerance.

    ``report`` is the :class:`lsnet_dense.deploy.ExportReport` with every difference measured.
    """

    def __init__(self, report, tolerance: float):
        super().__init__(f'ONNX Runtime differs from PyTorch by {report.worst:.3g} relative to '
                         f'the output magnitude (tolerance {tolerance:g})')
        self.report = report


class UntrustedCheckpointError(PreflightError):
    """A checkpoint whose pickle needs a Python global that the toolkit does not load unless
    told the file is trusted (see :func:`lsnet_dense.checkpoints.load_checkpoint_file`)."""
