# MAE pre-training, ViT-B/16, the paper's recipe (anchors.md 1.4; official PRETRAIN.md).
# Effective batch 4096 (64/GPU x 64 GPUs, or accumulation), blr 1.5e-4 -> lr 2.4e-3, warmup 40 ep,
# cosine to 0, norm-pix target, mask ratio 0.75, AdamW betas (0.9, 0.95), wd 0.05.
# Reproduction reported by the official repo: ViT-L 800 ep -> 85.5 fine-tuned (paper 85.4).
arch = "vit_base_patch16"
model = dict(img_size=224, mask_ratio=0.75, norm_pix_loss=True, decoder_embed_dim=512, decoder_depth=8,
             decoder_num_heads=16)
data = dict(root="", scale=(0.2, 1.0), batch_size=64, num_workers=8, verify=True)
# compile: torch.compile of the MAE step (a minute or two at start; ~8% faster steps on a CPU, see benchmarks/).
optim = dict(blr=1.5e-4, weight_decay=0.05, betas=(0.9, 0.95), global_batch=4096, precision="auto",
             clip_grad=None, compile=True)
schedule = dict(epochs=800, warmup_epochs=40, min_lr=0.0, checkpoint_interval=20, log_interval=50)
seed = 0
# kNN top-1 on a small labelled ImageFolder every `every` epochs (TensorBoard, scalars.json, metrics.json): off
# while data is None; e.g. monitor.knn.data=/datasets/imagenet-100 (classification/knn_monitor.py)
monitor = dict(knn=dict(data=None, every=5))
