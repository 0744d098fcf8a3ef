# The paper's ADE20K protocol scaled down to the embedded demo world (`maebench demo-data`: 128 px scenes,
# 11 classes = 6 shapes + 5 textures, 0 = other -> ignored) so it runs on a laptop CPU in minutes.
# Same pipeline, heads, layer-wise decay, warmup + poly and sliding-window test as the paper configs, on the
# 6-block 128-d ViT that `maebench pretrain` (mae_demo.py) produces. Crops of 96 px (a 6x6 patch grid =
# the relative-position window), slide test 96 / stride 64 (the 512 / 341 ratio).
_base_ = "./upernet_mae_vit_base_512_160k.py"
arch = "vit_mini_patch16"
model = dict(out_indices=[1, 2, 3, 5], drop_path_rate=0.1, aux_channels=64)
data = dict(num_classes=11, crop_size=96, scale=(512, 128), batch_size=8, num_workers=2)
optim = dict(lr=4e-4, layer_decay=0.75, global_batch=None)
schedule = dict(iters=1000, warmup_iters=50, val_interval=0, checkpoint_interval=500, log_interval=20)
test = dict(mode="slide", crop_size=96, stride=64)
expected = None
