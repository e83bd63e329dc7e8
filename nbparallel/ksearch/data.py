"""Input checks for the k-searches, and ``X`` shared with the workers.

``X`` may be a numpy array (or anything ``np.asarray`` takes), a pandas or polars
DataFrame, a pyarrow Table, or a scipy.sparse matrix.  Nothing is imported for a
kind of data unless ``X`` is of that kind.  Sparse data stays sparse (KMeans fits
it natively); only small subsamples are made dense.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["check_X", "check_k", "is_sparse", "total_ss", "n_distinct_rows", "dense_rows", "principal_axes"]

#: Eigenvalues below this share of the largest are directions without variance.
RANK_TOL = 1e-9


def _module(X: Any) -> str:
    return type(X).__module__ or ""


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (scipy is imported only if it could be).

    Examples
    --------
    >>> is_sparse(np.eye(2))
    False
    """
    if not _module(X).startswith("scipy.sparse"):
        return False
    import scipy.sparse

    return bool(scipy.sparse.issparse(X))


def _numeric(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(
            f"X must be numeric, got dtype {arr.dtype}; encode categorical columns "
            "(e.g. sklearn.preprocessing.OneHotEncoder) or drop them first"
        )
    return arr


def _check_finite(values: np.ndarray, rows: np.ndarray) -> None:
    finite = np.isfinite(values)
    if not finite.all():
        bad_rows = np.unique(rows[~finite])
        raise ValueError(
            f"X contains NaN or infinite values in {len(bad_rows)} row(s) (first: {bad_rows[:5].tolist()}); "
            "drop or impute them first (e.g. sklearn.impute.SimpleImputer)"
        )


def _pandas_numeric(frame: Any) -> np.ndarray:
    """A pandas DataFrame's values as floats, its missing values (``pd.NA`` too) as NaN.

    Nullable ``Int64``/``Float64``/``boolean`` columns are numbers: ``to_numpy()`` alone
    gives them dtype object.  Other columns are named in the error.
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    dtypes = frame.dtypes.items() if hasattr(frame.dtypes, "items") else [(frame.name, frame.dtypes)]
    bad = [
        f"{str(name)!r} ({dtype})" for name, dtype in dtypes if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]
    if bad:
        raise ValueError(
            f"X must be numeric; not the column(s) {', '.join(bad[:5])}{', ...' * (len(bad) > 5)}: encode "
            "categorical columns (e.g. sklearn.preprocessing.OneHotEncoder) or drop them first"
        )
    return np.asarray(frame.to_numpy(dtype=np.float64, na_value=np.nan))


def _to_dense(X: Any) -> np.ndarray:
    module = _module(X)
    if module.startswith("polars"):
        return _numeric(X.to_numpy())
    if module.startswith("pyarrow"):
        if hasattr(X, "columns") and hasattr(X, "num_rows"):  # Table / RecordBatch
            if X.num_columns == 0:
                return np.empty((X.num_rows, 0))
            cols = [_numeric(np.asarray(col.to_numpy())) for col in X.columns]
            return np.column_stack(cols)
        return np.asarray(X)
    if hasattr(X, "to_numpy") and hasattr(X, "dtypes") and module.startswith("pandas"):
        return _pandas_numeric(X)
    if hasattr(X, "to_numpy") and hasattr(X, "columns"):  # a frame of another library
        return _numeric(X.to_numpy())
    return _numeric(np.asarray(X))


def check_X(X: Any) -> Any:
    """``X`` as a float64 ndarray, or a float64 CSR matrix when it is sparse; clear errors otherwise.

    Parameters
    ----------
    X : array-like, DataFrame (pandas, polars), pyarrow Table or scipy.sparse matrix

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix

    Examples
    --------
    >>> check_X([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    if is_sparse(X):
        import scipy.sparse

        csr = scipy.sparse.csr_matrix(X, dtype=np.float64)
        csr.sum_duplicates()
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
        _check_finite(csr.data, rows)
        return csr
    arr = _to_dense(X)
    if arr.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}; "
            "for a single feature use X.reshape(-1, 1)"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    _check_finite(arr, np.broadcast_to(np.arange(arr.shape[0])[:, None], arr.shape))
    return arr


def _as_ks(k: Any) -> list[int]:
    """``k`` as sorted distinct ints: whole numbers only, never a string or a bool.

    ``int()`` alone takes "2345" as k = 2, 3, 4, 5, True as 1 and 2.5 as 2.
    """
    bad = ValueError(f"k must be an iterable of ints such as range(2, 15), got {k!r}")
    if isinstance(k, (str, bytes)):
        raise bad
    try:
        values = list(k)
    except TypeError:
        raise bad from None
    whole = (int, float, np.integer, np.floating)
    if any(
        isinstance(v, (bool, np.bool_)) or not isinstance(v, whole) or not np.isfinite(v) or v != int(v) for v in values
    ):
        raise bad
    return sorted({int(v) for v in values})


def check_k(k: Iterable[int], n_samples: int) -> list[int]:
    """The cluster counts to try, sorted; 1 is allowed (the no-structure baseline).

    Examples
    --------
    >>> check_k(range(5, 1, -1), 100)
    [2, 3, 4, 5]
    """
    ks = _as_ks(k)
    if not ks:
        raise ValueError("k is empty; pass the cluster counts to try, e.g. range(2, 15)")
    if ks[0] < 1:
        raise ValueError(f"every k must be at least 1 (got {ks[0]}); pass e.g. range(2, 15)")
    if ks == [1]:
        raise ValueError(
            "k = 1 alone compares one cluster with nothing: pass the k to compare it with, e.g. range(2, 15) "
            "(one cluster is every criterion's baseline)"
        )
    if ks[0] >= n_samples:
        raise ValueError(
            f"X has {n_samples} samples, fewer than the smallest k ({ks[0]}) needs: each k needs more "
            f"samples than clusters; "
            + (f"pass k below {n_samples} or more data" if n_samples > 1 else "pass at least 2 samples")
        )
    if ks[-1] >= n_samples:
        raise ValueError(
            f"X has {n_samples} samples, too few for k up to {ks[-1]}: each k needs more samples "
            f"than clusters; use k below {n_samples} or more data"
        )
    return ks


def total_ss(X: Any) -> float:
    """Sum of squared distances to the mean: the inertia of one cluster (k = 1).

    Examples
    --------
    >>> total_ss(np.array([[0.0], [2.0]]))
    2.0
    """
    if is_sparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        return max(0.0, float(X.multiply(X).sum() - X.shape[0] * mean @ mean))
    return float(((X - X.mean(axis=0)) ** 2).sum())


def n_distinct_rows(X: Any, at_most: int) -> int:
    """Distinct rows of ``X``, counted up to ``at_most`` (cheap when there are many).

    Examples
    --------
    >>> n_distinct_rows(np.array([[1.0], [1.0], [2.0]]), 10)
    2
    """
    if is_sparse(X):
        X = X.toarray() if X.shape[0] * X.shape[1] <= 50_000_000 else None
        if X is None:  # too big to check cheaply; KMeans' result is checked per k instead
            return at_most
    # usually the first rows already hold ``at_most`` distinct ones: stop there
    seen: set[bytes] = set()
    for row in X[: max(at_most * 50, 5_000)] + 0.0:  # + 0.0: -0.0 and 0.0 are the same point
        seen.add(row.tobytes())
        if len(seen) >= at_most:
            return len(seen)
    return len(np.unique(X, axis=0))


def dense_rows(X: Any, rows: np.ndarray | None) -> np.ndarray:
    """The given rows of ``X`` (all when ``None``) as a dense float64 array."""
    part = X if rows is None else X[rows]
    return part.toarray() if is_sparse(part) else np.asarray(part, dtype=np.float64)


def principal_axes(Z: np.ndarray, at_most: int) -> tuple[np.ndarray, np.ndarray]:
    """The leading principal axes of the centred rows ``Z``, the most variance first.

    Directions without variance are left out.  Wide data (more features than
    rows, say text features) goes through the rows' Gram matrix, never a
    features x features one.

    Parameters
    ----------
    Z : ndarray of shape (m, d)
        Centred rows.
    at_most : int
        Axes kept.

    Returns
    -------
    (ndarray, ndarray)
        The variance along each axis, shape ``(q,)``, and the unit axes, shape ``(d, q)``;
        ``q`` is 0 when every row is the same.

    Examples
    --------
    >>> Z = np.array([[-3.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    >>> variances, axes = principal_axes(Z, 2)
    >>> variances.tolist(), np.abs(axes.ravel()).tolist()
    ([5.0], [1.0, 0.0, 0.0])
    """
    m, d = Z.shape
    # eigenvectors of Z'Z are the axes; for wide data those of ZZ' are the rows' side of them
    values, vectors = np.linalg.eigh(Z.T @ Z if d <= m else Z @ Z.T)  # an SVD is 10x slower
    values, vectors = values[::-1], vectors[:, ::-1]
    keep = values > RANK_TOL * max(float(values[0]), 0.0)
    values, vectors = values[keep][:at_most], vectors[:, keep][:, :at_most]
    if d > m:
        vectors = Z.T @ (vectors / np.sqrt(values))
    return values / m, np.ascontiguousarray(vectors)
