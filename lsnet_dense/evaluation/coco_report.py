"""Paper-style COCO tables from the metrics that tools/test.py saved (mmdet's CocoMetric)."""
import csv
import io
from typing import Dict, List, Optional

from .markdown import markdown_table
from .published import COCO_COLUMNS, PUBLISHED_COCO

METRIC_SUFFIXES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def _strip_prefix(metrics: Dict[str, float]) -> Dict[str, float]:
    """``coco/bbox_mAP`` -> ``bbox_mAP`` (the evaluator prefixes the metric's name)."""
    return {key.split('/', 1)[-1]: value for key, value in metrics.items()}


def _percent(value: float) -> Optional[float]:
    """A COCOeval fraction in percent; None where COCOeval had nothing to score (-1, nan)."""
    return round(100 * value, 1) if value >= 0 else None


def coco_tables(metrics: Dict[str, float], published: Optional[str] = None) -> Dict[str, List]:
    """Summary rows per IoU type and per-class rows, in percent.

    Args:
        metrics: the ``metrics`` of a test_metrics.json (fractions, as CocoMetric returns them).
        published: a key of ``PUBLISHED_COCO`` to add the paper's rows for comparison.

    Returns:
        ``{'summary': [...], 'classes': [...]}``; each row is a dict with ``model``, ``type``
        and the ``COCO_COLUMNS`` (summary) or ``class`` and ``AP`` (per class).
    """
    metrics = _strip_prefix(metrics)
    iou_types = [t for t in ('bbox', 'segm') if f'{t}_mAP' in metrics]
    if not iou_types:
        raise ValueError('No COCO AP in these metrics (expected keys like coco/bbox_mAP): is this '
                         'the test_metrics.json of a detection config?')
    summary, classes = [], []
    for iou_type in iou_types:
        summary.append({'model': 'this run', 'type': iou_type, **{
            column: _percent(metrics[f'{iou_type}_{suffix}'])
            for column, suffix in zip(COCO_COLUMNS, METRIC_SUFFIXES)}})
        if published:
            paper = PUBLISHED_COCO[published].get(iou_type, ())
            summary.append({'model': f'paper ({published})', 'type': iou_type,
                            **dict.fromkeys(COCO_COLUMNS, None),
                            **dict(zip(COCO_COLUMNS, paper))})
        prefix, suffix = f'{iou_type}_', '_AP'
        for key, value in metrics.items():
            if key.startswith(prefix) and key.endswith(suffix):
                classes.append({'type': iou_type, 'class': key[len(prefix):-len(suffix)],
                                'AP': _percent(value)})
    return {'summary': summary, 'classes': classes}


def _markdown_table(rows: List[Dict]) -> str:
    columns = list(rows[0])
    cells = [['-' if row[c] is None else str(row[c]) for c in columns] for row in rows]
    return markdown_table([columns, *cells])


def to_markdown(tables: Dict[str, List]) -> str:
    parts = ['COCO AP (%)', '', _markdown_table(tables['summary'])]
    if tables['classes']:
        parts += ['', 'Per-class AP (%)', '', _markdown_table(tables['classes'])]
    return '\n'.join(parts) + '\n'


def to_csv(tables: Dict[str, List]) -> str:
    buffer = io.StringIO()
    for name, rows in tables.items():
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=['table', *rows[0]])
            writer.writeheader()
            writer.writerows({'table': name, **row} for row in rows)
    return buffer.getvalue()
