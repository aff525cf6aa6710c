"""``python -m gen_core datasets``: the dataset registry, and what works offline."""

from __future__ import annotations

from gen_core.data import list_datasets


def run_datasets(args) -> int:
    rows = list_datasets()
    print(f"{'name':<15}{'offline':<9}{'shape':<14}{'train':>8}{'test':>8}  description")
    for row in rows:
        shape = "x".join(map(str, row["image_shape"])) if row.get("image_shape") else "varies"
        offline = "yes" if row["offline_available"] else "no"
        train, test = row.get("train_size") or "-", row.get("test_size") or "-"
        print(f"{row['name']:<15}{offline:<9}{shape:<14}{train:>8}{test:>8}  {row['description']}")
    return 0
