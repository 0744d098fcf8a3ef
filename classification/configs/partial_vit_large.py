# Partial fine-tuning, ViT-L/16 (paper 4.3, Fig. 9; A.1): the fine-tuning recipe (finetune_vit_large.py: blr
# 1e-3, layer decay 0.75 as Table 9; drop path 0.2 from FINETUNE.md, Table 9 says 0.1) with the last
# k blocks (plus the final norm and head) trainable; 100 epochs. The paper tries {50, 100, 200} epochs per
# k and keeps the best; fewer tuned blocks need longer schedules. Fig. 9: k=0 (linear probe) 73.5, "MLP only" 79.1,
# k=1 81.0; k=4-6 close to full fine-tuning. `maebench partial --blocks 0,1,2,4,6,12,24` sweeps it;
# k=0 runs the linear-probe recipe (linprobe_vit_large.py).
_base_ = "./finetune_vit_large.py"
protocol = "partial"
partial_blocks = 1
model = dict(global_pool="token")  # the paper's classifiers use the cls token (A.1)
schedule = dict(epochs=100)
linprobe_config = "./linprobe_vit_large.py"  # the recipe of k=0
