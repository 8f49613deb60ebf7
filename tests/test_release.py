"""The published artefacts (`wmlib.release`): an archive per task without the recorded data,
served here from a local http.server, downloaded and checked with pooch, unpacked whole into the
data root, reused, and accepted by the pipeline as complete; in Colab, fetched by choosing the
profile."""

import inspect
import io
import json
import sys
import tarfile
import types
from pathlib import Path

import pooch
import pytest
import yaml
from command_line import SHRUNK, run_wmlib
from local_server import served

from wmlib import __version__, artefacts, config, pipeline, release, training
from wmlib.data_folder import DATA_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
PROFILE, TASK = "small", "carracing"
ARCHIVE = release.archive_name(PROFILE, TASK)


def make_artefact(directory: Path, settings: dict, contents: dict[str, str], inputs=None):
    """A toy artefact built through `artefacts.build`: its files and a complete manifest."""

    def make() -> dict:
        for name, text in contents.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text)
        return {"files": len(contents)}

    return artefacts.build(directory, PROFILE, settings, make, inputs=inputs or {})


def refuse_to_make() -> dict:
    raise AssertionError("an artefact of the release was built again")


@pytest.fixture
def source(tmp_path, monkeypatch) -> Path:
    """A data root holding a task's artefacts as the pipeline lays them out: episodes, V built
    from them (with a training checkpoint and a half-written file), V's codes, a later round."""
    monkeypatch.setenv(DATA_VARIABLE, str(tmp_path / "source"))
    folder = tmp_path / "source" / PROFILE / TASK
    episodes = {"episode_00000.npz": "frames", "episode_00001.npz": "frames"}
    make_artefact(folder / "episodes", {"episodes": 2}, episodes)
    make_artefact(
        folder / "vae",
        {"epochs": 1},
        {"vae.keras": "V", "checkpoint.keras": "resume point", "history.json": "[]"},
        {"episodes": folder / "episodes"},
    )
    make_artefact(folder / "latents", {"epochs": 1}, episodes, {"vae": folder / "vae"})
    make_artefact(
        folder / "round_1" / "controller",
        {"generations": 2},
        {"best.npz": "C", "shape/returns.json": "{}"},
    )
    (folder / "vae" / ".partial.vae.keras").write_text("half")
    return folder


@pytest.fixture
def published(source, tmp_path) -> tuple[Path, Path]:
    """The task's archive made by `publish`: (the folder to serve, the registry)."""
    out, registry = tmp_path / "release", tmp_path / "registry.txt"
    release.publish(PROFILE, TASK, out, registry)
    return out, registry


@pytest.fixture
def reader(published, tmp_path, monkeypatch) -> Path:
    """The empty data root of a reader who has not built anything."""
    monkeypatch.setenv(DATA_VARIABLE, str(tmp_path / "reader"))
    return tmp_path / "reader"


def test_the_release_is_published_in_the_books_repository():
    configured = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repository, assets = release.REPOSITORY_URL, release.RELEASE_URL
    assert repository == configured, f"set REPOSITORY_URL in wmlib/release.py to {configured}"
    assert assets == f"{configured}/releases/download/v{__version__}/"


def test_the_committed_registry_lists_archives_of_known_profiles_and_tasks():
    from wmlib.profiles import PROFILES

    known = {release.archive_name(name, task) for task in PROFILES for name in PROFILES[task]}
    assert set(release.read_registry(release.REGISTRY)) <= known


def test_an_archive_holds_the_manifests_and_what_loading_needs_not_the_recorded_data(published):
    out, registry = published
    with tarfile.open(out / ARCHIVE) as tar:
        names = set(tar.getnames())
    folder = f"{PROFILE}/{TASK}"
    assert names == {
        f"{folder}/episodes/manifest.json",
        f"{folder}/vae/manifest.json",
        f"{folder}/vae/vae.keras",
        f"{folder}/vae/history.json",
        f"{folder}/latents/manifest.json",
        f"{folder}/round_1/controller/manifest.json",
        f"{folder}/round_1/controller/best.npz",
        f"{folder}/round_1/controller/shape/returns.json",
    }
    assert release.read_registry(registry) == {ARCHIVE: pooch.file_hash(str(out / ARCHIVE))}


def test_releasing_unchanged_artefacts_makes_the_same_archive(published):
    out, registry = published
    first = release.read_registry(registry)
    release.publish(PROFILE, TASK, out, registry)
    assert release.read_registry(registry) == first


def test_unfinished_artefacts_are_not_released(source, tmp_path):
    manifest = artefacts.read_manifest(source / "vae")
    artefacts.write_manifest(source / "vae", {**manifest, "complete": False})
    with pytest.raises(release.ReleaseError, match=r"Unfinished.*vae.*python -m wmlib all"):
        release.publish(PROFILE, TASK, tmp_path / "release", tmp_path / "registry.txt")
    assert not (tmp_path / "release" / ARCHIVE).exists()


def test_make_release_refuses_a_task_whose_stages_are_not_all_built(source):
    run = run_wmlib("release", "--profile", PROFILE, "--task", TASK, data=source.parent.parent)
    assert run.returncode == 1
    assert (
        "Not built yet" in run.stderr and f"python -m wmlib all --profile {PROFILE}" in run.stderr
    )


def test_fetch_downloads_checks_unpacks_then_reuses_what_it_unpacked(published, reader):
    out, registry = published
    requested = []
    with served(out, requested) as url:
        folder = release.fetch(PROFILE, TASK, f"{url}/", registry)
        assert release.fetch(PROFILE, TASK, f"{url}/", registry) == folder
    assert requested == [f"/{ARCHIVE}"], "the second fetch downloaded again"
    assert folder == reader / PROFILE / TASK
    assert (folder / "vae" / "vae.keras").read_text() == "V"
    assert sorted(path.name for path in reader.iterdir()) == [PROFILE], "leftovers"
    # Every artefact is complete, built from the others: build() reuses it as it is.
    vae = artefacts.build(
        folder / "vae",
        PROFILE,
        {"epochs": 1},
        refuse_to_make,
        inputs={"episodes": folder / "episodes"},
    )
    assert vae["complete"]
    artefacts.build(
        folder / "latents", PROFILE, {"epochs": 1}, refuse_to_make, inputs={"vae": folder / "vae"}
    )


def test_a_corrupted_archive_is_refused_naming_both_hashes_and_nothing_is_unpacked(
    published, reader
):
    out, registry = published
    damaged = bytearray((out / ARCHIVE).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (out / ARCHIVE).write_bytes(damaged)
    expected, actual = release.read_registry(registry)[ARCHIVE], pooch.file_hash(str(out / ARCHIVE))
    with served(out) as url, pytest.raises(release.ReleaseError) as error:
        release.fetch(PROFILE, TASK, f"{url}/", registry)
    message = str(error.value)
    for part in (ARCHIVE, expected, actual, str(registry), "Nothing was unpacked", "WM_TRAIN=1"):
        assert part in message
    assert list(reader.iterdir()) == [], "something was left in the data root"


def test_an_archive_missing_from_the_release_names_its_url_and_the_fix(published, reader, tmp_path):
    _, registry = published
    (tmp_path / "empty").mkdir()
    with served(tmp_path / "empty") as url, pytest.raises(release.ReleaseError) as error:
        release.fetch(PROFILE, TASK, f"{url}/", registry)
    assert f"{url}/{ARCHIVE}" in str(error.value) and "404" in str(error.value)
    assert "WM_TRAIN=1" in str(error.value)
    assert list(reader.iterdir()) == []


def test_an_archive_holding_another_folder_is_refused(reader, tmp_path):
    out, registry = tmp_path / "stray", tmp_path / "stray-registry.txt"
    out.mkdir()
    with tarfile.open(out / ARCHIVE, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("elsewhere/manifest.json"), io.BytesIO())
    release.write_registry({ARCHIVE: pooch.file_hash(str(out / ARCHIVE))}, registry)
    with served(out) as url, pytest.raises(release.ReleaseError, match="elsewhere/manifest.json"):
        release.fetch(PROFILE, TASK, f"{url}/", registry)
    assert list(reader.iterdir()) == []


@pytest.fixture
def in_colab(published, reader, monkeypatch):
    """Colab, as the library sees it, with the release served here: the paths requested."""
    out, registry = published
    requested = []
    monkeypatch.setitem(sys.modules, release.COLAB, types.ModuleType(release.COLAB))
    monkeypatch.delenv(release.TRAIN_VARIABLE, raising=False)
    with served(out, requested) as url:
        monkeypatch.setattr(release, "RELEASE_URL", f"{url}/")
        monkeypatch.setattr(release, "REGISTRY", registry)
        yield requested


def test_in_colab_the_first_artefact_looked_at_fetches_the_release_once(in_colab, reader):
    folder = reader / PROFILE / TASK
    assert artefacts.read_manifest(folder / "vae")["complete"]
    assert artefacts.read_manifest(folder / "episodes")["complete"]
    assert in_colab == [f"/{ARCHIVE}"]


def test_in_colab_building_an_artefact_fetches_the_release_instead(in_colab, reader):
    folder = reader / PROFILE / TASK / "round_1" / "controller"
    assert artefacts.build(folder, PROFILE, {"generations": 2}, refuse_to_make)["complete"]
    assert in_colab == [f"/{ARCHIVE}"]


def test_in_colab_one_flag_trains_instead(in_colab, reader, monkeypatch):
    monkeypatch.setenv(release.TRAIN_VARIABLE, "1")
    assert artefacts.read_manifest(reader / PROFILE / TASK / "vae") is None
    assert in_colab == [] and not (reader / PROFILE).exists()


def test_outside_colab_nothing_is_fetched(in_colab, reader, monkeypatch):
    monkeypatch.delitem(sys.modules, release.COLAB)
    assert artefacts.read_manifest(reader / PROFILE / TASK / "vae") is None
    assert in_colab == [] and not (reader / PROFILE).exists()


def test_in_colab_a_profile_without_a_release_is_built_as_ever(in_colab, reader):
    assert artefacts.read_manifest(reader / "ci" / TASK / "vae") is None
    assert artefacts.read_manifest(reader / "elsewhere") is None
    assert in_colab == []


def test_the_release_names_the_pipelines_folders_and_files():
    profile = config.get("ci")
    folders = (pipeline.episodes_dir(profile).name, pipeline.latents_dir(profile).name)
    assert release.MANIFEST == artefacts.MANIFEST
    assert folders == release.RECORDED
    assert f'"{release.CHECKPOINT}"' in inspect.getsource(training.fit_resumable)


def test_a_fetched_release_is_loaded_by_the_pipeline_without_training(
    built_by_all, tmp_path, monkeypatch
):
    """The real pipeline (the ci profile shrunk, as `built_by_all` ran it) published, fetched into
    a fresh data root, and run again there: V, M, C and every result are reused as they are; the
    episodes are recorded again, and encoded again, only when a stage reads them."""
    data, run = built_by_all
    assert run.returncode == 0, run.stderr
    monkeypatch.setenv(DATA_VARIABLE, str(data))
    out, registry = tmp_path / "release", tmp_path / "registry.txt"
    release.publish("ci", TASK, out, registry)
    reader = tmp_path / "reader"
    monkeypatch.setenv(DATA_VARIABLE, str(reader))
    with served(out) as url:
        folder = release.fetch("ci", TASK, f"{url}/", registry)
    built = {path: json.loads(path.read_text()) for path in folder.rglob("manifest.json")}

    vae = run_wmlib("vae", *SHRUNK, data=reader)
    assert vae.returncode == 0, vae.stderr
    assert not list((folder / "episodes").glob("*.npz")), "loading V recorded its episodes"

    again = run_wmlib("all", *SHRUNK, data=reader)
    assert again.returncode == 0, again.stderr
    for path, manifest in built.items():
        now = json.loads(path.read_text())
        assert now["complete"] and now["build"] == manifest["build"], path
        if path.parent.name not in release.RECORDED:
            assert now == manifest, f"{path.parent} was built again"
    for recorded in release.RECORDED:
        originals = sorted(path.name for path in (data / "ci" / TASK / recorded).glob("*.npz"))
        assert sorted(path.name for path in (folder / recorded).glob("*.npz")) == originals
