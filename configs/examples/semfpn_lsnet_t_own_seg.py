# Recipe: an LSNet-T Semantic FPN on your own segmentation data: images plus single-channel PNG
# label maps of the same name and size (README "Train on your own data"). Expected layout:
#   data/my_seg/images/{train,val}/NAME.jpg   data/my_seg/labels/{train,val}/NAME.png
# Label values: 0 = void (not scored), 1..N = the classes below. reduce_zero_label maps
# 0 -> 255, the ignore index of mmseg's loss and metric, and k -> k-1. With maps that already
# use 0..N-1 and 255 for void, set reduce_zero_label=False here and in both LoadAnnotations.
_base_ = '../semfpn_lsnet_t_ade20k.py'

data_root = 'data/my_seg/'
classes = ('sky', 'road surface', 'tree')
metainfo = dict(classes=classes, palette=[(70, 130, 180), (128, 64, 128), (107, 142, 35)])
seg_dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)

model = dict(decode_head=dict(num_classes=len(classes)))

train_dataloader = dict(
    dataset=dict(seg_dataset, data_prefix=dict(img_path='images/train',
                                           seg_map_path='labels/train')))
val_dataloader = dict(
    dataset=dict(seg_dataset, data_prefix=dict(img_path='images/val', seg_map_path='labels/val')))
test_dataloader = val_dataloader
