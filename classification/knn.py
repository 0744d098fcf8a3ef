"""kNN probe on frozen features as a pure `run(cfg) -> metrics` (DINO's weighted k-NN; Wu et al. 2018).

The protocol, as DINO's `eval_knn.py` runs it: a frozen encoder in eval mode sees every training and
validation image through the evaluation transform (resize, centre crop; no augmentation); its feature is
L2-normalised; each validation image takes the k training features of highest cosine similarity s_i and
gives each neighbour's class the weight exp(s_i / T); the class scores rank the predictions. DINO reports
k = 20, T = 0.07 on the cls token after the final norm. Top-1 / top-5 come for every k of `knn.k` from one
neighbour search (the top max(k) neighbours, sorted, hold every smaller k's as their prefix).

Features (`knn.feature`): "cls" = the cls token after the final norm (default, DINO); "mean" = the mean of the
patch tokens after the same final norm (MAE's fine-tuning pools through an `fc_norm` that a pre-trained
encoder does not have: the norm it was trained with is used instead).

Memory: every process holds all training features, N x D x bytes. ImageNet-1k train with ViT-B (D = 768):
1,281,167 x 768 x 2 bytes = 1.97 GB at fp16 (3.9 GB at fp32); ViT-L (1024) 2.6 GB, ViT-H (1280) 3.3 GB at fp16.
`knn.feature_dtype="auto"` stores fp16 once the fp32 matrix would pass FP16_ABOVE_BYTES (the demo world stays
fp32); the similarities are computed in fp32, one block of TRAIN_BLOCK training rows at a time (65,536 x 768 x 4
bytes = 0.2 GB, plus 256 x 65,536 x 4 = 67 MB of similarities per query chunk). Gathering the shards briefly
holds the matrix twice. The validation set (50,000 x 768 x 4 = 0.15 GB) is kept at fp32.

Exact once: each process extracts the indices rank, rank + world, ... (ExactShardSampler, nothing padded);
the shards are gathered into dataset order and must cover every index once. The queries are then split into
fixed chunks of QUERY_CHUNK, dealt round-robin to the processes; a chunk's result does not depend on the world
size, and the gathered predictions must again cover every validation image once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, all_gather_object, get_dist_info
from mmengine.runner.utils import set_random_seed
from torch.utils.data import DataLoader, Dataset, default_collate

from mae_backbone import create_vit
from mae_backbone.checkpoint import load_checkpoint
from mae_backbone.errors import ConfigError
from mae_backbone.fileio import atomic_write_json
from mae_backbone.runtime import metric_keys as keys
from mae_backbone.runtime.distributed import ExactShardSampler, check_exact_once, prepare_launch
from mae_backbone.runtime.records import dataset_fingerprint, write_metrics
from mae_backbone.vit import VisionTransformer

from .datasets import LabelledImages, build_split
from .lowshot import low_shot_record
from .transforms import default_crop_pct, eval_transform

CONFIG_KEYS = (
    "protocol",
    "arch",
    "pretrained",
    "model",
    "data",
    "knn",
    "seed",
    "work_dir",
    "launcher",
    "resume",
    "eval_only",
)  # resume / eval_only: set by the shared flags; kNN trains nothing
FEATURES = {"cls": "cls token after the final norm", "mean": "mean of patch tokens after the final norm"}
FP16_ABOVE_BYTES = 2**30  # "auto": fp16 storage once the fp32 training matrix passes 1 GiB
TRAIN_BLOCK = 65536  # training rows per similarity block
QUERY_CHUNK = 256  # validation rows per unit of work (fixed: results do not depend on the world size)
TOPN = 5


def build_encoder(arch: str, model_cfg: dict[str, Any], pretrained: str | None) -> tuple[VisionTransformer, Any]:
    """The frozen encoder (cls token + final norm kept, no head) and the load report (None: random init)."""
    kw = {k: v for k, v in model_cfg.items() if k not in ("img_size", "global_pool", "drop_path_rate")}
    net = create_vit(
        arch, img_size=model_cfg.get("img_size", 224), global_pool="token", num_classes=0, drop_path_rate=0.0, **kw
    )
    report = None
    if pretrained:
        report = load_checkpoint(net, pretrained, head="reinit")
        print(report.summary())
    else:
        print("NOTICE: no pretrained checkpoint given (pretrained=''): kNN on a random-initialised encoder")
    net.requires_grad_(False)
    return net.eval(), report


def feature_dtype(choice: str, num: int, dim: int) -> torch.dtype:
    if choice == "auto":
        return torch.float16 if num * dim * 4 > FP16_ABOVE_BYTES else torch.float32
    if choice not in ("fp32", "fp16"):
        raise ConfigError(f"knn.feature_dtype {choice!r}: choose 'auto', 'fp32' or 'fp16'")
    return torch.float16 if choice == "fp16" else torch.float32


@torch.no_grad()
def extract_features(
    net: VisionTransformer,
    dataset: Dataset,
    feature: str = "cls",
    batch_size: int = 64,
    num_workers: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised (N, D) features and (N,) labels in dataset order, on every process (exact once)."""
    if feature not in FEATURES:
        raise ConfigError(f"knn.feature {feature!r}: choose 'cls' ({FEATURES['cls']}) or 'mean' ({FEATURES['mean']})")
    sampler = ExactShardSampler(dataset)
    # A private generator: the loader's base seed must not come from (and advance) the global one, so the
    # pre-training kNN monitor leaves the training run's random stream as it was.
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=default_collate,
        generator=torch.Generator(),
    )
    _, world = get_dist_info()
    rows = math.ceil(len(dataset) / world)  # equal shard shapes for all_gather; padding rows carry index -1
    feats = torch.zeros(rows, net.embed_dim, dtype=dtype, device=device)
    labels = torch.full((rows,), -1, dtype=torch.long, device=device)
    index = torch.full((rows,), -1, dtype=torch.long, device=device)
    filled = 0
    for batch in loader:
        tokens = net.forward_features(batch["inputs"].to(device))
        f = tokens[:, 0] if feature == "cls" else tokens[:, net.num_prefix_tokens :].mean(dim=1)
        n = f.shape[0]
        feats[filled : filled + n] = F.normalize(f.float(), dim=1).to(dtype)
        labels[filled : filled + n] = batch["label"].to(device)
        index[filled : filled + n] = batch["index"].to(device)
        filled += n
    parts = zip(all_gather(feats), all_gather(labels), all_gather(index))
    del feats
    out_f = torch.empty(len(dataset), net.embed_dim, dtype=dtype, device=device)
    out_y = torch.empty(len(dataset), dtype=torch.long, device=device)
    seen = []
    for f, y, i in parts:
        keep = i >= 0
        out_f[i[keep]], out_y[i[keep]] = f[keep], y[keep]
        seen += i[keep].tolist()
    check_exact_once(seen, len(dataset), what="kNN feature extraction")
    return out_f, out_y


def nearest(train: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest cosine similarities of each query (sorted, best first) and the training indices."""
    best_s = best_i = None
    for start in range(0, train.shape[0], TRAIN_BLOCK):
        sims = queries @ train[start : start + TRAIN_BLOCK].float().T
        s, i = sims.topk(min(k, sims.shape[1]), dim=1)
        i = i + start
        if best_s is not None:  # merge with the best of the blocks so far
            s, i = torch.cat([best_s, s], dim=1), torch.cat([best_i, i], dim=1)
            s, order = s.topk(min(k, s.shape[1]), dim=1)
            i = i.gather(1, order)
        best_s, best_i = s, i
    return best_s, best_i


def knn_predict(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    queries: torch.Tensor,
    num_classes: int,
    ks: Sequence[int],
    temperature: float,
    topn: int = TOPN,
) -> dict[int, torch.Tensor]:
    """For each k: the (M, topn) classes of highest weighted vote, best first (DINO's knn_classifier)."""
    sims, idx = nearest(train, queries.float(), max(ks))
    neighbour_labels = train_labels[idx]
    weights = (sims / temperature).exp()
    out = {}
    for k in ks:
        votes = torch.zeros(queries.shape[0], num_classes, dtype=weights.dtype, device=weights.device)
        votes.scatter_add_(1, neighbour_labels[:, :k], weights[:, :k])
        out[k] = votes.topk(min(topn, num_classes), dim=1).indices
    return out


def knn_accuracy(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    val: torch.Tensor,
    val_labels: torch.Tensor,
    num_classes: int,
    ks: Sequence[int],
    temperature: float,
) -> dict[str, Any]:
    """Top-1 / top-n accuracy (percent) for every k, and per image (`outcomes[k]`: hit1, hitn, pred arrays in
    validation order); the query chunks are shared out over the processes."""
    rank, world = get_dist_info()
    ks = sorted(set(int(k) for k in ks))
    topn = min(TOPN, num_classes)
    mine = []
    for c, start in enumerate(range(0, val.shape[0], QUERY_CHUNK)):
        if c % world != rank:
            continue
        stop = min(start + QUERY_CHUNK, val.shape[0])
        preds = knn_predict(train, train_labels, val[start:stop], num_classes, ks, temperature, topn)
        truth = val_labels[start:stop, None]
        mine.append(
            (
                start,
                {
                    k: (
                        (p[:, :1] == truth).any(1).cpu().numpy(),
                        (p == truth).any(1).cpu().numpy(),
                        p[:, 0].cpu().numpy(),
                    )
                    for k, p in preds.items()
                },
            )
        )
    merged = sorted((r for part in all_gather_object(mine) for r in part), key=lambda r: r[0])
    check_exact_once(
        [start + j for start, r in merged for j in range(len(r[ks[0]][0]))], val.shape[0], what="kNN classification"
    )
    outcomes = {
        k: dict(zip(("hit1", "hitn", "pred"), (np.concatenate([r[k][f] for _, r in merged]) for f in range(3))))
        for k in ks
    }
    by_k = {
        str(k): {"top1": 100.0 * float(o["hit1"].mean()), f"top{topn}": 100.0 * float(o["hitn"].mean())}
        for k, o in outcomes.items()
    }
    return {"by_k": by_k, "num_samples": int(val.shape[0]), "topn": topn, "outcomes": outcomes}


def outcome_arrays(result: dict[str, Any], report_k: int, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image outcomes under the metric keys (mae_backbone/runtime/metric_keys.py): `top1/hit`, `top5/hit`
    (at report_k) and `by_k.<k>.top1/hit`, `by_k.<k>.top5/hit` for every k, by validation index."""
    topn_key = f"top{result['topn']}"
    o = result["outcomes"]
    arrays = {
        keys.IMAGES: np.arange(result["num_samples"]),
        keys.outcome(keys.TOP1, "hit"): o[report_k]["hit1"],
        keys.outcome(topn_key, "hit"): o[report_k]["hitn"],
        keys.outcome(keys.TOP1, "pred"): o[report_k]["pred"],
        keys.outcome(keys.TOP1, "label"): labels.cpu().numpy(),
    }
    for k, ok in o.items():
        arrays[keys.outcome(f"by_k.{k}.{keys.TOP1}", "hit")] = ok["hit1"]
        arrays[keys.outcome(f"by_k.{k}.{topn_key}", "hit")] = ok["hitn"]
    return arrays


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Features of a frozen encoder, weighted kNN for every k, `metrics.json` in `cfg["work_dir"]`."""
    work_dir, data, knn = Path(cfg["work_dir"]), cfg["data"], cfg["knn"]
    ks = sorted(set(int(k) for k in knn["k"]))
    report_k, temperature, feature = int(knn.get("report_k", 20)), float(knn["temperature"]), knn["feature"]
    if report_k not in ks:
        raise ConfigError(f"knn.report_k={report_k} is not one of knn.k={ks}; add it or pick one of them")
    if min(ks) < 1 or temperature <= 0:
        raise ConfigError(f"knn.k must be positive ({ks}) and knn.temperature > 0 ({temperature})")
    img_size = cfg["model"]["img_size"]
    crop_pct = data.get("eval_crop_pct") or default_crop_pct(img_size)
    train_split = build_split(data, "train")  # low-shot subsets apply here (data.fraction / shots / subset_file)
    val_split = build_split(data, "val", classes=train_split.classes)
    transform = eval_transform(img_size, crop_pct)  # DINO: the evaluation transform for both splits
    world, _ = prepare_launch(cfg.get("launcher", "none"))  # the gloo group on CPUs
    if cfg.get("launcher", "none") != "none" and not torch.distributed.is_initialized():
        from mmengine.dist import init_dist

        init_dist(cfg["launcher"])  # with CUDA: NCCL and this process's GPU
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    set_random_seed(cfg["seed"])  # a random-init encoder is the same one for every run of this seed
    net, report = build_encoder(cfg["arch"], cfg["model"], cfg.get("pretrained"))
    net.to(device)
    dtype = feature_dtype(knn.get("feature_dtype", "auto"), len(train_split.files), net.embed_dim)
    kw = dict(feature=feature, batch_size=data["batch_size"], num_workers=data["num_workers"], device=device)
    train_f, train_y = extract_features(net, LabelledImages(train_split, transform), dtype=dtype, **kw)
    val_f, val_y = extract_features(net, LabelledImages(val_split, transform), dtype=torch.float32, **kw)
    used = [min(k, len(train_split.files)) for k in ks]
    if used != ks:
        print(f"NOTICE: {len(train_split.files)} training images: k={ks} searched as k={used}")
    result = knn_accuracy(train_f, train_y, val_f, val_y, len(train_split.classes), ks, temperature)
    topn = result["topn"]
    headline = result["by_k"][str(report_k)]
    metrics = {
        "top1": headline["top1"],
        f"top{topn}": headline[f"top{topn}"],
        "k": report_k,
        "by_k": result["by_k"],
        "num_samples": result["num_samples"],
        "num_train": len(train_split.files),
    }
    if get_dist_info()[0] == 0:
        keys.write_outcomes(work_dir / keys.OUTCOMES_FILE, outcome_arrays(result, report_k, val_y))
        _write_outputs(cfg, work_dir, metrics, report, train_split, val_split, crop_pct, dtype, ks, used, world)
    return metrics


def _write_outputs(cfg, work_dir, metrics, report, train_split, val_split, crop_pct, dtype, ks, used, world):
    knn, data, img_size = cfg["knn"], cfg["data"], cfg["model"]["img_size"]
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work_dir / "config.json", cfg)
    dataset = dict(
        format=data.get("format", "imagefolder"),
        root=str(val_split.root),
        year=data.get("year"),
        version=data.get("version"),
        num_classes=len(val_split.classes),
        split="val",
        val=dataset_fingerprint(val_split.root, val_split.files),
        train=dataset_fingerprint(train_split.root, train_split.files),
    )
    proto = dict(
        protocol="knn",
        feature=knn["feature"],
        pooling=FEATURES[knn["feature"]],
        k=ks,
        k_searched=used,
        report_k=int(knn.get("report_k", 20)),
        temperature=float(knn["temperature"]),
        voting="weighted: exp(cosine / T) per neighbour (DINO)",
        feature_dtype=str(dtype).split(".")[-1],
        input_size=img_size,
        eval_crop_pct=crop_pct,
        eval_resize=int(img_size / crop_pct),
        dataset=dataset,
        arch=cfg["arch"],
        pretrained=cfg.get("pretrained") or None,
        load_report=report.to_dict() if report else None,
        evaluator="exact-once weighted kNN (classification.knn)",
        low_shot=low_shot_record(train_split, work_dir),
    )
    write_metrics(
        work_dir, metrics, protocol=proto, task="knn", seed=cfg["seed"], world_size=world, extra=dict(config=cfg)
    )
