"""What the ONNX-backed detectors and segmentors share: they can predict only."""


class InferenceOnly:
    """Training entry points of an ONNX-backed model refuse clearly."""

    def loss(self, *args, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} runs an exported ONNX file: it can '
                                  'only predict, not be trained')

    def _forward(self, *args, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} has no tensor mode: its network is '
                                  'the ONNX file itself')
