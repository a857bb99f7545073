"""Built-in materializers for numpy arrays (.npy) and pandas DataFrames and Series (Parquet through pyarrow).

numpy, pandas and pyarrow are imported inside the functions: the registry (materializers.py) registers these
classes for their types only once the library has been imported by the user's code.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from .errors import MalformedArtifactError, MaterializerError
from .materializer_base import Materializer, has_module, json_exact, meta, open_regular, type_name


def describe(obj: Any) -> str | None:
    """A short preview of a numpy array or pandas object (``ndarray float64 (1797, 64)``), else None; imports
    nothing (an object of a library not imported yet cannot be one of its types)."""
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if np is not None and isinstance(obj, np.ndarray):
        return f"ndarray {obj.dtype} {tuple(obj.shape)}"
    if pd is not None and isinstance(obj, pd.Series):
        return f"Series {obj.name!r} {obj.dtype} ({len(obj)},)"
    if pd is not None and isinstance(obj, pd.DataFrame):
        return f"DataFrame {obj.shape} columns: {', '.join(str(c) for c in obj.columns[:50])}"
    return None


def numpy_types() -> dict[type, type[Materializer]]:
    import numpy as np

    return {np.ndarray: NumpyMaterializer}


def _npy_check(f: BinaryIO, path: Path) -> None:
    """Validate a .npy header against the file's size before numpy allocates what the header claims."""
    import numpy as np
    from numpy.lib import format as npformat

    size = os.fstat(f.fileno()).st_size
    try:
        major, minor = npformat.read_magic(f)
        if (major, minor) == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(f)
        elif (major, minor) in ((2, 0), (3, 0)):  # 3.0 differs only in the header's text encoding
            shape, _, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy format version {major}.{minor}")
    except Exception as exc:  # numpy parses the header with tokenize and ast: any of their errors means "bad"
        raise MalformedArtifactError(f"artifact file {path} has a bad .npy header: {exc}") from exc
    if dtype.hasobject:
        raise MalformedArtifactError(f"artifact file {path} holds Python objects, which .npy artifacts never do")
    if any(d < 0 for d in shape):
        raise MalformedArtifactError(f"artifact file {path} has a negative dimension: {shape}")
    expected = f.tell() + math.prod(shape) * np.dtype(dtype).itemsize
    if expected != size:
        raise MalformedArtifactError(
            f"artifact file {path} is {size} bytes but its header describes {expected} (shape {shape}, {dtype})"
        )
    f.seek(0)


class NumpyMaterializer(Materializer):
    """A numpy array as one ``.npy`` file written without pickle (an array of Python objects is pickled by
    the pickle/joblib materializer instead, and its metadata says so)."""

    name = "numpy.npy"
    FILE = "array.npy"

    def accepts(self, obj: Any) -> bool:
        import numpy as np

        return type(obj) is np.ndarray and not obj.dtype.hasobject

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        import numpy as np

        with open(dest / self.FILE, "wb") as f:
            np.save(f, obj, allow_pickle=False)
        return meta(obj, describe(obj) or "", dtype=str(obj.dtype), shape=list(obj.shape))

    def load(self, src: Path) -> Any:
        import numpy as np

        path = src / self.FILE
        with open_regular(path) as f:
            _npy_check(f, path)
            try:
                return np.load(f, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise MalformedArtifactError(f"artifact file {path} is not a valid .npy file: {exc}") from exc


# -- pandas ----------------------------------------------------------------------------------------------------


def pandas_types() -> dict[type, type[Materializer]]:
    import pandas as pd

    return {pd.DataFrame: PandasMaterializer, pd.Series: PandasMaterializer}


#: the column a Series is stored in; its real name goes into the artvc schema metadata
_SERIES_COLUMN = "__artvc_series__"


def _to_arrow(obj: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    meta: dict[str, Any] = {"kind": "frame"}
    frame = obj
    if isinstance(obj, pd.Series):
        if obj.name is not None and type(obj.name) not in (str, int, float, bool):
            raise ValueError(f"a Series name of type {type_name(obj.name)} is not stored")
        meta = {"kind": "series", "name": obj.name}
        frame = obj.to_frame(name=_SERIES_COLUMN)
    if obj.attrs:
        if not json_exact(obj.attrs):
            raise ValueError("attrs that JSON cannot hold exactly")
        meta["attrs"] = obj.attrs
    table = pa.Table.from_pandas(frame, preserve_index=None)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[b"artvc"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    return table.replace_schema_metadata(schema_meta)


def _from_arrow(table: Any) -> Any:
    meta = json.loads(table.schema.metadata[b"artvc"])
    if not isinstance(meta, dict) or meta.get("kind") not in ("frame", "series"):
        raise ValueError(f"unknown artvc metadata {meta!r}")
    frame = table.to_pandas()
    obj = frame
    if meta["kind"] == "series":
        obj = frame[_SERIES_COLUMN]
        obj.name = meta.get("name")
    obj.attrs = meta.get("attrs", {})
    return obj


def _same(a: Any, b: Any) -> None:
    import pandas as pd

    exact = {"check_exact": True, "check_index_type": True, "check_names": True, "check_freq": True}
    if isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_series_type=True, **exact)
    else:
        pd.testing.assert_frame_equal(a, b, check_column_type=True, check_frame_type=True, **exact)
    if a.attrs != b.attrs or a.flags.allows_duplicate_labels != b.flags.allows_duplicate_labels:
        raise AssertionError("attrs or flags differ")


class PandasMaterializer(Materializer):
    """A pandas DataFrame or Series as one Parquet file (pyarrow), uncompressed: the store compresses and
    deduplicates its chunks. Taken only when pyarrow is installed and the value comes back exactly (checked
    in memory before writing: dtypes, index, column labels, attrs); otherwise the value is pickled."""

    name = "pandas.parquet"
    FILE = "data.parquet"

    def __init__(self) -> None:
        self._checked: tuple[Any, Any] | None = None  # (the value accepted, its Arrow table)

    def accepts(self, obj: Any) -> bool:
        import pandas as pd

        if type(obj) not in (pd.DataFrame, pd.Series) or not has_module("pyarrow"):
            return False
        try:
            table = _to_arrow(obj)
            _same(obj, _from_arrow(table))
        except Exception:  # anything Arrow cannot hold exactly (mixed objects, odd labels): pickle it instead
            return False
        self._checked = (obj, table)
        return True

    def save(self, obj: Any, dest: Path) -> dict[str, Any]:
        import pyarrow.parquet as pq

        if (self._checked is None or self._checked[0] is not obj) and not self.accepts(obj):
            name = type_name(obj)
            raise MaterializerError(f"this {name} does not round-trip through Parquet exactly", type_name=name)
        assert self._checked is not None
        pq.write_table(self._checked[1], dest / self.FILE, compression="none")
        self._checked = None
        shape = list(obj.shape)
        if obj.ndim == 1:
            return meta(obj, describe(obj) or "", shape=shape, dtype=str(obj.dtype))
        return meta(obj, describe(obj) or "", shape=shape, columns=[str(c) for c in obj.columns[:50]])

    def load(self, src: Path) -> Any:
        if not has_module("pyarrow"):
            raise MaterializerError(
                f"artifact {src.name} is stored as Parquet and pyarrow is not installed", hint="pip install pyarrow"
            )
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = src / self.FILE
        with open_regular(path):  # a regular file, not a symlink (read by path below: pyarrow reads it faster)
            try:
                table = pq.read_table(str(path))
                if b"artvc" not in (table.schema.metadata or {}):
                    raise ValueError("no artvc metadata")
                return _from_arrow(table)
            except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
                raise MalformedArtifactError(f"artifact file {path} is not a valid Parquet artifact: {exc}") from exc
