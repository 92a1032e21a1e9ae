"""The DICOM data side: header reading, index, search, layout, de-identification, volumes.

The network side (upper layer, DIMSE, C-STORE SCP, PACS client, receiver) is
:mod:`chris_jupyter.dicom.net`, which imports from here, never the other way round.
"""
