# The FAIR setting for MAE-style ViT-B on ADE20K (Ronghang Hu, facebookresearch/long_seq_mae#1; anchors.md
# 3.2): as the base recipe but lr 8e-5 and layer decay 0.8. Expected about the same 48.1 (not reported
# separately for this exact setting).
_base_ = "./upernet_mae_vit_base_512_160k.py"
optim = dict(lr=8e-5, layer_decay=0.8)
expected = dict(mIoU=48.1, source="MAE paper Table 5 (ViT-B); FAIR's lr / layer-decay setting")
