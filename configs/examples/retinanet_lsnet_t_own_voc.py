# Recipe: an LSNet-T RetinaNet on detection data in Pascal VOC form (images and one xml file
# per image), converted once into COCO files so that the COCO metrics, the dataset checker and
# the rest of the COCO recipe apply:
#   python tools/dataset_converters/voc_to_coco.py data/my_voc/JPEGImages \
#       data/my_voc/Annotations data/my_voc/annotations/train.json \
#       --split-file data/my_voc/ImageSets/Main/train.txt --classes 'red car' 'traffic sign' person
# (and the same for val, with the same --classes).
_base_ = './retinanet_lsnet_t_own_coco.py'

data_root = 'data/my_voc/'
# The annotation files keep the COCO example's names (annotations/{train,val}.json, relative
# to data_root); both splits' images are in JPEGImages.
images = dict(img='JPEGImages/')

train_dataloader = dict(dataset=dict(data_root=data_root, data_prefix=images))
val_dataloader = dict(dataset=dict(data_root=data_root, data_prefix=images))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
