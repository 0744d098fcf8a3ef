# Partial fine-tuning, ViT-B/16 (paper 4.3 / A.1 on ViT-B; Fig. 9 itself is ViT-L: partial_vit_large.py).
# A.1: partial fine-tuning follows the fine-tuning setting except the epochs ({50, 100, 200}, best per k).
# Values: blr 5e-4, layer decay 0.65, drop path 0.1 (finetune_vit_base.py: official FINETUNE.md; Table 9
# lists 1e-3 / 0.75), 100 epochs (one of A.1's three), cls token (A.1), k=0 = linprobe_vit_base.py.
_base_ = "./finetune_vit_base.py"
protocol = "partial"
partial_blocks = 1
model = dict(global_pool="token")  # the paper's classifiers use the cls token (A.1)
schedule = dict(epochs=100)
linprobe_config = "./linprobe_vit_base.py"  # the recipe of k=0
