"""COCO detection and instance segmentation transfer (MAE paper A.3, Table 4): Mask R-CNN on mmdet.

`detection.model` registers our ViT backbones (protocols "benchmarking" and "vitdet"), ViTDet's simple
FPN and the detector in mmdet's registry; `detection.optim` the layer-decay constructor; `detection.evaluation`
the COCO metric (faster-coco-eval or pycocotools); `detection.run.run(cfg)` trains and tests;
`maebench detect` is the command. Submodules are imported on demand (mmdet is heavy).
"""
