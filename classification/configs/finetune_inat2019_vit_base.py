# iNaturalist 2019 fine-tuning, ViT-B (paper A.5 / Table 6: the Table 9 recipe, lr and epochs adjusted per
# dataset; the paper does not list them). Reported: 80.5 (iNat19), 75.4 (iNat18), 70.5 (iNat17).
# Other years: data.year=2017 or 2018 (reads {train,val}<year>.json from data.root).
_base_ = "./finetune_vit_base.py"
data = dict(format="inat", year=2019)
