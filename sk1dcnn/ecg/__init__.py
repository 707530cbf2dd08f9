"""ECG: MIT-BIH records, heartbeat windows, AAMI labels, RR features, EC57 scores, splits and R peaks.

Modules
-------
labels
    The AAMI EC57 classes and the MIT-BIH symbol map (``AAMI_CLASSES``,
    ``AAMI_MAPPING``, ``to_aami``).
records
    WFDB records as plain arrays, leads picked by name (``MITDB_FS``,
    ``MITDB_RECORDS``, ``PACED_RECORDS``, ``ECGRecord``, ``load_wfdb_record``,
    ``lead_indices``, ``list_records``, ``wfdb_record_base``, ``import_wfdb``).
beats
    Beat windows around annotations (``extract_beats``, ``load_mitdb_beats``).
rr
    Causal RR-interval features of each beat (``rr_features``,
    ``RRFeatureStream``, ``RR_FEATURE_NAMES``).
template
    Causal distance of each beat to the person's recent beats
    (``template_features``, ``TemplateFeatureStream``, ``TEMPLATE_FEATURE_NAMES``).
splits
    Inter-patient and patient-specific splits (``DE_CHAZAL_DS1``,
    ``DE_CHAZAL_DS2``, ``INTER_PATIENT_TRAIN``, ``INTER_PATIENT_TEST``,
    ``patient_specific_split``).
ec57
    Beat-classification scores as ANSI/AAMI EC57 reports them (``ec57_report``,
    ``EC57Report``).
rpeaks
    Pan-Tompkins style R-peak detection and its scoring (``detect_r_peaks``,
    ``evaluate_r_peaks``).
synthesis
    Abnormal beats synthesized from a person's normal ones by degradation
    filters learnt on other people (``DegradationBank``).
novelty
    How new a beat is against the person's own normal beats, followed online
    (``AdaptiveTemplateDetector``).

Nothing here downloads anything; ``wfdb`` (``pip install sk1dcnn[ecg]``) is
imported only when a record is read. The generic transformers for ECG
pipelines (``BandpassFilter``, ``Resampler``, ...) are in :mod:`sk1dcnn.preprocessing`.
"""

from .beats import extract_beats, load_mitdb_beats
from .ec57 import EC57Report, ec57_report
from .labels import AAMI_CLASSES, AAMI_MAPPING, to_aami
from .novelty import AdaptiveTemplateDetector
from .records import (
    MITDB_FS,
    MITDB_RECORDS,
    PACED_RECORDS,
    ECGRecord,
    import_wfdb,
    lead_indices,
    list_records,
    load_wfdb_record,
    wfdb_record_base,
)
from .rpeaks import detect_r_peaks, evaluate_r_peaks
from .rr import RR_FEATURE_NAMES, RRFeatureStream, rr_features
from .splits import (
    DE_CHAZAL_DS1,
    DE_CHAZAL_DS2,
    INTER_PATIENT_TEST,
    INTER_PATIENT_TRAIN,
    patient_specific_split,
)
from .synthesis import DegradationBank
from .template import TEMPLATE_FEATURE_NAMES, TemplateFeatureStream, template_features

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAPPING",
    "AdaptiveTemplateDetector",
    "DE_CHAZAL_DS1",
    "DE_CHAZAL_DS2",
    "DegradationBank",
    "INTER_PATIENT_TEST",
    "INTER_PATIENT_TRAIN",
    "MITDB_FS",
    "MITDB_RECORDS",
    "PACED_RECORDS",
    "RR_FEATURE_NAMES",
    "RRFeatureStream",
    "TEMPLATE_FEATURE_NAMES",
    "TemplateFeatureStream",
    "EC57Report",
    "ECGRecord",
    "detect_r_peaks",
    "ec57_report",
    "evaluate_r_peaks",
    "extract_beats",
    "import_wfdb",
    "lead_indices",
    "list_records",
    "load_mitdb_beats",
    "load_wfdb_record",
    "patient_specific_split",
    "rr_features",
    "template_features",
    "to_aami",
    "wfdb_record_base",
]
