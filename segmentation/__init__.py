"""ADE20K semantic segmentation transfer (MAE paper A.4, Table 5): UperNet on mmsegmentation.

`segmentation.model` registers our ViT backbone, the segmentor and the layer-decay optimizer constructor in
mmseg's registries; `segmentation.run.run(cfg)` trains and tests; `maebench segment` is the command.
Submodules are imported on demand (mmseg is heavy).
"""
