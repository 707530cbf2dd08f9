"""sk1dcnn.ecg.labels: the AAMI classes and the MIT-BIH symbol map."""

import numpy as np

from sk1dcnn.ecg.labels import AAMI_CLASSES, AAMI_MAPPING, to_aami


def test_aami_mapping():
    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    expected = {
        "N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ",
    }
    for cls, symbols in expected.items():
        np.testing.assert_array_equal(to_aami(list(symbols)), [cls] * len(symbols))
    assert set(AAMI_MAPPING) == set("".join(expected.values()))
    dropped = ["+", "~", "|", '"', "x", "[", "]", "!"]
    np.testing.assert_array_equal(to_aami(dropped), [""] * len(dropped))
    assert to_aami([]).shape == (0,)


def test_to_aami_keeps_the_shape():
    labels = to_aami([["N", "+"], ["V", "/"]])
    assert labels.shape == (2, 2)
    np.testing.assert_array_equal(labels, [["N", ""], ["V", "Q"]])
