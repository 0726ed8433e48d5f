"""Turn segmentation test results into mIoU tables (Markdown, CSV and JSON).

    python tools/report_seg.py RESULT [RESULT ...] [--out-dir DIR] [--compare-published]

Each RESULT is a ``test_metrics.json`` written by tools/test.py, or the work dir holding one.
The numbers are mmseg's IoUMetric results as the configs' ``PerClassIoUMetric`` returns them
(percent): aAcc, mIoU, mAcc and, per class, IoU and Acc. Writes DIR/seg_report.md,
DIR/seg_summary.csv, DIR/seg_per_class.csv and DIR/seg_report.json, and prints the Markdown.
With --compare-published, runs of the published Semantic FPN configs are shown beside the
paper's mIoU.
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

SUMMARY_METRICS = ('aAcc', 'mIoU', 'mAcc')
PER_CLASS_KEY = 'per_class'  # as lsnet_dense.evaluation.PerClassIoUMetric names it
# ADE20K val mIoU of the LSNet paper (single scale), by config name.
PUBLISHED_MIOU = {
    'semfpn_lsnet_t_ade20k': 40.1,
    'semfpn_lsnet_s_ade20k': 41.6,
    'semfpn_lsnet_b_ade20k': 43.1,
}


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


def markdown_table(rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
    return '\n'.join(lines)


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


def parse_args():
    parser = argparse.ArgumentParser(description='mIoU tables from segmentation test results')
    parser.add_argument('results', nargs='+',
                        help='test_metrics.json files, or work dirs holding one')
    parser.add_argument('--out-dir', help='where the report files go (default: beside the '
                        'first results file)')
    parser.add_argument('--compare-published', action='store_true',
                        help="add the paper's Semantic FPN mIoU beside matching runs")
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        runs = [load_run(path) for path in args.results]
    except ReportError as error:
        sys.exit(f'error: {error}')
    out_dir = args.out_dir or osp.dirname(osp.abspath(runs[0]['file']))
    paths = write_report(runs, out_dir, args.compare_published)
    with open(paths['markdown']) as f:
        print(f.read())
    print('written: ' + ', '.join(paths.values()))


if __name__ == '__main__':
    main()
