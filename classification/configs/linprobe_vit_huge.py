# Linear probe, ViT-H/14: as ViT-B but 50 epochs. Reported 76.6 (paper) / 77.2 (official PyTorch).
_base_ = "./linprobe_vit_base.py"
arch = "vit_huge_patch14"
schedule = dict(epochs=50)
