"""mmseg's IoU metric, returning the per-class values it otherwise only prints."""
from typing import Dict, List

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from .segmentation_report import PER_CLASS_KEY


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` that also returns the per-class results.

    The summary metrics (``aAcc``, ``mIoU``, ``mAcc``, ...) are mmseg's own. Added is
    ``metrics['per_class']``: ``{class name: {'IoU': value, 'Acc': value, ...}}`` in percent,
    rounded to two decimals like mmseg's table, with ``None`` where a ratio is 0/0 (IoU of a
    class neither in the ground truth nor predicted, Acc of one absent from the ground truth).
    It is a non-scalar, so mmengine keeps it out of the scalar logs while ``Runner.test()``
    returns it (see tools/test.py).
    Arguments are those of ``IoUMetric``.
    """

    def compute_metrics(self, results: List[tuple]) -> Dict[str, object]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        # ``results`` holds one (intersect, union, pred area, label area) tuple per image.
        totals = [sum(areas) for areas in zip(*results)]
        per_class = self.total_area_to_metrics(*totals, self.metrics, self.nan_to_num, self.beta)
        per_class.pop('aAcc')
        # Rounded like mmseg's printed table, so the two agree to the last digit.
        percent = {key: np.round(values * 100, 2) for key, values in per_class.items()}
        metrics[PER_CLASS_KEY] = {
            name: {key: None if np.isnan(values[i]) else round(float(values[i]), 2)
                   for key, values in percent.items()}
            for i, name in enumerate(self.dataset_meta['classes'])}
        return metrics
