"""Artifacts: a saved model loads back identical; partial or damaged artifacts are never served."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender import artifacts
from recommender.pipeline import default_params, train


@pytest.fixture(scope="module")
def trained(durables_shop):
    return {name: train(durables_shop.events.aggregate(), durables_shop.catalogue, algorithm=name,
                        params=default_params(name))[0]
            for name in ("ranker", "hybrid", "item_knn", "ease", "popularity", "buy_again", "user_knn", "als")}


@pytest.mark.parametrize("name", ["ranker", "hybrid", "item_knn", "ease", "popularity", "buy_again", "user_knn", "als"])
def test_round_trip_gives_the_same_recommendations(name, trained, tmp_path: Path) -> None:
    model = trained[name]
    path = artifacts.save(model, tmp_path, metrics={"test": {"ndcg": 0.5}}, train_seconds=1.25)
    loaded = artifacts.load_current(tmp_path)
    assert loaded.card["algorithm"] == name and loaded.card["metrics"]["test"]["ndcg"] == 0.5
    assert loaded.card["data"]["watermark"] is not None and loaded.card["trained_at"]
    for user in model.data.users.ids[:25]:
        assert model.recommend(int(user), k=10) == loaded.recommend(int(user), k=10)
    events = [(int(model.data.items.ids[3]), "view")]
    assert model.recommend(123_456_789, k=5, recent_events=events) == loaded.recommend(123_456_789, k=5, recent_events=events)
    assert model.similar_items(int(model.data.items.ids[0]), 5) == loaded.similar_items(int(model.data.items.ids[0]), 5)
    assert (tmp_path / "current").read_text().strip() == path.name


def test_half_written_artifacts_are_ignored(trained, tmp_path: Path) -> None:
    good = artifacts.save(trained["item_knn"], tmp_path)
    newer = artifacts.save(trained["hybrid"], tmp_path, make_current=False)
    # A crash before the rename leaves a hidden temporary directory.
    shutil.copytree(newer, tmp_path / ".tmp-20990101T000000000000Z-hybrid-000000")
    # A directory without its card (written last) ...
    no_card = tmp_path / "20990101T000000000000Z-hybrid-aaaaaa"
    shutil.copytree(newer, no_card)
    (no_card / "card.json").unlink()
    # ... and one whose arrays were truncated after the card was written.
    truncated = tmp_path / "20990102T000000000000Z-hybrid-bbbbbb"
    shutil.copytree(newer, truncated)
    card = json.loads((truncated / "card.json").read_text())
    card["trained_at"] = "2099-01-02T00:00:00+00:00"
    (truncated / "card.json").write_text(json.dumps(card))
    with open(truncated / "arrays.npz", "r+b") as f:
        f.truncate(os.path.getsize(truncated / "arrays.npz") // 2)
    assert artifacts.read_card(no_card) is None and artifacts.read_card(truncated) is None
    assert artifacts.good_models(tmp_path) == [newer, good]
    assert artifacts.current_path(tmp_path) == good  # current names a good model: it is served

    # current pointing at a broken directory: fall back to the newest good model.
    (tmp_path / "current").write_text(truncated.name)
    assert artifacts.current_path(tmp_path) == newer
    assert artifacts.load_current(tmp_path).card["algorithm"] == "hybrid"
    with pytest.raises(artifacts.NoModelError):
        artifacts.set_current(tmp_path, no_card.name)


def test_corrupted_bytes_of_the_same_size_are_detected(trained, tmp_path: Path) -> None:
    path = artifacts.save(trained["popularity"], tmp_path)
    data = bytearray((path / "arrays.npz").read_bytes())
    data[-100] ^= 0xFF
    (path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(artifacts.NoModelError):
        artifacts.load_current(tmp_path)


def test_empty_models_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(artifacts.NoModelError, match="shop train"):
        artifacts.load_current(tmp_path / "models")


def test_saving_leaves_no_temporary_files(trained, tmp_path: Path) -> None:
    artifacts.save(trained["popularity"], tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    loaded = artifacts.load_current(tmp_path)
    np.testing.assert_array_equal(loaded.popularity, trained["popularity"].popularity)


def test_the_rankers_visits_round_trip(trained, tmp_path: Path) -> None:
    model = trained["ranker"]
    loaded = artifacts.load(artifacts.save(model, tmp_path))
    assert loaded.data.visits is not None
    assert (loaded.data.visits != model.data.visits).nnz == 0
    # A fresh view of a new user is folded into the visits the ranker reads, after loading too.
    item = int(model.data.items.ids[7])
    assert loaded.recommend(987_654_321, k=10, recent_events=[(item, "view")]) == \
        model.recommend(987_654_321, k=10, recent_events=[(item, "view")])


def test_a_ranker_with_brand_lifts_round_trips(tmp_path: Path) -> None:
    from tests.recommender.planted import brand_shop

    shop = brand_shop()
    model, _ = train(shop.events.aggregate(), shop.catalogue, algorithm="ranker")
    loaded = artifacts.load(artifacts.save(model, tmp_path))
    assert (loaded.data.views != model.data.views).nnz == 0
    np.testing.assert_array_equal(loaded.algorithm.brand_lift.weights, model.algorithm.brand_lift.weights)
    for user in model.data.users.ids[:25]:
        assert model.recommend(int(user), k=10) == loaded.recommend(int(user), k=10)
    # Fresh views of one brand steer a new user the same way before and after loading.
    events = [(int(p), "view") for p in (1, 2, 3, 1, 2)]
    assert loaded.recommend(987_654_321, k=10, recent_events=events) == \
        model.recommend(987_654_321, k=10, recent_events=events)


def test_a_ranker_artifact_from_before_brand_lifts_asks_for_retraining(trained) -> None:
    from recommender.algorithms import make

    model = trained["ranker"]
    state = {k: v for k, v in model.algorithm.state().items() if not k.startswith("brand_lift.")}
    with pytest.raises(ValueError, match="shop train"):
        make("ranker", **model.algorithm.params).load_state(model.data, state)


def test_a_ranker_artifact_from_before_visits_asks_for_retraining(trained) -> None:
    from recommender.algorithms import make

    model = trained["ranker"]
    state = {k: v for k, v in model.algorithm.state().items() if k not in ("lrp_centre", "lrp_var")}
    with pytest.raises(ValueError, match="shop train"):
        make("ranker", **model.algorithm.params).load_state(model.data, state)


def test_an_artifact_of_another_format_version_asks_for_retraining(trained, tmp_path: Path) -> None:
    path = artifacts.save(trained["popularity"], tmp_path)
    card = json.loads((path / "card.json").read_text())
    card["format_version"] = artifacts.FORMAT_VERSION - 1
    (path / "card.json").write_text(json.dumps(card))
    assert artifacts.read_card(path) is None and artifacts.good_models(tmp_path) == []
    with pytest.raises(artifacts.NoModelError, match="train a new model with `shop train`"):
        artifacts.load(path)
    with pytest.raises(artifacts.NoModelError, match="train a new model with `shop train`"):
        artifacts.current_path(tmp_path)


def _age(path: Path, seconds: float) -> None:
    """Make ``path`` (and what is in it) look untouched for ``seconds``."""
    import time

    when = time.time() - seconds
    for p in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(p, (when, when), follow_symlinks=False)


def test_stale_leftovers_of_interrupted_saves_are_cleaned_and_fresh_ones_kept(trained, tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = artifacts.save(trained["popularity"], models)
    stale_tmp = models / ".tmp-20240101T000000000000Z-hybrid-abcdef"
    shutil.copytree(first, stale_tmp)
    stale_pointer = models / ".current.0badcafe"
    stale_pointer.write_text(first.name + "\n")
    fresh_tmp = models / ".tmp-20990101T000000000000Z-ranker-123456"  # a save in progress elsewhere
    shutil.copytree(first, fresh_tmp)
    fresh_pointer = models / ".current.12345678"
    fresh_pointer.write_text(first.name + "\n")
    # A directory whose own mtime is old but whose file was just written is in progress too.
    busy_tmp = models / ".tmp-20240102T000000000000Z-als-fedcba"
    busy_tmp.mkdir()
    (busy_tmp / "arrays.npz").write_bytes(b"being written")
    os.utime(busy_tmp, (0, 0))
    # Names of other shapes are not ours to remove; a link is removed, never followed.
    others = [models / ".tmpnotes", models / "notes.txt", models / ".current"]
    for p in others:
        p.write_text("keep")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    link = models / ".tmp-20240103T000000000000Z-hybrid-0a0b0c"
    link.symlink_to(outside, target_is_directory=True)
    for p in (stale_tmp, stale_pointer, link, outside, *others):
        _age(p, artifacts.STALE_AFTER_S + 60)

    second = artifacts.save(trained["popularity"], models)  # cleans at save time
    assert not stale_tmp.exists() and not stale_pointer.exists() and not link.is_symlink()
    assert (outside / "precious").read_text() == "keep"
    assert fresh_tmp.is_dir() and fresh_pointer.exists() and busy_tmp.is_dir()
    assert all(p.read_text() == "keep" for p in others)
    assert artifacts.good_models(models) == [second, first]

    # ... and at load time, once they have gone stale.
    for p in (fresh_tmp, fresh_pointer, busy_tmp):
        _age(p, artifacts.STALE_AFTER_S + 60)
    assert artifacts.resolve_current(models) == (second, None)
    assert sorted(p.name for p in models.iterdir()) == sorted([first.name, second.name, "current", ".tmpnotes",
                                                               "notes.txt", ".current"])


def test_a_broken_current_pointer_is_reported_with_the_model_served_instead(trained, tmp_path: Path) -> None:
    good = artifacts.save(trained["popularity"], tmp_path)
    assert artifacts.resolve_current(tmp_path) == (good, None)
    pointer = tmp_path / "current"
    cases = {
        "20990101T000000000000Z-gone-000000\n": "`current` names 20990101T000000000000Z-gone-000000, which is missing",
        "\n": "the `current` pointer is empty",
        "../elsewhere\n": "which is not a model directory",
    }
    for text, words in cases.items():
        pointer.write_text(text)
        path, problem = artifacts.resolve_current(tmp_path)
        assert path == good
        assert words in problem and f"serving the newest complete model, {good.name}, instead" in problem, problem
        assert artifacts.current_path(tmp_path) == good
    pointer.unlink()
    assert "there is no `current` pointer" in artifacts.resolve_current(tmp_path)[1]
    older = tmp_path / "20000101T000000000000Z-popularity-000001"
    shutil.copytree(good, older)
    card = json.loads((older / "card.json").read_text())
    card["format_version"] = artifacts.FORMAT_VERSION - 1
    (older / "card.json").write_text(json.dumps(card))
    pointer.write_text(older.name)
    path, problem = artifacts.resolve_current(tmp_path)
    assert path == good and "format version" in problem and "shop train" in problem
