# Recipe: an LSNet-T RetinaNet on your own detection data in COCO format (README "Train on your
# own data"), fine-tuned from the published COCO detector. Expected layout:
#   data/my_coco/annotations/train.json   data/my_coco/images/train/*.jpg
#   data/my_coco/annotations/val.json     data/my_coco/images/val/*.jpg
# Check the data first: python tools/analysis_tools/check_dataset.py THIS_CONFIG
_base_ = '../retinanet_lsnet_t_coco.py'

data_root = 'data/my_coco/'
# The json's category names. Their order here, not the category ids, gives the labels 0..N-1;
# a category left out here is left out of training and evaluation.
classes = ('red car', 'traffic sign', 'person')
metainfo = dict(classes=classes)

model = dict(bbox_head=dict(num_classes=len(classes)))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

# Published RetinaNet (mmdet 2.x file, converted on load). Its 80-class layer
# (bbox_head.retina_cls) is re-initialised for the classes above, with a log line naming it;
# everything else must fit. None: start from the ImageNet backbone alone.
load_from = 'https://huggingface.co/jameslahm/lsnet/resolve/main/lsnet_t_retinanet.pth'
