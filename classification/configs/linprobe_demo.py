# Linear probe on the demo world: LARS over BN + Linear on the frozen cls token, 128 px, vit_mini_patch16.
_base_ = "./linprobe_vit_base.py"
arch = "vit_mini_patch16"
model = dict(img_size=128)
data = dict(batch_size=32, eval_batch_size=64, num_workers=2)
aug = dict(crop_scale=(0.35, 1.0))  # as finetune_demo.py: smaller crops cut the centred shape away
# LARS moves each weight matrix by lr x trust 0.001 of its norm per step, whatever the batch, so what the
# probe needs is lr x steps, not the batch rule: the paper's 90 epochs are ~7,000 steps at lr 6.4, the demo's
# 300. At the recipe's blr 0.1 (lr 0.0125 at batch 32) the head never left its init: 11-13% top-1 for MAE and
# scratch (chance 16.7). Measured on the demo world (vit_mini, 64 px, 300 steps): blr 50 -> 19.3, blr 400
# (lr 50) -> 27.3 MAE / 22.7 scratch, blr 2000 -> 28.8; blr 10000 diverges (the bias is plain SGD).
# The held-out sweep of the demo suite (tools/configs/suite/demo.py) kept blr 400 for the MAE backbone (held-out
# 14.6 / 26.0 / 25.0 at blr 100 / 400 / 2000; val 26.0); the from-scratch encoder chose 100 (val 25.7).
optim = dict(global_batch=None, blr=400.0)
schedule = dict(epochs=30, warmup_epochs=3, checkpoint_interval=10, log_interval=10)
