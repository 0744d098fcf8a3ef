# kNN probe on the demo world (ImageFolder of 6 shape classes) on a laptop CPU: the ImageNet recipe
# (knn_vit_base.py) with the 6-block 128-d vit_mini_patch16 of `maebench pretrain` (mae_demo.py) at 128 px.
# Training features: 480 x 128 x 4 bytes = 0.25 MB (fp32).
_base_ = "./knn_vit_base.py"
arch = "vit_mini_patch16"
model = dict(img_size=128)
data = dict(batch_size=64, num_workers=2)
