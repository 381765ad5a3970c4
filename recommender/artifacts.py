"""Model artifacts on disk: one directory per trained model, and a ``current`` pointer.

    SHOP_HOME/models/
        20251201T120000Z-hybrid-1a2b3c/   arrays.npz + card.json
        current                           the name of the directory to serve

A model is written into a hidden temporary directory, fsynced, renamed into place (atomic on
one filesystem), and only then is ``current`` replaced (write, fsync, rename). What a crash leaves
behind (a ``.tmp-*`` directory, a ``.current.*`` file) is removed by the next save or load once it is
older than STALE_AFTER_S, so that a save in progress in another process is never touched. ``card.json``
records the size and SHA-256 of ``arrays.npz``; a directory whose card is missing, unreadable
or does not match its arrays is not a model. The loader takes ``current`` when it is good and
otherwise falls back to the newest good model, so a crash at any point leaves a servable state;
``resolve_current`` says when it did and why (the API reports it), ``current_path`` only where.

``card.json`` also records the format version: an artifact of another version (written by
another version of the code) is refused with a request to train a new model; nothing converts
one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.algorithms import make
from recommender.matrix import ROW_MATRICES, IdMap, UserItemData, WeightConfig
from recommender.model import TrainedModel

FORMAT_VERSION = 3  # 2: every matrix of UserItemData is stored (ROW_MATRICES); 3: add-to-cart counts among them
CARD = "card.json"
ARRAYS = "arrays.npz"
CURRENT = "current"


STALE_AFTER_S = 3600.0  # a leftover untouched this long is not a save in progress
_LEFTOVER = re.compile(r"^\.tmp-\d{8}T\d{12}Z-[A-Za-z0-9_.-]+-[0-9a-f]{6}$|^\.current\.[0-9a-f]{8}$")


class NoModelError(LookupError):
    """No complete model exists in the models directory."""


RETRAIN = "train a new model with `shop train`"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _data_arrays(data: UserItemData) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "users": data.users.ids, "items": data.items.ids,
        "item_category": data.item_category, "category_names": np.asarray(data.category_names, dtype=str),
    }
    for name in ("item_brand", "item_price"):
        if getattr(data, name) is not None:
            out[name] = getattr(data, name)
    for name in ROW_MATRICES:
        m: sp.csr_matrix = getattr(data, name)
        out |= {f"{name}.data": m.data, f"{name}.indices": m.indices, f"{name}.indptr": m.indptr}
    return out


def _data_from(arrays: dict[str, np.ndarray], card: dict[str, Any]) -> UserItemData:
    users, items = IdMap(arrays["users"]), IdMap(arrays["items"])
    shape = (len(users), len(items))

    def csr(name: str) -> sp.csr_matrix:
        return sp.csr_matrix((arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]), shape=shape)

    info = card["data"]
    return UserItemData(
        users=users, items=items, **{name: csr(name) for name in ROW_MATRICES},
        item_category=arrays["item_category"], category_names=arrays["category_names"],
        reference_us=int(info["reference_us"]), watermark_us=info["watermark_us"],
        config=WeightConfig(**card["weighting"]),
        # The catalogue's metadata: absent when the catalogue had none.
        item_brand=arrays.get("item_brand"), item_price=arrays.get("item_price"),
    )


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat()


def _newest_mtime(path: Path) -> float:
    """The newest modification time of ``path`` and, for a directory, of what is in it (not
    following symbolic links)."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            newest = max(newest, child.lstat().st_mtime)
    return newest


def clean_stale(models_dir: Path, *, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Remove what interrupted saves left in ``models_dir`` (``.tmp-<model id>`` directories and
    ``.current.<hex>`` files) once untouched for ``older_than_s``; returns the names removed.

    Safe against concurrent saves (they touch their files far more often) and best effort: a name
    another process removed first, or one this process may not remove, is left alone. Only names of
    exactly those two shapes are considered, and a symbolic link is removed, never followed."""
    models_dir = Path(models_dir)
    removed: list[str] = []
    try:
        entries = list(models_dir.iterdir())
    except OSError:
        return removed
    now = time.time()
    for path in entries:
        if not _LEFTOVER.match(path.name):
            continue
        try:
            if now - _newest_mtime(path) < older_than_s:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path.name)
    return removed


def save(
    model: TrainedModel, models_dir: Path, *, metrics: dict[str, Any] | None = None,
    train_seconds: float | None = None, make_current: bool = True,
) -> Path:
    """Write ``model`` as a new artifact directory (and point ``current`` at it); returns its path."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(models_dir)
    now = datetime.now(timezone.utc)
    model_id = f"{now:%Y%m%dT%H%M%S%fZ}-{model.name}-{secrets.token_hex(3)}"
    tmp = models_dir / f".tmp-{model_id}"
    tmp.mkdir()
    try:
        arrays = {**{f"data.{k}": v for k, v in _data_arrays(model.data).items()},
                  **{f"model.{k}": v for k, v in model.algorithm.state().items()}}
        with open(tmp / ARRAYS, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        data = model.data
        card = {
            "format_version": FORMAT_VERSION,
            "model_id": model_id,
            "algorithm": model.name,
            "parameters": model.algorithm.params,
            "weighting": data.config.to_dict(),
            "data": {
                "watermark": _iso(data.watermark_us), "watermark_us": data.watermark_us,
                "reference_us": data.reference_us, "users": data.n_users, "items": data.n_items,
                "interactions": int(data.strength.nnz),
            },
            "metrics": metrics or {},
            "train_seconds": train_seconds,
            "trained_at": now.isoformat(),
            "files": {ARRAYS: {"bytes": (tmp / ARRAYS).stat().st_size, "sha256": _sha256(tmp / ARRAYS)}},
        }
        _write_file(tmp / CARD, json.dumps(card, indent=2, default=_json_default).encode())
        _fsync_dir(tmp)
        final = models_dir / model_id
        os.rename(tmp, final)
        _fsync_dir(models_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.card = card
    if make_current:
        set_current(models_dir, model_id)
    return final


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a model card")


def set_current(models_dir: Path, model_id: str) -> None:
    if read_card(models_dir / model_id) is None:
        raise NoModelError(f"{models_dir / model_id} is not a complete model")
    tmp = models_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    _write_file(tmp, (model_id + "\n").encode())
    os.replace(tmp, models_dir / CURRENT)
    _fsync_dir(models_dir)


def read_card(path: Path, *, verify: bool = True) -> dict[str, Any] | None:
    """The card of a complete artifact directory of this format version, or None when it is
    partial, damaged or of another version."""
    card = _complete_card(path, verify=verify)
    return card if card is not None and card.get("format_version") == FORMAT_VERSION else None


def _complete_card(path: Path, *, verify: bool = True) -> dict[str, Any] | None:
    """The card of a complete artifact directory of any format version, None when partial or damaged."""
    try:
        card = json.loads((path / CARD).read_text())
        files = card["files"]
        if ARRAYS not in files:
            return None
        for name, meta in files.items():
            f = path / name
            if f.stat().st_size != meta["bytes"] or (verify and _sha256(f) != meta["sha256"]):
                return None
        return card
    except (OSError, ValueError, KeyError, TypeError):
        return None


def good_models(models_dir: Path) -> list[Path]:
    """Complete artifact directories, newest first."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    dirs = [p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    cards = [(p, read_card(p)) for p in dirs]
    good = [(card["trained_at"], p) for p, card in cards if card is not None]
    return [p for _, p in sorted(good, reverse=True)]


def require_card(path: Path) -> dict[str, Any]:
    """The card of the artifact at ``path``; NoModelError when it is not a complete artifact of
    this format version."""
    path = Path(path)
    card = _complete_card(path)
    if card is None:
        raise NoModelError(f"{path} is not a complete model artifact")
    if card.get("format_version") != FORMAT_VERSION:
        raise NoModelError(f"{path} is a model of format version {card.get('format_version')}, this version of "
                           f"shop reads version {FORMAT_VERSION}: {RETRAIN}")
    return card


def load(path: Path) -> TrainedModel:
    path = Path(path)
    card = require_card(path)
    with np.load(path / ARRAYS, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    data = _data_from({k[5:]: v for k, v in arrays.items() if k.startswith("data.")}, card)
    algorithm = make(card["algorithm"], **card["parameters"])
    algorithm.load_state(data, {k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
    return TrainedModel(algorithm, data, card)


def resolve_current(models_dir: Path) -> tuple[Path, str | None]:
    """The directory to serve and, when it is not the one ``current`` names, why not (None when it
    is): ``current`` if it names a complete model, else the newest good one. Cleans stale leftovers
    of interrupted saves first."""
    models_dir = Path(models_dir)
    clean_stale(models_dir)
    try:
        name = (models_dir / CURRENT).read_text().strip()
        problem = None if name else "the `current` pointer is empty"
    except FileNotFoundError:
        name, problem = "", "there is no `current` pointer"
    except (OSError, UnicodeDecodeError) as exc:
        name, problem = "", f"the `current` pointer cannot be read ({getattr(exc, 'strerror', None) or exc})"
    valid_name = bool(name) and "/" not in name and not name.startswith(".")
    other_version = False
    if name and not valid_name:
        problem = f"`current` names {name[:80]!r}, which is not a model directory"
    elif valid_name:
        if read_card(models_dir / name) is not None:
            return models_dir / name, None
        card = _complete_card(models_dir / name)
        if card is None:
            problem = f"`current` names {name}, which is missing or not a complete model"
        else:
            other_version = True
            problem = (f"`current` names {name}, a model of format version {card.get('format_version')} "
                       f"(this version reads {FORMAT_VERSION}): {RETRAIN}")
    good = good_models(models_dir)
    if good:
        return good[0], f"{problem}; serving the newest complete model, {good[0].name}, instead"
    if other_version:
        require_card(models_dir / name)  # complete but of another version: say so
    raise NoModelError(f"No trained model in {models_dir}. Run `shop train` first.")


def current_path(models_dir: Path) -> Path:
    """The directory to serve: ``current`` if it names a complete model, else the newest good one."""
    return resolve_current(models_dir)[0]


def load_current(models_dir: Path) -> TrainedModel:
    return load(current_path(models_dir))
