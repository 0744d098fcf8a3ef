# Linear probe on the demo world: LARS over BN + Linear on the frozen cls token, 128 px, vit_mini_patch16.
_base_ = "./linprobe_vit_base.py"
arch = "vit_mini_patch16"
model = dict(img_size=128)
data = dict(batch_size=32, eval_batch_size=64, num_workers=2)
aug = dict(crop_scale=(0.35, 1.0))  # as finetune_demo.py: smaller crops cut the centred shape away
optim = dict(global_batch=None)
schedule = dict(epochs=30, warmup_epochs=3, checkpoint_interval=10, log_interval=10)
