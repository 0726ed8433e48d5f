"""Published LSNet results (the paper's tables), in percent, keyed by model and variant."""

COCO_COLUMNS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')

# RetinaNet 1x: box AP. Mask R-CNN 1x: box AP (bbox) and mask AP (segm).
PUBLISHED_COCO = {
    'retinanet_lsnet_t': {'bbox': (34.2, 54.6, 35.2, 17.8, 37.1, 48.5)},
    'retinanet_lsnet_s': {'bbox': (36.5, 57.3, 38.1, 20.3, 39.5, 51.0)},
    'retinanet_lsnet_b': {'bbox': (39.2, 60.0, 41.5, 22.1, 43.0, 52.9)},
    'mask_rcnn_lsnet_t': {'bbox': (35.0, 57.0, 37.3), 'segm': (32.7, 53.8, 34.3)},
    'mask_rcnn_lsnet_s': {'bbox': (37.4, 59.9, 39.8), 'segm': (34.8, 56.8, 36.6)},
    'mask_rcnn_lsnet_b': {'bbox': (40.8, 63.4, 44.0), 'segm': (37.8, 60.5, 40.1)},
}

# ADE20K val mIoU, single scale, of Semantic FPN (40k iterations), by config name.
PUBLISHED_MIOU = {
    'semfpn_lsnet_t_ade20k': 40.1,
    'semfpn_lsnet_s_ade20k': 41.6,
    'semfpn_lsnet_b_ade20k': 43.1,
}
