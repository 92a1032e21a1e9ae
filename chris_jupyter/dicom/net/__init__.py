"""The DICOM network side: upper layer, DIMSE, the C-STORE SCP, the PACS client and receiver.

The data side (headers, index, search, volumes, de-identification, layout) is the parent package
:mod:`chris_jupyter.dicom`; this package may import from it, never the other way round.
"""
