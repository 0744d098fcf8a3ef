# `maebench robustness CHECKPOINT`: ImageNet-A / -R / -Sketch / -C of a fine-tuned classifier (paper appendix C,
# Table 13). Inference only: no optimizer, no schedule. The command-line flags set these keys.
checkpoint = None  # the fine-tuned classifier (maebench classifier.safetensors or an official fine-tuned .pth)
data = dict(
    root=None,  # a folder holding a/ r/ sketch/ c/ (the demo world's robustness/)
    a=None, r=None, sketch=None, c=None,  # per-set roots, each overriding root/<set>
    index_dir=None,  # imagenet_{a,r}_indices.txt for non-ImageNet classifiers (default: root)
)
sets = None  # e.g. "a,r,c": these must all exist; None: every set found under the roots
arch = None  # for checkpoints without a maebench sidecar
img_size = None  # None: the checkpoint's
interpolation = "bicubic"  # A/R/Sketch resize: bicubic as MAE's own evaluation; "bilinear" as hendrycks' eval.py
c_upsample = "bicubic"  # IN-C (released at 224 px) fed at a larger img_size (448): upsampled so; None refuses
batch_size = 64
num_workers = 2
work_dir = None
launcher = "none"
