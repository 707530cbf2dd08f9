"""Deprecated alias of :mod:`sk1dcnn.nn.augment` (moved in 0.2; removed in 0.3).

Old imports and models pickled with sk1dcnn 0.1 resolve here, with a DeprecationWarning.
"""


def __getattr__(name):
    from ._compat import resolve_moved

    return resolve_moved(__name__, name)
