# ADE20K UperNet on an MAE pre-trained ViT-L/16 (MAE paper Table 5: 53.6 mIoU).
# out_indices [7, 11, 15, 23] as BEiT's ViT-L configs; drop path 0.2 as BEiT-L.
# No MAE ViT-L segmentation config was published (the paper: "we search for the optimal lr for each entry").
# lr 1e-4 and layer decay 0.8 are our choice: 0.8^24 ~ 0.65^12, i.e. the first block learns at the same
# fraction of the head's lr as in the verified ViT-B recipe. Search optim.lr / optim.layer_decay around it.
_base_ = "./upernet_mae_vit_base_512_160k.py"
arch = "vit_large_patch16"
model = dict(out_indices=[7, 11, 15, 23], drop_path_rate=0.2)
optim = dict(lr=1e-4, layer_decay=0.8)
expected = dict(mIoU=53.6, source="MAE paper Table 5 (ViT-L, UperNet); recipe not published, see header")
