"""sk1dcnn.ecg.records: WFDB (MIT-BIH) records as plain arrays."""

import importlib.util
import re
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


def test_lead_indices_by_name():
    from sk1dcnn.ecg.records import lead_indices

    assert lead_indices(("MLII", "V1")) == [0]
    assert lead_indices(("V5", "MLII")) == [1]
    assert lead_indices(("V5", "MLII"), ("MLII", "V5")) == [1, 0]
    assert lead_indices(("V5", "MLII"), "all") == [1, 0]
    assert lead_indices(("V5", "V2"), "all") == [0, 1]
    with pytest.raises(ValueError, match=re.escape("lead 'MLII' not in record '102', whose leads are ('V5', 'V2')")):
        lead_indices(("V5", "V2"), record="102")


def test_list_records_leaves_out_the_paced_ones(tmp_path):
    from sk1dcnn.ecg.records import PACED_RECORDS, list_records

    for name in ("100", "102", "217", "99", "x1", "233"):
        for ext in (".hea", ".dat", ".atr"):
            (tmp_path / name).with_suffix(ext).write_text("")
    (tmp_path / "300.hea").write_text("")  # no signal or annotations: not a record to read
    assert list_records(tmp_path) == ["99", "100", "233", "x1"]
    assert list_records(tmp_path, paced=True) == ["99", "100", "102", "217", "233", "x1"]
    assert set(PACED_RECORDS) == {"102", "104", "107", "217"}
    assert list_records(shipped_data_dir("mitdb")) == [
        "100", "101", "106", "118", "119", "200", "208", "209", "232", "233"
    ]
    with pytest.raises(FileNotFoundError, match="record folder not found"):
        list_records(tmp_path / "nope")


@needs_wfdb
@pytest.mark.skipif(SHARED_MITDB is None, reason="full MIT-BIH records not present")
def test_every_shared_record_reads_and_has_mlii_by_name():
    from sk1dcnn.ecg.records import MITDB_RECORDS, PACED_RECORDS, lead_indices, list_records

    present = list_records(SHARED_MITDB, paced=True)
    assert set(present) <= set(MITDB_RECORDS)
    for name in present:
        rec = load_wfdb_record(SHARED_MITDB / name, sampto=3600)
        assert rec.signal.shape == (2, 3600) and rec.fs == MITDB_FS
        if name in ("102", "104"):  # V5, V2: no MLII
            assert "MLII" not in rec.channel_names and name in PACED_RECORDS
            continue
        (i,) = lead_indices(rec.channel_names, record=name)
        assert rec.channel_names[i] == "MLII"
        assert i == (1 if name == "114" else 0)
