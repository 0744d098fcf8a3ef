# kNN probe, ViT-B/16 on ImageNet-1k (DINO's eval_knn.py protocol, Caron et al. 2021): frozen encoder in
# eval mode, every train and val image through the evaluation transform (resize 256, centre crop 224),
# the cls token after the final norm, L2-normalised; weighted vote exp(cosine / T) of the k nearest training
# features; top-1 / top-5 for k = 10, 20, 100, 200 from one neighbour search, top1 reported at k = 20, T 0.07.
# Memory on every process: 1,281,167 x 768 x 2 bytes = 1.97 GB of fp16 training features (feature_dtype
# "auto" picks fp16 above 1 GiB of fp32; 3.9 GB at fp32), plus a 0.2 GB fp32 block during the search.
protocol = "knn"
arch = "vit_base_patch16"
pretrained = ""
model = dict(img_size=224)
data = dict(format="imagefolder", root="", year=None, version=None, image_dir=None, batch_size=256, num_workers=8,
            eval_crop_pct=None, fraction=None, shots=None, subset_file=None, subset_seed=0)
knn = dict(k=[10, 20, 100, 200], report_k=20, temperature=0.07, feature="cls", feature_dtype="auto")
seed = 0
