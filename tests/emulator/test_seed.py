"""Seeding is deterministic from the seed, builds realistic framework content, and makes big
incompressible files fast."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from pantheon_emulator import content, seed
from pantheon_emulator.store import Store

RECIPE = {"seed": 21, "sites": [
    {"name": "det-d7", "framework": "drupal", "db": {"nodes": 12},
     "files": {"count": 15, "size": [1, 9000], "compressible": False, "unicode": True, "depth": 3, "folders": 4,
               "empty_dirs": 2}},
    {"name": "det-wp", "framework": "wordpress", "db": {"posts": 6}, "envs": ["dev", "test", "live", "feature-x"]},
]}


def _snapshot(store, name, env):
    site = store.find_site_by_name(name)
    paths = store.env_paths(site["id"], env)
    return {"site_id": site["id"], "files": content.files_summary(paths.files, digest=True),
            "db": paths.db.digest(), "tables": content.db_tables(paths.db), "head": content.code_head(paths),
            "code": sorted(rel for rel, _p, _st in content.walk_files(paths.code) if not rel.startswith(".git/"))}


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    stores = [Store(tmp_path_factory.mktemp(f"seed{i}")) for i in range(2)]
    for store in stores:
        seed.seed_recipe(store, RECIPE)
    yield stores
    for store in stores:
        store.close()


def test_same_recipe_same_content(two_stores):
    a, b = two_stores
    for name, env in (("det-d7", "live"), ("det-wp", "feature-x")):
        assert _snapshot(a, name, env) == _snapshot(b, name, env)


def test_files_spec_is_honoured(two_stores):
    store = two_stores[0]
    site = store.find_site_by_name("det-d7")
    files = store.env_paths(site["id"], "dev").files
    summary = content.files_summary(files)
    assert summary["count"] == 15 and summary["empty_dirs"] == 2
    names = [p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()]
    assert any(not n.isascii() for n in names) and any(" " in n for n in names)
    assert max(n.count("/") for n in names) >= 2, "nested folders"
    blob = b"".join((files / n).read_bytes() for n in names)
    assert len(gzip.compress(blob)) > 0.95 * len(blob), "compressible: false means incompressible"


def test_framework_layouts(two_stores):
    store = two_stores[0]
    d7 = store.env_paths(store.find_site_by_name("det-d7")["id"], "dev")
    assert (d7.code / "sites/default/settings.php").exists() and (d7.code / "includes/bootstrap.inc").exists()
    assert (d7.code / "sites/default/files").resolve() == d7.files.resolve()
    assert set(content.db_tables(d7.db)) >= {"variable", "node", "users", "system", "cache"}
    wp = store.env_paths(store.find_site_by_name("det-wp")["id"], "feature-x")
    assert (wp.code / "wp-config.php").exists() and (wp.code / "MULTIDEV.txt").exists()
    assert (wp.code / "wp-content/uploads").resolve() == wp.files.resolve()
    assert content.db_tables(wp.db)["wp_posts"] == 6
    assert content.git("rev-parse", "--abbrev-ref", "HEAD", cwd=wp.code).strip() == "feature-x"


def test_lazy_sites_materialize_on_first_use(tmp_path):
    store = Store(tmp_path / "lazy")
    try:
        t0 = time.monotonic()
        made = seed.seed_recipe(store, seed.bulk_sites(60, prefix="lz-"))
        quick = time.monotonic() - t0
        site = store.get_site(made[0]["id"])
        assert site["pending"] and not (Path(store.data_dir, "sites", site["id"], "repository.git")).exists()
        paths = store.env_paths(site["id"], "dev")
        assert store.get_site(site["id"])["pending"] is None
        assert content.db_tables(paths.db)["node"] == 3 and content.code_head(paths)
        # lazy is what the assertions above prove (no repository until first use); the time is printed, not asserted
        print(f"60 lazy sites seeded in {quick:.1f}s")
    finally:
        store.close()


@pytest.mark.slow
def test_300mb_of_random_files_is_quick(tmp_path):
    t0 = time.monotonic()
    written = seed.generate_files(tmp_path / "files", {"count": 0, "big": [
        {"name": f"big-{i}.bin", "size": "100MB", "compressible": False} for i in range(3)]}, 1, "big")
    elapsed = time.monotonic() - t0
    assert sum((tmp_path / "files" / w).stat().st_size for w in written) == 300 * 1024 * 1024
    sample = (tmp_path / "files" / written[0]).read_bytes()[:8 * 1024 * 1024]
    assert len(gzip.compress(sample, 1)) > 0.99 * len(sample)
    print(f"300 MB of incompressible files written in {elapsed:.1f}s")  # a benchmark figure, not asserted
