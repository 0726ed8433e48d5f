"""COCO AP tables (Markdown, CSV, JSON) from tools/test.py's test_metrics.json.

    python tools/analysis_tools/report.py work_dirs/retinanet_lsnet_t_coco/test_metrics.json \
        [--published auto]

The numbers are mmdet's CocoMetric results (pycocotools' COCOeval), in percent.
"""
import argparse
import json
import os.path as osp
import sys

from lsnet_dense.evaluation import PUBLISHED_COCO, coco_tables, to_csv, to_markdown


def parse_args():
    parser = argparse.ArgumentParser(description='Paper-style AP tables from test results')
    parser.add_argument('metrics', help='test_metrics.json written by tools/test.py')
    parser.add_argument('--published', default='auto',
                        help="paper numbers to show beside the run: 'auto' (from the config "
                        f"name), 'none', or one of {sorted(PUBLISHED_COCO)}")
    parser.add_argument('--out-dir', help='where report.{md,csv,json} go (default: beside the '
                        'metrics file)')
    return parser.parse_args()


def published_key(choice: str, config: str):
    if choice == 'none':
        return None
    if choice != 'auto':
        if choice not in PUBLISHED_COCO:
            sys.exit(f'error: no published results named {choice!r}; '
                     f'choose from {sorted(PUBLISHED_COCO)}')
        return choice
    name = osp.splitext(osp.basename(config or ''))[0].removesuffix('_coco')
    return name if name in PUBLISHED_COCO else None


def main():
    args = parse_args()
    if not osp.isfile(args.metrics):
        sys.exit(f'error: metrics file not found: {args.metrics} (tools/test.py writes it to '
                 'its work dir)')
    with open(args.metrics) as f:
        record = json.load(f)
    try:
        tables = coco_tables(record['metrics'],
                             published_key(args.published, record.get('config')))
    except ValueError as error:
        sys.exit(f'error: {args.metrics}: {error}')
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.metrics))
    markdown = to_markdown(tables)
    for name, text in (('report.md', markdown), ('report.csv', to_csv(tables)),
                       ('report.json', json.dumps(tables, indent=2))):
        with open(osp.join(out_dir, name), 'w') as f:
            f.write(text)
    print(markdown)
    print(f'written: {osp.join(out_dir, "report.{md,csv,json}")}')


if __name__ == '__main__':
    main()
