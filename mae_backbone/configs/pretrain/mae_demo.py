# MAE pre-training for the embedded demo world on a laptop CPU: a 6-block 128-d ViT on 128 px images
# (8x8 patches of 16 px), 75% masking, norm-pix target. A few minutes on 2 cores.
_base_ = "./mae_vit_base_800ep.py"
arch = "vit_mini_patch16"
model = dict(img_size=128, decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=4)
data = dict(batch_size=32, num_workers=2)
# fp32: on the 2-core EPYC (AVX-512 BF16) bf16 autocast only pays off from ViT-B size on (benchmarks/).
# No compile: 40 s of compiling buys 81 -> 73 ms steps, a loss for a run of a few minutes.
optim = dict(blr=1.5e-4, global_batch=None, precision="fp32", compile=False)
schedule = dict(epochs=30, warmup_epochs=3, checkpoint_interval=5, log_interval=10)
