"""ECG: MIT-BIH records, heartbeat windows, AAMI labels, record splits and R-peak detection.

Modules
-------
labels
    The AAMI EC57 classes and the MIT-BIH symbol map (``AAMI_CLASSES``,
    ``AAMI_MAPPING``, ``to_aami``).
records
    WFDB records as plain arrays (``MITDB_FS``, ``ECGRecord``, ``load_wfdb_record``,
    ``wfdb_record_base``, ``import_wfdb``).
beats
    Beat windows around annotations (``extract_beats``, ``load_mitdb_beats``).
splits
    Inter-patient and patient-specific splits (``DE_CHAZAL_DS1``, ``DE_CHAZAL_DS2``,
    ``PACED_RECORDS``, ``MITDB_RECORDS``, ``INTER_PATIENT_TRAIN``, ``INTER_PATIENT_TEST``,
    ``patient_specific_split``).
ec57
    Beat-classification scores as ANSI/AAMI EC57 reports them (``ec57_report``,
    ``EC57Report``).
rpeaks
    Pan-Tompkins style R-peak detection and its scoring (``detect_r_peaks``,
    ``evaluate_r_peaks``).

Nothing here downloads anything; ``wfdb`` (``pip install sk1dcnn[ecg]``) is
imported only when a record is read. The generic transformers for ECG
pipelines (``BandpassFilter``, ``Resampler``, ...) are in :mod:`sk1dcnn.preprocessing`.
"""

from .beats import extract_beats, load_mitdb_beats
from .ec57 import EC57Report, ec57_report
from .labels import AAMI_CLASSES, AAMI_MAPPING, to_aami
from .records import MITDB_FS, ECGRecord, import_wfdb, load_wfdb_record, wfdb_record_base
from .rpeaks import detect_r_peaks, evaluate_r_peaks
from .splits import (DE_CHAZAL_DS1, DE_CHAZAL_DS2, INTER_PATIENT_TEST, INTER_PATIENT_TRAIN, MITDB_RECORDS,
                     PACED_RECORDS, patient_specific_split)

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAPPING",
    "DE_CHAZAL_DS1",
    "DE_CHAZAL_DS2",
    "INTER_PATIENT_TEST",
    "INTER_PATIENT_TRAIN",
    "MITDB_FS",
    "MITDB_RECORDS",
    "PACED_RECORDS",
    "EC57Report",
    "ECGRecord",
    "detect_r_peaks",
    "ec57_report",
    "evaluate_r_peaks",
    "extract_beats",
    "import_wfdb",
    "load_mitdb_beats",
    "load_wfdb_record",
    "patient_specific_split",
    "to_aami",
    "wfdb_record_base",
]
