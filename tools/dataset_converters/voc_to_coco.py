"""Convert Pascal VOC xml annotations into one COCO instances file, for mmdet's CocoDataset.

    python tools/dataset_converters/voc_to_coco.py IMAGES ANNOTATIONS OUT.json \
        [--split-file ImageSets/Main/train.txt] [--classes NAME [NAME ...]]

IMAGES holds the images the xml files name (VOC's JPEGImages), ANNOTATIONS one xml file per image
(VOC's Annotations). Without --split-file every xml file in ANNOTATIONS is converted. Category ids
are 1..N in the order of --classes (default: the class names found, sorted): give the same
--classes for every split, so that the ids agree.
"""
import argparse
import glob
import json
import os
import os.path as osp

from lsnet_dense.cli import exit_on_error
from lsnet_dense.datasets.voc_to_coco import class_counts, voc_to_coco
from lsnet_dense.errors import PreflightError


def parse_args():
    parser = argparse.ArgumentParser(description='Pascal VOC xml to a COCO instances file')
    parser.add_argument('images', help='folder of the images (JPEGImages)')
    parser.add_argument('annotations', help='folder of the xml files (Annotations)')
    parser.add_argument('out', help='the COCO json file to write')
    parser.add_argument('--split-file', help='file of image ids (xml file stems), one a line, '
                        'e.g. ImageSets/Main/train.txt (default: every xml file)')
    parser.add_argument('--classes', nargs='+', help='class names in the order of their ids '
                        '(default: the names found, sorted)')
    return parser.parse_args()


def read_ids(args) -> list:
    if args.split_file is None:
        return sorted(osp.splitext(osp.basename(path))[0]
                      for path in glob.glob(osp.join(args.annotations, '*.xml')))
    if not osp.isfile(args.split_file):
        raise PreflightError(f'split file not found: {args.split_file}')
    with open(args.split_file) as f:
        # A VOC class split file has "ID 1" / "ID -1" lines; the main split files "ID" alone.
        return [line.split()[0] for line in f if line.strip()]


def main():
    args = parse_args()
    with exit_on_error():
        for what, folder in (('images', args.images), ('annotations', args.annotations)):
            if not osp.isdir(folder):
                raise PreflightError(f'{what} folder not found: {folder}')
        ids = read_ids(args)
        if not ids:
            raise PreflightError(f'no xml files to convert in {args.annotations}')
        coco = voc_to_coco(args.images, args.annotations, ids, args.classes)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(coco, f)
    counts = class_counts(coco)
    print(f'{len(coco["images"])} images, {len(coco["annotations"])} objects '
          f'({sum(a["iscrowd"] for a in coco["annotations"])} difficult, kept as iscrowd=1)')
    for category in coco['categories']:
        print(f'  {category["id"]:3d} {category["name"]}: {counts[category["name"]]}')
    print(f'written: {args.out}')
    print(f"classes for the config's metainfo: {tuple(c['name'] for c in coco['categories'])}")


if __name__ == '__main__':
    main()
