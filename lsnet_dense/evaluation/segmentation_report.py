"""mIoU tables (Markdown, CSV, JSON) from the metrics that tools/test.py saved (mmseg's IoUMetric).

The numbers are those the configs' ``PerClassIoUMetric`` returns (percent): aAcc, mIoU, mAcc
and, per class, IoU and Acc; runs of the published Semantic FPN configs can be shown beside the
paper's mIoU.
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from .markdown import markdown_table
from .published import PUBLISHED_MIOU

SUMMARY_METRICS = ('aAcc', 'mIoU', 'mAcc')
PER_CLASS_KEY = 'per_class'  # where PerClassIoUMetric puts the per-class values


class ReportError(Exception):
    """A results file that is missing or is not a segmentation test result."""


def load_run(path: str) -> Dict:
    """One run's summary and per-class metrics from a test_metrics.json or its work dir."""
    file = osp.join(path, 'test_metrics.json') if osp.isdir(path) else path
    if not osp.isfile(file):
        raise ReportError(f'{path}: no test_metrics.json (write one with tools/test.py)')
    with open(file) as f:
        result = json.load(f)
    metrics = result.get('metrics', {})
    missing = [key for key in SUMMARY_METRICS if key not in metrics]
    if missing:
        raise ReportError(f'{file} is not a segmentation result: it lacks {missing} (it has '
                          f'{sorted(metrics)})')
    config = result.get('config') or file
    return dict(
        name=osp.splitext(osp.basename(config))[0],
        config=config,
        checkpoint=result.get('checkpoint'),
        file=file,
        **{key: metrics[key] for key in SUMMARY_METRICS},
        per_class=metrics.get(PER_CLASS_KEY))


def _cell(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.2f}'


def _published_delta(run: Dict) -> Optional[float]:
    published = PUBLISHED_MIOU.get(run['name'])
    return None if published is None else round(run['mIoU'] - published, 2)


def summary_rows(runs: List[Dict], compare_published: bool) -> List[List[str]]:
    header = ['run', *SUMMARY_METRICS]
    if compare_published:
        header += ['published mIoU', 'mIoU - published']
    rows = [header]
    for run in runs:
        row = [run['name'], *(_cell(run[key]) for key in SUMMARY_METRICS)]
        if compare_published:
            row += [_cell(PUBLISHED_MIOU.get(run['name'])), _cell(_published_delta(run))]
        rows.append(row)
    return rows


def per_class_rows(run: Dict) -> List[List[str]]:
    metrics = list(next(iter(run['per_class'].values())))  # mmseg's order: IoU, Acc, ...
    rows = [['class', *metrics]]
    for name, values in run['per_class'].items():
        rows.append([name, *(_cell(values.get(key)) for key in metrics)])
    return rows


def markdown_report(runs: List[Dict], compare_published: bool) -> str:
    parts = ['## Semantic segmentation results', '',
             markdown_table(summary_rows(runs, compare_published))]
    for run in runs:
        parts += ['', f'### Per class: {run["name"]}', '']
        if run['per_class']:
            parts.append(markdown_table(per_class_rows(run)))
        else:
            parts.append(f'(no per-class results in {run["file"]}: its config evaluates with '
                         "IoUMetric instead of PerClassIoUMetric)")
    return '\n'.join(parts) + '\n'


def write_report(runs: List[Dict], out_dir: str, compare_published: bool) -> Dict[str, str]:
    """Write the four report files; returns their paths by format."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {fmt: osp.join(out_dir, name) for fmt, name in (
        ('markdown', 'seg_report.md'), ('summary_csv', 'seg_summary.csv'),
        ('per_class_csv', 'seg_per_class.csv'), ('json', 'seg_report.json'))}
    with open(paths['markdown'], 'w') as f:
        f.write(markdown_report(runs, compare_published))
    with open(paths['summary_csv'], 'w', newline='') as f:
        csv.writer(f).writerows(summary_rows(runs, compare_published))
    with open(paths['per_class_csv'], 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'class', 'IoU', 'Acc'])
        for run in runs:
            for name, values in (run['per_class'] or {}).items():
                writer.writerow([run['name'], name, _cell(values.get('IoU')),
                                 _cell(values.get('Acc'))])
    with open(paths['json'], 'w') as f:
        json.dump({'runs': [
            dict(run, **({'published_mIoU': PUBLISHED_MIOU.get(run['name'])}
                         if compare_published else {}))
            for run in runs]}, f, indent=2)
    return paths
