"""The cost block of every record: the FLOP counter agrees with the analytic count of a ViT block, and a batch's
images are counted whatever its layout."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from mae_backbone import create_vit
from mae_backbone.runtime.cost import batch_images


def test_flop_count_of_vit_blocks_matches_the_analytic_count():
    net = create_vit("vit_base_patch16", depth=2).eval()
    n, d = 197, 768  # 14 x 14 patches + the cls token, ViT-B width
    x = torch.randn(1, n, d)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        for block in net.blocks:
            x = block(x, (14, 14))
    analytic = len(net.blocks) * (24 * n * d**2 + 4 * n**2 * d)  # qkv + proj + MLP (4x), then QK^T and AV
    assert abs(counter.get_total_flops() - analytic) / analytic < 0.05


def test_images_of_a_batch_in_each_layout():
    images = torch.zeros(5, 3, 8, 8)
    assert batch_images((images, torch.zeros(5))) == 5  # classification: default_collate's pair
    assert batch_images(dict(inputs=[images[0]] * 3, data_samples=[None] * 3)) == 3  # mmdet / mmseg lists
    assert batch_images(dict(inputs=images)) == 5
