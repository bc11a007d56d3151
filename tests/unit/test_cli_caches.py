"""The command line's content-addressed caches: the catalogue's validation verdict, compiled templates."""

from __future__ import annotations

import pytest

from socle import cache, catalogue
from socle.report import html


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "socle"


def test_a_valid_catalogue_is_validated_once(own_cache, monkeypatch):
    calls = []
    real = catalogue.validate
    monkeypatch.setattr(catalogue, "validate", lambda data: calls.append(1) or real(data))
    first = catalogue.load_catalogue()
    second = catalogue.load_catalogue()
    assert calls == [1]
    assert first.controls == second.controls and first.measures == second.measures
    assert len(list((own_cache / "catalogue-valid").iterdir())) == 1


def test_a_changed_catalogue_is_validated_again_and_an_invalid_one_never_kept(own_cache, tmp_path):
    source = catalogue.CATALOGUE_PATH.read_text(encoding="utf-8")
    copy = tmp_path / "controls.yml"
    copy.write_text(source, encoding="utf-8")
    catalogue.load_catalogue(copy)
    broken = source.replace("schema_version:", "schema_versio:", 1)
    assert broken != source
    copy.write_text(broken, encoding="utf-8")
    for _ in range(2):  # refused both times: a refusal is never remembered
        with pytest.raises(catalogue.CatalogueError):
            catalogue.load_catalogue(copy)
    assert len(list((own_cache / "catalogue-valid").iterdir())) == 1


def test_the_verdict_depends_on_the_rules_too():
    text = catalogue.CATALOGUE_PATH.read_text(encoding="utf-8")
    assert cache.digest(text, b"schema", b"rules") != cache.digest(text, b"schema", b"rules 2")
    assert cache.digest("ab", "c") != cache.digest("a", "bc")


def test_compiled_templates_are_kept(own_cache):
    env = html.Environment(loader=html.FileSystemLoader(str(html.TEMPLATE_DIR)), bytecode_cache=html._bytecode_cache())
    env.get_template("report.html.j2")
    kept = list((own_cache / "templates").iterdir())
    assert kept and all(path.name.startswith("__jinja2_") for path in kept)


def test_no_template_cache_where_the_folder_cannot_be_made(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert html._bytecode_cache() is None
