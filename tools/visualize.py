"""`maebench visualize`: masked input / reconstruction / reconstruction + visible / original (paper Fig. 2).

A norm-pix model predicts each patch normalised by its own mean and std; to show pixels we undo that
with the statistics of the *original* patch (as the official demo does). That leaks ground-truth
patch statistics into the picture, so the figure says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mae_backbone import create_mae
from mae_backbone.checkpoint import load_checkpoint, read_checkpoint
from mae_backbone.errors import BadInputError, CheckpointError
from mae_backbone.images import IMAGENET_MEAN, IMAGENET_STD, list_images, load_rgb


def build_from_sidecar(path: str | Path, arch: str | None) -> torch.nn.Module:
    _, meta = read_checkpoint(path)
    name = arch or meta.get("arch_name")
    if not name or "decoder" not in meta:
        raise CheckpointError(
            f"{path}: no decoder description in its sidecar; pass an mae_full.safetensors written by "
            "`maebench pretrain`, or an official *_full / mae_visualize checkpoint converted with `maebench convert`"
        )
    return create_mae(
        name, img_size=meta.get("img_size", 224), norm_pix_loss=meta.get("norm_pix_loss", True), **meta["decoder"]
    )


@torch.no_grad()
def reconstruct(model, imgs: torch.Tensor, mask_ratio: float, seed: int) -> dict[str, torch.Tensor]:
    """Images (N, 3, H, W), normalised. Returns un-normalised (N, H, W, 3) arrays in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(imgs.shape[0], model.grid[0] * model.grid[1], generator=gen)
    _, pred, mask = model(imgs, mask_ratio, noise)
    if model.norm_pix_loss:  # undo the per-patch normalisation with the original patch's statistics
        target = model.patchify(imgs)
        pred = pred * (target.var(-1, keepdim=True) + 1e-6) ** 0.5 + target.mean(-1, keepdim=True)
    recon = model.unpatchify(pred)
    m = model.unpatchify(mask[..., None].expand(-1, -1, model.patch_size**2 * 3))  # 1 = removed
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    to_img = lambda t: (t * std + mean).clamp(0, 1).permute(0, 2, 3, 1)  # noqa: E731
    gray = (0.5 - mean) / std  # removed patches are shown grey
    return {
        "masked": to_img(imgs * (1 - m) + gray * m),
        "reconstruction": to_img(recon),
        "reconstruction + visible": to_img(recon * m + imgs * (1 - m)),
        "original": to_img(imgs),
    }


def save_grid(panels: dict[str, torch.Tensor], out: Path, note: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = next(iter(panels.values())).shape[0], len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows + 0.6), squeeze=False)
    for c, (title, imgs) in enumerate(panels.items()):
        for r in range(rows):
            axes[r, c].imshow(imgs[r].numpy())
            axes[r, c].axis("off")
        axes[0, c].set_title(title, fontsize=10)
    fig.text(0.5, 0.01, note, ha="center", fontsize=8, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def visualize(
    checkpoint: str | Path,
    images: list[Path],
    out: Path,
    mask_ratio: float = 0.75,
    seed: int = 0,
    arch: str | None = None,
) -> Path:
    model = build_from_sidecar(checkpoint, arch).eval()
    load_checkpoint(model, checkpoint, new_by_design=(), unused_by_design=())  # the decoder must be there
    from torchvision import transforms

    size = model.img_size
    tf = transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    imgs = torch.stack([tf(load_rgb(p)) for p in images])
    panels = reconstruct(model, imgs, mask_ratio, seed)
    note = f"mask ratio {mask_ratio}, seed {seed}. " + (
        "norm-pix model: each predicted patch is de-normalised with the mean/std of the ORIGINAL patch "
        "(ground-truth statistics, as in the official demo)"
        if model.norm_pix_loss
        else "pixel-target model"
    )
    return save_grid(panels, out, note)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint with a decoder (mae_full.safetensors from pretrain)")
    parser.add_argument("images", nargs="+", help="image files or folders (the first --num images are used)")
    parser.add_argument("--out", default="reconstructions.png", help="output PNG")
    parser.add_argument("--num", type=int, default=4, help="how many images")
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random masks")
    parser.add_argument("--arch", default=None, help="architecture if the sidecar does not say")


def main(args: argparse.Namespace) -> int:
    files: list[Path] = []
    for item in args.images:
        p = Path(item)
        if not p.exists():
            raise BadInputError(f"{p}: no such image file or folder; check the path (image files or folders of them)")
        files += list_images(p) if p.is_dir() else [p]
    if not files:
        raise BadInputError("no images given")
    out = visualize(args.checkpoint, files[: args.num], Path(args.out), args.mask_ratio, args.seed, args.arch)
    print(f"wrote {out}")
    return 0
