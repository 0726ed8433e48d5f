"""Turn segmentation test results into mIoU tables (Markdown, CSV and JSON).

    python tools/analysis_tools/report_seg.py RESULT [RESULT ...] [--out-dir DIR] \
        [--compare-published]

Each RESULT is a ``test_metrics.json`` written by tools/test.py, or the work dir holding one.
The numbers are mmseg's IoUMetric results as the configs' ``PerClassIoUMetric`` returns them
(percent): aAcc, mIoU, mAcc and, per class, IoU and Acc. Writes DIR/seg_report.md,
DIR/seg_summary.csv, DIR/seg_per_class.csv and DIR/seg_report.json, and prints the Markdown.
With --compare-published, runs of the published Semantic FPN configs are shown beside the
paper's mIoU.
"""
import argparse
import os.path as osp

from lsnet_dense.cli import exit_on_error
from lsnet_dense.evaluation.segmentation_report import ReportError, load_run, write_report


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
    with exit_on_error(ReportError):
        runs = [load_run(path) for path in args.results]
    out_dir = args.out_dir or osp.dirname(osp.abspath(runs[0]['file']))
    paths = write_report(runs, out_dir, args.compare_published)
    with open(paths['markdown']) as f:
        print(f.read())
    print('written: ' + ', '.join(paths.values()))


if __name__ == '__main__':
    main()
