from __future__ import annotations

import collections
import enum
import io
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import artvc
from artvc.pipeline.errors import MalformedArtifactError, MaterializerError
from artvc.pipeline.materializers import (
    PREVIEW_MAX,
    Materializer,
    materializer_for,
    materializer_named,
    register_materializer,
)

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


def save(obj, dest: Path, annotation=None) -> tuple[str, dict]:
    dest.mkdir(parents=True, exist_ok=True)
    m = materializer_for(obj, annotation)
    return m.name, m.save(obj, dest)


def roundtrip(obj, tmp_path: Path, sub: str = "a"):
    name, meta = save(obj, tmp_path / sub)
    return name, meta, materializer_named(name).load(tmp_path / sub)


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def assert_same_types(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(sorted(a)) == list(sorted(b))
        for k in a:
            assert_same_types(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_types(x, y)


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


# --- JSON values ---------------------------------------------------------------------------------------------

JSON_VALUES = [
    None,
    True,
    False,
    0,
    -7,
    2**200,
    1.5,
    -0.0,
    1e-310,
    "",
    "héllo \n wörld \u2603 \ud800",
    [],
    {},
    [1, [2, [3, {"k": [None, True, 1.25]}]]],
    {"b": 1, "a": {"z": [1, 2.0, "x"], "y": {}}, "": None},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_json_values_round_trip_with_their_exact_types(value, tmp_path):
    name, meta, back = roundtrip(value, tmp_path)
    assert name == "builtin.json"
    assert back == value
    assert_same_types(value, back)
    assert meta["type"] == f"builtins.{type(value).__name__}"
    assert math.copysign(1, back) == math.copysign(1, value) if isinstance(value, float) else True


def test_non_finite_floats_round_trip_through_json(tmp_path):
    value = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "list": [float("nan")]}
    name, _, back = roundtrip(value, tmp_path)
    assert name == "builtin.json"
    assert math.isnan(back["nan"]) and math.isnan(back["list"][0])
    assert back["inf"] == math.inf and back["ninf"] == -math.inf


def test_equal_dicts_give_identical_bytes_whatever_their_key_order(tmp_path):
    a = {"b": 1, "a": [1, {"y": 2, "x": 1}]}
    b = {"a": [1, {"x": 1, "y": 2}], "b": 1}
    save(a, tmp_path / "a")
    save(b, tmp_path / "b")
    assert files(tmp_path / "a") == files(tmp_path / "b") == {"value.json": b'{"a":[1,{"x":1,"y":2}],"b":1}\n'}


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        {"a": (1, 2)},
        {1: "int key"},
        collections.OrderedDict(a=1),
        Color.RED,
        [Color.RED],
        np.float64(1.5),
        2**20000,
        {1.5},
        bytearray(b"x"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_json_would_change_are_pickled_and_come_back_exactly(value, tmp_path):
    name, meta, back = roundtrip(value, tmp_path)
    assert name == "joblib"
    assert meta["format"] == "joblib" and "runs pickled code" in meta["warning"]
    assert back == value and type(back) is type(value)


def test_deep_nesting_goes_to_pickle_not_to_json(tmp_path):
    value: list = []
    for _ in range(120):
        value = [value]
    name, _, back = roundtrip(value, tmp_path)
    assert name == "joblib" and back == value


# --- bytes ---------------------------------------------------------------------------------------------------


def test_bytes_are_stored_as_a_raw_file(tmp_path):
    data = bytes(range(256)) * 10
    name, meta, back = roundtrip(data, tmp_path)
    assert name == "builtin.bytes"
    assert files(tmp_path / "a") == {"data.bin": data}
    assert back == data and meta["size"] == 2560
    assert meta["preview"].startswith("bytes (2560 B) b'\\x00\\x01")


# --- numpy ---------------------------------------------------------------------------------------------------

ARRAYS = {
    "float64": np.arange(1797 * 64, dtype=np.float64).reshape(1797, 64),
    "float32-nan": np.array([1.0, np.nan, -0.0, np.inf], dtype=np.float32),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "bool": np.array([[True, False]]),
    "complex": np.array([1 + 2j, -3j]),
    "big-endian": np.array([1, 2, 3], dtype=">u4"),
    "datetime": np.array(["2026-01-01T10:00", "NaT"], dtype="datetime64[s]"),
    "unicode": np.array(["a", "ünïcode", ""]),
    "structured": np.array([(1, 2.5, b"ab")], dtype=[("i", "<i4"), ("f", "<f8"), ("s", "S2")]),
    "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 5)),
    "strided": np.arange(20)[::3],
}


@pytest.mark.parametrize("key", ARRAYS)
def test_numpy_arrays_round_trip_without_pickle(key, tmp_path):
    arr = ARRAYS[key]
    name, meta, back = roundtrip(arr, tmp_path)
    assert name == "numpy.npy"
    assert list(files(tmp_path / "a")) == ["array.npy"]
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert np.array_equal(back, arr, equal_nan=arr.dtype.kind in "fcmM")
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        assert back.flags.f_contiguous == arr.flags.f_contiguous
    assert meta["shape"] == list(arr.shape) and meta["dtype"] == str(arr.dtype)
    save(arr.copy(order="K"), tmp_path / "b")
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_numpy_preview_names_dtype_and_shape(tmp_path):
    _, meta = save(ARRAYS["float64"], tmp_path)
    assert meta["preview"] == "ndarray float64 (1797, 64)"
    assert meta["type"] == "numpy.ndarray"


def test_object_arrays_are_pickled_and_say_so(tmp_path):
    arr = np.array([1, "a", None], dtype=object)
    name, meta, back = roundtrip(arr, tmp_path)
    assert name == "joblib" and meta["format"] == "joblib"
    assert meta["type"] == "numpy.ndarray" and meta["preview"] == "ndarray object (3,)"
    assert back.dtype == object and list(back) == [1, "a", None]


# --- pandas --------------------------------------------------------------------------------------------------


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5, dtype=np.int64),
            "f": [0.5, np.nan, -0.0, np.inf, 1e300],
            "s": ["a", None, "ünï", "", "e"],
            "b": [True, False, True, True, False],
            "t": pd.date_range("2026-01-01", periods=5, freq="h", tz="Europe/Paris"),
            "c": pd.Categorical(["x", "y", "x", "z", "y"]),
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "u": np.array([1, 2, 3, 4, 5], dtype=np.uint16),
        },
        index=pd.Index(["r1", "r2", "r3", "r4", "r5"], name="row"),
    )


PANDAS = {
    "frame": frame,
    "range-index": lambda: pd.DataFrame({"x": [1.0, 2.0]}),
    "multiindex": lambda: pd.DataFrame(
        {"v": [1, 2, 3]}, index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "n"])
    ),
    "empty": lambda: pd.DataFrame({"a": pd.Series([], dtype="float64")}),
    "attrs": lambda: frame().assign().pipe(lambda d: (d.attrs.update({"source": "digits", "n": [1, 2]}), d)[1]),
    "series": lambda: pd.Series([1.5, 2.5, np.nan], name="price", index=[10, 20, 30]),
    "series-int-name": lambda: pd.Series(["a", "b"], name=3),
    "series-no-name": lambda: pd.Series([1, 2, 3]),
}


@pytest.mark.parametrize("key", PANDAS)
def test_pandas_objects_round_trip_exactly_through_parquet(key, tmp_path):
    obj = PANDAS[key]()
    name, meta, back = roundtrip(obj, tmp_path)
    assert name == "pandas.parquet"
    assert list(files(tmp_path / "a")) == ["data.parquet"]
    if isinstance(obj, pd.Series):
        pd.testing.assert_series_equal(back, obj, check_exact=True, check_index_type=True)
    else:
        pd.testing.assert_frame_equal(back, obj, check_exact=True, check_column_type=True, check_index_type=True)
    assert back.attrs == obj.attrs
    assert meta["shape"] == list(obj.shape)


def test_saving_equal_dataframes_gives_identical_bytes(tmp_path):
    save(frame(), tmp_path / "a")
    save(frame(), tmp_path / "b")
    again = frame()
    save(again, tmp_path / "c")
    save(again, tmp_path / "d")
    assert files(tmp_path / "a") == files(tmp_path / "b") == files(tmp_path / "c") == files(tmp_path / "d")


def test_dataframe_preview_has_shape_and_columns_within_the_limit(tmp_path):
    _, meta = save(frame(), tmp_path / "a")
    assert meta["preview"] == "DataFrame (5, 8) columns: i, f, s, b, t, c, n, u"
    assert meta["type"] == "pandas.DataFrame"
    wide = pd.DataFrame({f"pixel_{i}": [i] for i in range(300)})
    _, meta = save(wide, tmp_path / "b")
    assert len(meta["preview"]) <= PREVIEW_MAX and meta["preview"].startswith("DataFrame (1, 300) columns: pixel_0")


@pytest.mark.parametrize(
    "make",
    [
        lambda: pd.DataFrame({"x": [1, {"a": 1}, "s"]}),  # a column of mixed Python objects
        lambda: pd.DataFrame({0: [1], 1: [2]}),  # int column labels Parquet would turn into text
        lambda: pd.DataFrame({"x": [1]}).set_flags(allows_duplicate_labels=False),
        lambda: pd.Series([1, 2], name=("a", "b")),
    ],
    ids=["mixed-objects", "int-labels", "flags", "tuple-name"],
)
def test_pandas_objects_parquet_cannot_hold_exactly_are_pickled(make, tmp_path):
    obj = make()
    name, meta, back = roundtrip(obj, tmp_path)
    assert name == "joblib" and meta["format"] == "joblib"
    assert meta["preview"].startswith(("DataFrame", "Series"))
    if isinstance(obj, pd.Series):
        pd.testing.assert_series_equal(back, obj)
    else:
        pd.testing.assert_frame_equal(back, obj)


def test_without_pyarrow_dataframes_are_pickled_and_parquet_artifacts_cannot_load(tmp_path):
    save(frame(), tmp_path / "parquet")
    r = run_python(
        f"""
        import sys
        sys.modules["pyarrow"] = None  # as if pyarrow were not installed
        from pathlib import Path
        import pandas as pd
        from artvc.pipeline.materializers import materializer_for, materializer_named
        from artvc.pipeline.errors import MaterializerError
        df = pd.DataFrame({{"x": [1, 2]}})
        m = materializer_for(df)
        dest = Path({str(tmp_path / "pickled")!r}); dest.mkdir()
        meta = m.save(df, dest)
        print(m.name, meta["format"], materializer_named(m.name).load(dest).equals(df))
        try:
            materializer_named("pandas.parquet").load(Path({str(tmp_path / "parquet")!r}))
        except MaterializerError as e:
            print("error:", e, "| hint:", e.hint)
        """
    )
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first == "joblib joblib True"
    assert second.startswith("error: artifact parquet is stored as Parquet and pyarrow is not installed")
    assert second.endswith("| hint: pip install pyarrow")


# --- pickle / joblib -----------------------------------------------------------------------------------------


@pytest.mark.slow  # importing scikit-learn takes seconds; the joblib naming is also checked on tuples and frames
def test_scikit_learn_models_are_stored_with_joblib_named_in_the_metadata(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    digits = load_digits()
    model = SVC(gamma=0.001).fit(digits.data[:200], digits.target[:200])
    name, meta, back = roundtrip(model, tmp_path)
    assert name == "joblib"
    assert meta == {
        "type": "sklearn.svm._classes.SVC",
        "preview": "SVC(gamma=0.001)",
        "format": "joblib",
        "warning": "loading this artifact runs pickled code",
    }
    assert (back.predict(digits.data[200:300]) == model.predict(digits.data[200:300])).all()
    save(model, tmp_path / "b")
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_without_joblib_the_fallback_is_plain_pickle_and_named_so(tmp_path):
    r = run_python(
        f"""
        import sys
        sys.modules["joblib"] = None  # as if joblib were not installed
        from pathlib import Path
        from artvc.pipeline.materializers import materializer_for, materializer_named
        dest = Path({str(tmp_path)!r})
        m = materializer_for((1, "two"))
        meta = m.save((1, "two"), dest)
        print(m.name, meta["format"], sorted(p.name for p in dest.iterdir()), materializer_named("pickle").load(dest))
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "pickle pickle ['object.pkl'] (1, 'two')"
    assert pickle.loads((tmp_path / "object.pkl").read_bytes()) == (1, "two")


def local_function():
    def inner():
        return 1

    return inner


def generator():
    yield 1


@pytest.mark.parametrize(
    ("make", "type_name"),
    [
        (lambda: lambda x: x, "builtins.function"),
        (local_function, "builtins.function"),
        (generator, "builtins.generator"),
        (lambda: open(os.devnull, "rb"), "_io.BufferedReader"),  # noqa: SIM115 (the open file is the value)
        (lambda: os, "builtins.module"),
    ],
    ids=["lambda", "local-function", "generator", "open-file", "module"],
)
def test_values_nothing_can_store_raise_naming_the_type_and_how_to_register(make, type_name):
    value = make()
    with pytest.raises(MaterializerError) as info:
        materializer_for(value)
    if isinstance(value, io.IOBase):
        value.close()
    err = info.value
    assert str(err).startswith(f"no materializer can store a {type_name}: ")
    assert err.hint.startswith(f"register one with @artvc.register_materializer({type_name.rpartition('.')[2]})")
    assert err.exit_code == 1 and err.type_name == type_name


class HoldsALock:
    def __init__(self):
        self.lock = threading.Lock()


def test_a_value_whose_pickling_fails_raises_on_save_and_leaves_nothing(tmp_path):
    value = HoldsALock()
    m = materializer_for(value)
    with pytest.raises(MaterializerError) as info:
        m.save(value, tmp_path)
    assert str(info.value).startswith(f"no materializer can store a {__name__}.HoldsALock: pickling it failed")
    assert "register_materializer(HoldsALock)" in info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_previews_stay_short(tmp_path):
    for i, value in enumerate(["x" * 10_000, list(range(10_000)), {f"k{i}": "v" * 500 for i in range(100)}]):
        _, meta = save(value, tmp_path / str(i))
        assert len(meta["preview"]) <= PREVIEW_MAX and "\n" not in meta["preview"]
    _, meta = save("short text", tmp_path / "s")
    assert meta["preview"] == "'short text'"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_a_failing_repr_does_not_fail_the_save(tmp_path):
    _, meta = save(BadRepr(), tmp_path)
    assert meta["preview"] == f"<{__name__}.BadRepr>"


# --- user materializers --------------------------------------------------------------------------------------


class Point:
    def __init__(self, x: int, y: int):
        self.x, self.y = x, y


class Point3(Point):
    def __init__(self, x: int, y: int, z: int):
        super().__init__(x, y)
        self.z = z


@register_materializer(Point)
class PointMaterializer(Materializer):
    name = "tests.point"

    def save(self, obj, dest):
        (dest / "point.txt").write_text(f"{obj.x},{obj.y}")
        return {"type": "tests.Point", "preview": f"Point({obj.x}, {obj.y})"}

    def load(self, src):
        return Point(*map(int, (src / "point.txt").read_text().split(",")))


def test_a_registered_materializer_stores_its_type_and_its_subclasses(tmp_path):
    name, meta, back = roundtrip(Point(1, 2), tmp_path)
    assert name == "tests.point" and meta["preview"] == "Point(1, 2)"
    assert (back.x, back.y) == (1, 2)

    class Point4(Point):  # a subclass nothing registers
        pass

    assert materializer_for(Point4(1, 2)).name == "tests.point"


def test_the_most_specific_registered_class_wins(tmp_path):
    @register_materializer(Point3)
    class Point3Materializer(Materializer):
        def save(self, obj, dest):
            (dest / "p.json").write_text(json.dumps([obj.x, obj.y, obj.z]))
            return {"type": "tests.Point3", "preview": "p3"}

        def load(self, src):
            return Point3(*json.loads((src / "p.json").read_text()))

    assert Point3Materializer.name == f"{__name__}.{Point3Materializer.__qualname__}"  # the default name
    assert materializer_for(Point3(1, 2, 3)).name == Point3Materializer.name
    assert materializer_for(Point(1, 2)).name == "tests.point"
    name, _, back = roundtrip(Point3(4, 5, 6), tmp_path)
    assert (back.x, back.y, back.z) == (4, 5, 6)


def test_an_abstract_base_class_matches_through_isinstance():
    import collections.abc

    class Bag(collections.abc.Sized):
        def __len__(self):
            return 0

    class AnySized(collections.abc.Sized):  # a fresh ABC, so no other test sees this registration
        pass

    AnySized.register(Bag)

    @register_materializer(AnySized)
    class SizedMaterializer(Materializer):
        name = "tests.sized"

    assert materializer_for(Bag()).name == "tests.sized"


def test_user_registrations_beat_built_ins_and_the_last_one_wins():
    r = run_python(
        """
        import artvc
        from artvc.pipeline.materializers import materializer_for

        @artvc.register_materializer(dict)
        class First(artvc.Materializer):
            name = "first"

        assert materializer_for({"a": 1}).name == "first"
        assert materializer_for([1]).name == "builtin.json"

        @artvc.register_materializer(dict)
        class Second(artvc.Materializer):
            name = "second"

        print(materializer_for({"a": 1}).name)
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "second"


def test_a_taken_name_is_refused():
    with pytest.raises(MaterializerError, match="materializer name 'builtin.json' is already used by"):

        @register_materializer(Point)
        class Impostor(Materializer):
            name = "builtin.json"

    with pytest.raises(MaterializerError, match="materializer name 'tests.point' is already used by"):

        @register_materializer(Point)
        class Other(Materializer):
            name = "tests.point"

    assert materializer_for(Point(0, 0)).name == "tests.point"


def test_registering_the_same_class_again_replaces_it():  # a re-run notebook cell or a reloaded module
    class Thing:
        pass

    for _ in range(2):

        @register_materializer(Thing)
        class Reloaded(Materializer):
            name = "tests.reloaded"

    assert type(materializer_named("tests.reloaded")) is Reloaded
    assert type(materializer_for(Thing())) is Reloaded


@pytest.mark.parametrize("args", [(), ("dict",), (Point, 3)], ids=["nothing", "a-string", "an-int"])
def test_register_materializer_wants_classes(args):
    with pytest.raises(MaterializerError, match="register_materializer takes one or more classes"):
        register_materializer(*args)


def test_register_materializer_decorates_only_materializers():
    with pytest.raises(MaterializerError, match="decorates a subclass of artvc.Materializer"):

        @register_materializer(Point)
        class NotOne:
            pass


def test_an_unknown_materializer_name_is_an_error():
    with pytest.raises(MaterializerError, match="no materializer named 'nope' is registered") as info:
        materializer_named("nope")
    assert "import the module that registers it" in info.value.hint


def test_artvc_exports_the_api_lazily_without_loading_heavy_libraries():
    r = run_python(
        """
        import sys
        import artvc
        assert "artvc.pipeline" not in sys.modules
        from artvc import Materializer, register_materializer
        from artvc.pipeline.materializers import materializer_for
        import tempfile, pathlib
        m = materializer_for({"a": [1, 2]})
        m.save({"a": [1, 2]}, pathlib.Path(tempfile.mkdtemp()))
        print(m.name, sorted(x for x in ("numpy", "pandas", "pyarrow", "joblib") if x in sys.modules))
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "builtin.json []"
    assert artvc.Materializer is Materializer and artvc.register_materializer is register_materializer


# --- loading untrusted files ---------------------------------------------------------------------------------


def write_artifact(tmp_path: Path, value) -> tuple[str, Path]:
    name, _ = save(value, tmp_path / "art")
    (file,) = (tmp_path / "art").iterdir()
    return name, file


def load_error(name: str, src: Path) -> MaterializerError:
    with pytest.raises(MaterializerError) as info:
        materializer_named(name).load(src)
    return info.value


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1', "is not valid JSON: Expecting"),
        (b"", "is not valid JSON: Expecting value"),
        ('{"a": "\u00e9"}'.encode(), "is not valid JSON: 'ascii' codec"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON: maximum recursion depth exceeded"),
        (b"1" * 5000, "is not valid JSON: Exceeds the limit"),
    ],
    ids=["truncated", "empty", "not-ascii", "too-deep", "huge-int"],
)
def test_malformed_json_artifacts_are_integrity_errors(content, message, tmp_path):
    name, file = write_artifact(tmp_path, {"a": 1})
    file.write_bytes(content)
    err = load_error(name, file.parent)
    assert isinstance(err, MalformedArtifactError) and err.exit_code == 3
    assert message in str(err)


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def test_npy_whose_header_claims_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    name, file = write_artifact(tmp_path, np.zeros(4))
    forged = npy_bytes(np.zeros(4)).replace(b"(4,)", b"(4000000000000,)".ljust(4, b" "), 1)
    header_len = forged.index(b"\n") + 1
    file.write_bytes(forged[:header_len] + b"\0" * 32)
    tracemalloc.start()
    try:
        err = load_error(name, file.parent)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err, MalformedArtifactError)
    assert "bytes but its header describes" in str(err)
    assert peak < 1 << 20


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:-3], "bytes but its header describes"),
        (lambda b: b + b"\0", "bytes but its header describes"),
        (lambda b: b"\x93NUMPX" + b[6:], "has a bad .npy header"),
        (lambda b: b.replace(b"'descr': '<f8'", b"'descr': 'O8!'"), "has a bad .npy header"),
        (lambda b: b.replace(b"'descr': '<f8'", b"'descr': '|O' "), "holds Python objects"),
        (lambda b: b.replace(b"(4,)", b"(-4,)"), "has a negative dimension: (-4,)"),
        (lambda b: b[:5], "bad .npy header"),
    ],
    ids=["truncated", "padded", "bad-magic", "bad-dtype", "object-dtype", "negative-shape", "short"],
)
def test_malformed_npy_artifacts_are_integrity_errors(mutate, message, tmp_path):
    name, file = write_artifact(tmp_path, np.arange(4, dtype=np.float64))
    file.write_bytes(mutate(file.read_bytes()))
    err = load_error(name, file.parent)
    assert isinstance(err, MalformedArtifactError), err
    assert message in str(err)


@pytest.mark.parametrize("content", [b"", b"PAR1garbagePAR1", b"x" * 100], ids=["empty", "garbage", "text"])
def test_malformed_parquet_artifacts_are_integrity_errors(content, tmp_path):
    name, file = write_artifact(tmp_path, frame())
    file.write_bytes(content)
    err = load_error(name, file.parent)
    assert isinstance(err, MalformedArtifactError)
    assert "is not a valid Parquet artifact" in str(err)


def test_a_parquet_file_art_did_not_write_is_refused(tmp_path):
    name, file = write_artifact(tmp_path, frame())
    pd.DataFrame({"x": [1]}).to_parquet(file)
    assert "no artvc metadata" in str(load_error(name, file.parent))


def test_malformed_pickles_are_integrity_errors(tmp_path):
    name, file = write_artifact(tmp_path, (1, 2))
    file.write_bytes(b"\x80\x05garbage")
    assert isinstance(load_error(name, file.parent), MalformedArtifactError)


def test_a_pickle_of_a_class_that_is_gone_says_so(tmp_path):
    name, file = write_artifact(tmp_path, (1, 2))
    file.write_bytes(pickle.dumps(Point(1, 2)).replace(b"test_materializers", b"test_materializerz"))
    err = load_error(name, file.parent)
    assert not isinstance(err, MalformedArtifactError) and err.exit_code == 1
    assert "must be importable" in err.hint


@pytest.mark.parametrize("value", [{"a": 1}, b"raw", np.zeros(3), frame(), (1,)], ids=type)
def test_a_missing_or_symlinked_artifact_file_is_refused(value, tmp_path):
    name, file = write_artifact(tmp_path, value)
    target = tmp_path / "elsewhere"
    file.rename(target)
    assert "is missing from" in str(load_error(name, file.parent))
    file.symlink_to(target)
    err = load_error(name, file.parent)
    assert isinstance(err, MalformedArtifactError) and "cannot open artifact file" in str(err)


# --- fuzzing the loaders that promise not to run code ---------------------------------------------------------

SEEDS = {
    "builtin.json": [b'{"a":[1,2.5,null,true,"x"],"b":{"c":NaN}}\n'],
    "builtin.bytes": [b"\0\1\2"],
    "numpy.npy": [npy_bytes(np.arange(6).reshape(2, 3)), npy_bytes(ARRAYS["structured"]), npy_bytes(np.array(1.5))],
}


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "byte", "truncate", "insert"]))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and data:
            data[i] = draw(st.sampled_from(b"\0\xff{}[](),:'\"0123456789-<>|O\n ") | st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(max_size=8))
    return bytes(data)


def loads_or_raises_materializer_error(name: str, folder: Path, data: bytes) -> None:
    materializer = materializer_named(name)
    (folder / materializer.FILE).write_bytes(data)
    try:
        materializer.load(folder)
    except MaterializerError:
        pass


@pytest.mark.parametrize("name", list(SEEDS))
@FUZZ
@given(data=st.data())
def test_fuzzed_files_only_raise_materializer_errors(name, data, tmp_path):
    blob = data.draw(mutated(SEEDS[name]) | st.binary(max_size=200))
    loads_or_raises_materializer_error(name, tmp_path, blob)


@pytest.fixture(scope="module")
def parquet_seed(tmp_path_factory) -> bytes:
    d = tmp_path_factory.mktemp("seed")
    materializer_for(frame()).save(frame(), d)
    return (d / "data.parquet").read_bytes()


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_fuzzed_parquet_files_only_raise_materializer_errors(parquet_seed, data, tmp_path):
    blob = data.draw(mutated([parquet_seed]))
    loads_or_raises_materializer_error("pandas.parquet", tmp_path, blob)
