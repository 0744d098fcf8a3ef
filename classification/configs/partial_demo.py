# Partial fine-tuning on the demo world (vit_mini_patch16, 6 blocks): `maebench partial --blocks 0,1,2,4,6,mlp`.
# k=0 runs linprobe_demo.py's recipe.
_base_ = "./finetune_demo.py"
protocol = "partial"
partial_blocks = 1
model = dict(global_pool="token")
linprobe_config = "./linprobe_demo.py"  # the recipe of k=0
