# Places365-Standard fine-tuning, ViT-B (paper A.5 / Table 6; recipe of Table 9, lr and epochs not
# published). Reported: 57.9 (Places365), 63.9 (Places205: data.version=205).
_base_ = "./finetune_vit_base.py"
data = dict(format="places", version=365)
