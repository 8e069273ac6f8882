"""pykern.datasets and get_file: small files in the real formats, written into a
temporary PYKERN_HOME and a fake HOME (~/.keras), loaded by pykern and by Keras;
the network is never touched (urlopen is replaced by a fake server or a failure)."""
import gzip
import hashlib
import io
import json
import os
import pickle
import pickletools
import tarfile
import urllib.error

import numpy as np
import pytest

from pykern import datasets
from pykern.datasets import cifar10, cifar100, imdb, mnist
from pykern.datasets.safe_load import RestrictedUnpickler, load_npz
from pykern.utils import file_utils


# --- homes, a fake network ------------------------------------------------------------------
class Homes:
    def __init__(self, tmp_path):
        self.pykern = tmp_path / "pykern" / "datasets"
        self.keras = tmp_path / "home" / ".keras" / "datasets"
        self.keras.mkdir(parents=True)

    def put(self, where, name, data):
        folder = self.pykern if where == "pykern" else self.keras
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


class Server:
    """urlopen's stand-in: serves registered bytes, else fails like an offline machine."""

    def __init__(self):
        self.files, self.requests, self.break_after = {}, [], None

    def __call__(self, url):
        self.requests.append(url)
        if url not in self.files:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        return _Response(self.files[url], self.break_after)


class _Response:
    def __init__(self, data, break_after):
        self.data, self.pos, self.break_after = data, 0, break_after
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n):
        if self.break_after is not None and self.pos >= self.break_after:
            raise ConnectionResetError("connection reset by peer")
        chunk = self.data[self.pos:self.pos + min(n, 7)]
        self.pos += len(chunk)
        return chunk

    def close(self):
        pass


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    monkeypatch.setenv("PYKERN_HOME", str(tmp_path / "pykern"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    return Homes(tmp_path)


@pytest.fixture(autouse=True)
def server(monkeypatch):
    fake = Server()
    monkeypatch.setattr(file_utils, "urlopen", fake)
    return fake


@pytest.fixture
def keras_loaders(keras, homes, monkeypatch):
    """Keras reading the same fake ~/.keras, accepting our small files' hashes, offline."""
    from keras.src.backend import config
    from keras.src.utils import file_utils as kfu
    monkeypatch.setattr(config, "_KERAS_DIR", str(homes.keras.parent))
    monkeypatch.setattr(kfu, "validate_file", lambda *a, **k: True)

    def offline(*a, **k):
        raise AssertionError("Keras tried to download")
    monkeypatch.setattr(kfu, "urlretrieve", offline)
    return keras.datasets


def _assert_same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same(a, b)
        return
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if theirs.dtype == object:
        assert [list(s) for s in ours] == [list(s) for s in theirs]
    else:
        np.testing.assert_array_equal(ours, theirs)


# --- small files in the real formats --------------------------------------------------------
def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _ragged(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def mnist_bytes(seed=0):
    rng = np.random.RandomState(seed)
    return _npz(x_train=rng.randint(0, 256, (5, 28, 28)).astype(np.uint8),
                y_train=rng.randint(0, 10, 5).astype(np.uint8),
                x_test=rng.randint(0, 256, (3, 28, 28)).astype(np.uint8),
                y_test=rng.randint(0, 10, 3).astype(np.uint8))


def imdb_bytes():
    rng = np.random.RandomState(1)
    seqs = [list(rng.randint(1, 40, rng.randint(1, 12))) for _ in range(14)]
    seqs = [[int(w) for w in s] for s in seqs]
    return _npz(x_train=_ragged(seqs[:8]), y_train=rng.randint(0, 2, 8),
                x_test=_ragged(seqs[8:]), y_test=rng.randint(0, 2, 6))


def reuters_bytes():
    rng = np.random.RandomState(2)
    seqs = [[int(w) for w in rng.randint(1, 30, rng.randint(2, 9))] for _ in range(11)]
    return _npz(x=_ragged(seqs), y=rng.randint(0, 46, 11))


def _idx(payload, header):
    return gzip.compress(header + payload.tobytes())


def cifar_batch(n, label_key, offset, data=None):
    labels = [(i + offset) % 10 for i in range(n)]
    if data is None:
        data = ((np.arange(n)[:, None] * 7 + np.arange(3072) + offset) % 256).astype(np.uint8)
    return pickle.dumps({b"batch_label": b"x", b"data": data, label_key: labels}, protocol=4)


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def write_cifar10_archive(path):
    """Keras' cifar10 assumes 10,000 images per batch: 184 MB, left uncompressed (gzip
    would take longer than the rest of the test) and written straight to the file."""
    patterns = ((np.arange(5)[:, None] * 13 + np.arange(3072)) % 256).astype(np.uint8)
    with tarfile.open(path, mode="w") as tar:
        for b, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
            data = np.roll(patterns, b, axis=1)[np.arange(10000) % 5]
            raw = cifar_batch(10000, b"labels", b, data)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def cifar100_members():
    def batch(n, offset):
        d = {b"data": ((np.arange(n)[:, None] + np.arange(3072) * 3 + offset) % 256
                       ).astype(np.uint8),
             b"fine_labels": [(7 * i + offset) % 100 for i in range(n)],
             b"coarse_labels": [(i + offset) % 20 for i in range(n)]}
        return pickle.dumps(d, protocol=4)
    return {"cifar-100-python/train": batch(6, 0), "cifar-100-python/test": batch(4, 1)}


# --- parity with Keras' loaders -------------------------------------------------------------
def test_mnist_matches_keras(homes, keras_loaders):
    homes.put("keras", "mnist.npz", mnist_bytes())
    _assert_same(datasets.mnist.load_data(), keras_loaders.mnist.load_data())


def test_fashion_mnist_matches_keras(homes, keras_loaders):
    rng = np.random.RandomState(3)
    for prefix, n in (("train", 4), ("t10k", 2)):
        homes.put("keras", f"fashion-mnist/{prefix}-labels-idx1-ubyte.gz",
                  _idx(rng.randint(0, 10, n).astype(np.uint8), b"\0\0\x08\x01" + b"\0" * 4))
        homes.put("keras", f"fashion-mnist/{prefix}-images-idx3-ubyte.gz",
                  _idx(rng.randint(0, 256, (n, 28, 28)).astype(np.uint8),
                       b"\0\0\x08\x03" + b"\0" * 12))
    _assert_same(datasets.fashion_mnist.load_data(), keras_loaders.fashion_mnist.load_data())


@pytest.mark.parametrize("kwargs", [
    {}, dict(num_words=20, skip_top=3), dict(maxlen=8, seed=5), dict(start_char=None),
    dict(oov_char=None, num_words=15), dict(index_from=0, start_char=None),
])
def test_imdb_matches_keras(homes, keras_loaders, kwargs):
    homes.put("keras", "imdb.npz", imdb_bytes())
    _assert_same(datasets.imdb.load_data(**kwargs), keras_loaders.imdb.load_data(**kwargs))


@pytest.mark.parametrize("kwargs", [{}, dict(num_words=12, test_split=0.3, seed=1),
                                    dict(maxlen=6, oov_char=None)])
def test_reuters_matches_keras(homes, keras_loaders, kwargs):
    homes.put("keras", "reuters.npz", reuters_bytes())
    _assert_same(datasets.reuters.load_data(**kwargs), keras_loaders.reuters.load_data(**kwargs))
    assert datasets.reuters.get_label_names() == keras_loaders.reuters.get_label_names()


def test_word_indexes_match_keras(homes, keras_loaders):
    homes.put("keras", "imdb_word_index.json", json.dumps({"the": 1, "film": 2}).encode())
    homes.put("keras", "reuters_word_index.json", json.dumps({"said": 1}).encode())
    assert datasets.imdb.get_word_index() == keras_loaders.imdb.get_word_index()
    assert datasets.reuters.get_word_index() == keras_loaders.reuters.get_word_index()


@pytest.mark.parametrize("name, kwargs", [
    ("boston_housing", {}), ("boston_housing", dict(test_split=0.3, seed=4)),
    ("california_housing", {}), ("california_housing", dict(version="small", test_split=0.1)),
])
def test_housing_matches_keras(homes, keras_loaders, name, kwargs):
    rng = np.random.RandomState(4)
    rows, features = (50, 13) if name == "boston_housing" else (700, 8)
    homes.put("keras", f"{name}.npz", _npz(x=rng.rand(rows, features),
                                           y=rng.rand(rows).astype(np.float32)))
    _assert_same(getattr(datasets, name).load_data(**kwargs),
                 getattr(keras_loaders, name).load_data(**kwargs))


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(homes, keras_loaders, monkeypatch, label_mode):
    archive = _tar(cifar100_members())
    homes.put("keras", "cifar-100-python-target_archive", archive)
    monkeypatch.setattr(cifar100, "SHA256", hashlib.sha256(archive).hexdigest())
    ours = datasets.cifar100.load_data(label_mode)  # from Keras 3's archive
    _assert_same(ours, keras_loaders.cifar100.load_data(label_mode))
    os.remove(homes.keras / "cifar-100-python-target_archive")
    _assert_same(datasets.cifar100.load_data(label_mode), ours)  # from Keras' extracted folder


@pytest.fixture
def memory_homes(monkeypatch, homes, keras_loaders):
    """The homes in memory (/dev/shm where there is one): Keras extracts CIFAR-10's
    184 MB there, which a shared disk makes take half a minute."""
    import shutil
    import tempfile
    from pathlib import Path

    from keras.src.backend import config
    root = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    fast = Homes(root)
    monkeypatch.setenv("PYKERN_HOME", str(root / "pykern"))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setattr(config, "_KERAS_DIR", str(fast.keras.parent))
    yield fast
    shutil.rmtree(root)


def test_cifar10_matches_keras(memory_homes, keras_loaders):
    homes = memory_homes
    write_cifar10_archive(homes.keras / "cifar-10-batches-py-target_archive")
    theirs = keras_loaders.cifar10.load_data()  # extracts next to the archive
    os.remove(homes.keras / "cifar-10-batches-py-target_archive")
    ours = datasets.cifar10.load_data()  # the extracted folder, no archive left
    _assert_same(ours, theirs)
    assert ours[0][0].shape == (50000, 32, 32, 3) and ours[1][1].shape == (10000, 1)


def test_cifar100_rejects_an_unknown_label_mode():
    with pytest.raises(ValueError, match="label_mode"):
        datasets.cifar100.load_data("medium")


# --- where files are looked up, downloads ---------------------------------------------------
def test_pykern_cache_comes_before_keras_cache(homes):
    homes.put("pykern", "mnist.npz", mnist_bytes(seed=1))
    homes.put("keras", "mnist.npz", mnist_bytes(seed=2))
    with np.load(homes.pykern / "mnist.npz") as f:
        np.testing.assert_array_equal(datasets.mnist.load_data()[0][0], f["x_train"])


def test_offline_without_a_cached_file_says_what_to_put_where(homes, server):
    with pytest.raises(file_utils.DownloadError) as info:
        datasets.mnist.load_data()
    message = str(info.value)
    assert "mnist.npz" in message and mnist.ORIGIN in message
    assert str(homes.pykern / "mnist.npz") in message and "name resolution" in message
    assert server.requests == [mnist.ORIGIN]
    assert not os.path.exists(homes.pykern / "mnist.npz")


def test_a_download_lands_atomically_with_a_progress_bar(homes, server, monkeypatch, capsys):
    good = mnist_bytes()
    server.files[mnist.ORIGIN] = good
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(good).hexdigest())
    (x_train, _), _ = datasets.mnist.load_data()
    assert (homes.pykern / "mnist.npz").read_bytes() == good
    assert f"{len(good)}/{len(good)}" in capsys.readouterr().out
    assert x_train.shape == (5, 28, 28)
    datasets.mnist.load_data()
    assert len(server.requests) == 1  # cached now
    assert sorted(os.listdir(homes.pykern)) == ["mnist.npz"]  # no temporary files left


def test_a_truncated_cached_file_is_fetched_again_when_online(homes, server, monkeypatch):
    good = mnist_bytes()
    server.files[mnist.ORIGIN] = good
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(good).hexdigest())
    broken = homes.put("keras", "mnist.npz", good[:len(good) // 2])
    assert datasets.mnist.load_data()[1][0].shape == (3, 28, 28)
    assert (homes.pykern / "mnist.npz").read_bytes() == good
    assert broken.read_bytes() == good[:len(good) // 2]  # Keras' folder is only read


def test_a_truncated_cached_file_offline_is_an_error_naming_it(homes):
    broken = homes.put("pykern", "mnist.npz", mnist_bytes()[:300])
    with pytest.raises(file_utils.DownloadError, match=str(broken)):
        datasets.mnist.load_data()


def test_a_download_with_the_wrong_checksum_is_not_kept(homes, server):
    server.files[mnist.ORIGIN] = mnist_bytes()
    with pytest.raises(file_utils.DownloadError, match="hash does not match"):
        datasets.mnist.load_data()
    assert not homes.pykern.exists() or os.listdir(homes.pykern) == []


def test_a_broken_transfer_leaves_no_file(homes, server):
    server.files[mnist.ORIGIN] = mnist_bytes()
    server.break_after = 100
    with pytest.raises(file_utils.DownloadError, match="broke off after 105 bytes"):
        datasets.mnist.load_data()
    assert os.listdir(homes.pykern) == []


def test_a_cached_archive_with_the_wrong_checksum_is_not_used(homes):
    archive = homes.put("keras", "cifar-100-python.tar.gz", _tar(cifar100_members()))
    with pytest.raises(file_utils.DownloadError, match=f"{archive} .its checksum"):
        datasets.cifar100.load_data()


def test_a_cached_archive_is_read_without_extracting_it(homes, monkeypatch):
    archive = _tar(cifar100_members())
    homes.put("pykern", "cifar-100-python.tar.gz", archive)
    monkeypatch.setattr(cifar100, "SHA256", hashlib.sha256(archive).hexdigest())
    (x, y), (_, yt) = datasets.cifar100.load_data("coarse")
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert yt.ravel().tolist() == [1, 2, 3, 4]
    assert os.listdir(homes.pykern) == ["cifar-100-python.tar.gz"]


def test_a_cifar_folder_missing_a_batch_falls_back_to_the_archive(homes, monkeypatch, server):
    folder = homes.keras / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(cifar_batch(2, b"labels", 0))
    with pytest.raises(file_utils.DownloadError, match="data_batch_2"):
        datasets.cifar10.load_data()
    assert server.requests == [cifar10.ORIGIN]


def test_digits_ship_with_pykern():
    (x, y), (xt, yt) = datasets.digits.load_data()
    assert x.shape == (1437, 8, 8) and xt.shape == (360, 8, 8)
    assert x.dtype == np.uint8 and y.dtype == np.uint8 and x.max() == 16 and x.min() == 0
    labels = np.concatenate([y, yt])
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    (x2, _), _ = datasets.digits.load_data()
    np.testing.assert_array_equal(x, x2)
    (x3, _), (xt3, _) = datasets.digits.load_data(test_split=0.5, seed=0)
    assert len(x3) == 898 and len(xt3) == 899
    # the first image of the UCI file is a 0; RandomState(113) moves it to row 1,207
    first = np.array([[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0]])
    order = np.arange(1797)
    np.random.RandomState(113).shuffle(order)
    row = int(np.flatnonzero(order == 0)[0])
    images = np.concatenate([x, xt])
    np.testing.assert_array_equal(images[row][:2], first)
    assert labels[row] == 0


# --- get_file -------------------------------------------------------------------------------
URL = "https://example.invalid/files/data.bin"


def test_get_file_downloads_once_and_redownloads_a_stale_copy(homes, server, tmp_path):
    server.files[URL] = b"payload"
    md5 = hashlib.md5(b"payload").hexdigest()
    path = file_utils.get_file(origin=URL, file_hash=md5, cache_dir=str(tmp_path / "c"))
    assert path == str(tmp_path / "c" / "datasets" / "data.bin")
    file_utils.get_file(origin=URL, md5_hash=md5, cache_dir=str(tmp_path / "c"))
    assert len(server.requests) == 1
    with open(path, "wb") as f:
        f.write(b"stale")
    file_utils.get_file("data.bin", URL, file_hash=md5, cache_dir=str(tmp_path / "c"))
    assert len(server.requests) == 2
    with open(path, "rb") as f:
        assert f.read() == b"payload"


def test_get_file_extracts_archives_under_keras_names(homes, server):
    archive = _tar({"pkg/a.txt": b"A", "pkg/sub/b.txt": b"B"})
    server.files[URL] = archive
    folder = file_utils.get_file("pkg.tar.gz", URL, extract=True, cache_subdir="models")
    assert folder == str(homes.pykern.parent / "models" / "pkg_extracted")
    with open(os.path.join(folder, "pkg", "sub", "b.txt")) as f:
        assert f.read() == "B"
    folder = file_utils.get_file("pkg2", URL, extract=True)
    assert folder == str(homes.pykern / "pkg2")
    assert os.path.exists(str(homes.pykern / "pkg2_archive"))


def test_get_file_refuses_members_outside_the_folder(homes, server):
    server.files[URL] = _tar({"../escape.txt": b"x"})
    with pytest.raises(tarfile.TarError):
        file_utils.get_file("evil.tar.gz", URL, extract=True)
    assert not (homes.pykern / "escape.txt").exists()
    assert not (homes.pykern / "evil_extracted").exists()


def test_get_file_rejects_paths_as_names():
    with pytest.raises(ValueError, match="file name"):
        file_utils.get_file("sub/x.bin", URL)
    with pytest.raises(ValueError, match="origin"):
        file_utils.get_file("x.bin")


# --- never running code from a file ---------------------------------------------------------
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_unpickler_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _Exploit(marker)}, protocol=2)
    assert "system" in str(list(pickletools.genops(payload)))
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system|os\.system"):
        RestrictedUnpickler(io.BytesIO(payload)).load()
    assert not marker.exists()


def test_a_malicious_cifar_batch_is_refused_and_named(homes, tmp_path):
    marker = tmp_path / "pwned"
    folder = homes.keras / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(pickle.dumps({b"data": _Exploit(marker)}, protocol=4))
    (folder / "test").write_bytes(pickle.dumps({b"data": _Exploit(marker)}, protocol=4))
    with pytest.raises(file_utils.DownloadError, match=rf"{folder}.*Refusing.*system"):
        datasets.cifar100.load_data()
    assert not marker.exists()


def test_a_malicious_object_array_in_an_npz_is_refused(homes, tmp_path):
    marker = tmp_path / "pwned"
    bad = _ragged([[1, 2], [3]])
    bad[0] = _Exploit(marker)
    path = homes.put("pykern", "imdb.npz", _npz(x_train=bad, y_train=np.zeros(2),
                                                x_test=bad, y_test=np.zeros(2)))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_npz(path)
    with pytest.raises(file_utils.DownloadError, match=str(path)):
        imdb.load_data()
    assert not marker.exists()
