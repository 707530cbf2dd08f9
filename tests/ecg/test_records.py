"""sk1dcnn.ecg.records: WFDB (MIT-BIH) records as plain arrays."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sk1dcnn.datasets import find_shared_data, shipped_data_dir
from sk1dcnn.ecg.records import MITDB_FS, load_wfdb_record

from _subprocess import run_python

SHARED_MITDB = find_shared_data("mitdb")
needs_wfdb = pytest.mark.skipif(
    importlib.util.find_spec("wfdb") is None, reason="wfdb not installed (pip install sk1dcnn[ecg])"
)
REPO = Path(__file__).resolve().parents[2]


@needs_wfdb
def test_shipped_mitdb_excerpt_loads():
    rec = load_wfdb_record(shipped_data_dir("mitdb", "100"))
    assert rec.signal.shape == (2, 300 * 360)
    assert rec.fs == 360.0 == MITDB_FS
    assert rec.channel_names == ("MLII", "V5")
    assert rec.ann_samples.shape == rec.ann_symbols.shape
    assert rec.ann_samples.max() < 300 * 360
    # MIT-BIH is 200 ADC units per mV with 11-bit samples: values are k/200 mV.
    np.testing.assert_allclose(rec.signal * 200, np.round(rec.signal * 200), rtol=0, atol=1e-9)
    assert np.all(np.isin(list(rec.ann_symbols), list("NAV+")))


@needs_wfdb
@pytest.mark.skipif(SHARED_MITDB is None, reason="full MIT-BIH records not present")
@pytest.mark.parametrize("record", ["100", "208", "232"])
def test_shipped_excerpt_equals_full_record_start(record):
    excerpt = load_wfdb_record(shipped_data_dir("mitdb", record))
    full = load_wfdb_record(SHARED_MITDB / record, sampto=300 * 360)
    np.testing.assert_array_equal(excerpt.signal, full.signal)
    np.testing.assert_array_equal(excerpt.ann_samples, full.ann_samples)
    np.testing.assert_array_equal(excerpt.ann_symbols, full.ann_symbols)
    assert excerpt.channel_names == full.channel_names


@needs_wfdb
def test_load_wfdb_record_range_and_errors(tmp_path):
    path = shipped_data_dir("mitdb", "100")
    whole = load_wfdb_record(path)
    part = load_wfdb_record(str(path) + ".hea", sampfrom=3600, sampto=7200)
    np.testing.assert_array_equal(part.signal, whole.signal[:, 3600:7200])
    inside = (whole.ann_samples >= 3600) & (whole.ann_samples < 7200)
    np.testing.assert_array_equal(part.ann_samples, whole.ann_samples[inside] - 3600)
    with pytest.raises(FileNotFoundError, match="header"):
        load_wfdb_record(tmp_path / "999")


def test_ecg_imports_without_wfdb_and_reading_names_the_install():
    code = (
        "import sys; sys.modules['wfdb'] = None\n"
        "import sk1dcnn.ecg as ecg\n"
        "from sk1dcnn.datasets import shipped_data_dir\n"
        "try:\n    ecg.load_wfdb_record(shipped_data_dir('mitdb', '100'))\n"
        "except ImportError as e:\n    print(e)\n"
    )
    assert "pip install sk1dcnn[ecg]" in run_python(code)


def test_the_0_1_name_of_the_wfdb_importer_is_the_same_function():
    from sk1dcnn.ecg import records

    assert records._import_wfdb is records.import_wfdb
