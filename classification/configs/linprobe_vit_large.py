# Linear probe, ViT-L/16: as ViT-B but 50 epochs (official: "50 is enough for L/H"). Reported 75.8 / 76.0.
_base_ = "./linprobe_vit_base.py"
arch = "vit_large_patch16"
schedule = dict(epochs=50)
