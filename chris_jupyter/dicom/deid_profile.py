"""The DICOM PS3.15 Basic Application Level Confidentiality Profile as data: an action per
attribute (D dummy, Z zero-length, X remove, K keep, C clean, U remap UID), the rows each
retain option switches to K, the descriptors the Clean Descriptors option cleans, and the
CID 7050 codes recorded in DeidentificationMethodCodeSequence. Used by :mod:`.deid`.
"""

from __future__ import annotations

# fmt: off
BASIC_PROFILE: dict[str, str] = {
    # -- replaced with a dummy value
    **dict.fromkeys([
        "GraphicAnnotationSequence", "PersonIdentificationCodeSequence", "PersonName",
        "VerifyingObserverName", "VerifyingObserverSequence", "ContentCreatorName",
        "AcquisitionDateTime", "InstanceCreationDate", "ReferencedDateTime",
        "ProtocolName", "SeriesDate", "SeriesTime", "OperatorsName", "StationName",
        "InstitutionName", "DeviceSerialNumber", "AcquisitionDeviceProcessingDescription",
        "ContrastBolusAgent", "StartAcquisitionDateTime", "DecayCorrectionDateTime",
        "InstructionPerformedDateTime",
    ], "D"),
    # -- emptied
    **dict.fromkeys([
        "AccessionNumber", "AcquisitionDate", "AcquisitionTime", "ContentDate", "ContentTime",
        "FillerOrderNumberImagingServiceRequest", "PatientBirthDate", "PatientID", "PatientName",
        "PatientSex", "PlacerOrderNumberImagingServiceRequest", "ReferringPhysicianName",
        "StudyDate", "StudyID", "StudyTime", "VerifyingObserverIdentificationCodeSequence",
        "InstanceCreationTime", "PatientSexNeutered", "RequestedProcedureDescription",
        "ReviewerName", "ReferencedStudySequence", "InstitutionCodeSequence",
        "ReferencedPerformedProcedureStepSequence",
    ], "Z"),
    # -- new UIDs (consistent within a run / a salt)
    **dict.fromkeys([
        "ConcatenationUID", "ContextGroupExtensionCreatorUID", "CreatorVersionUID", "DeviceUID",
        "DigitalSignatureUID", "DimensionOrganizationUID", "DoseReferenceUID",
        "FailedSOPInstanceUIDList", "FiducialUID", "FrameOfReferenceUID", "InstanceCreatorUID",
        "IrradiationEventUID", "LargePaletteColorLookupTableUID", "MediaStorageSOPInstanceUID",
        "PaletteColorLookupTableUID", "ReferencedFrameOfReferenceUID",
        "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID",
        "ReferencedSOPInstanceUID", "ReferencedSOPInstanceUIDInFile",
        "RelatedFrameOfReferenceUID", "RequestedSOPInstanceUID", "SeriesInstanceUID",
        "SOPInstanceUID", "StorageMediaFileSetUID", "StudyInstanceUID",
        "SynchronizationFrameOfReferenceUID", "TemplateExtensionCreatorUID",
        "TemplateExtensionOrganizationUID", "TransactionUID", "UID", "AffectedSOPInstanceUID",
        "AcquisitionUID", "PyramidUID", "SpecimenUID", "TargetUID",
    ], "U"),
    # -- removed
    **dict.fromkeys([
        "AcquisitionComments", "AcquisitionContextSequence", "AcquisitionProtocolDescription",
        "ActualHumanPerformersSequence", "AdditionalPatientHistory", "AdmissionID",
        "AdmittingDate", "AdmittingDiagnosesCodeSequence", "AdmittingDiagnosesDescription",
        "AdmittingTime", "Allergies", "Arbitrary", "AuthorObserverSequence", "BranchOfService",
        "CassetteID", "CommentsOnThePerformedProcedureStep",
        "ConfidentialityConstraintOnPatientDataDescription",
        "ContentCreatorIdentificationCodeSequence", "ContentSequence",
        "ContributionDescription", "CountryOfResidence", "CurrentPatientLocation",
        "CurveDate", "CurveTime", "CustodialOrganizationSequence", "DataSetTrailingPadding",
        "DecompositionDescription", "DerivationDescription", "DetectorID",
        "DigitalSignaturesSequence", "DischargeDiagnosisDescription", "DistributionAddress",
        "DistributionName", "EthnicGroup", "FrameComments", "GantryID", "GeneratorID",
        "HumanPerformerName", "HumanPerformerOrganization", "IconImageSequence",
        "IdentifyingComments", "ImageComments", "ImagePresentationComments",
        "ImagingServiceRequestComments", "Impressions", "InstitutionAddress",
        "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
        "InsurancePlanIdentification", "IntendedRecipientsOfResultsIdentificationSequence",
        "InterpretationApproverSequence", "InterpretationAuthor",
        "InterpretationDiagnosisDescription", "InterpretationIDIssuer",
        "InterpretationRecorder", "InterpretationText", "InterpretationTranscriber",
        "IssuerOfAdmissionID", "IssuerOfAdmissionIDSequence", "IssuerOfPatientID",
        "IssuerOfPatientIDQualifiersSequence", "IssuerOfServiceEpisodeID", "LastMenstrualDate",
        "MAC", "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank",
        "ModifiedAttributesSequence", "ModifiedImageDescription", "ModifyingDeviceID",
        "ModifyingDeviceManufacturer", "NameOfPhysiciansReadingStudy",
        "NamesOfIntendedRecipientsOfResults", "Occupation", "OperatorIdentificationSequence",
        "OriginalAttributesSequence", "OrderCallbackPhoneNumber", "OrderEnteredBy",
        "OrderEntererLocation", "OtherPatientIDs", "OtherPatientIDsSequence",
        "OtherPatientNames", "ParticipantSequence", "PatientAddress", "PatientAge",
        "PatientBirthName", "PatientBirthTime", "PatientComments", "PatientInstitutionResidence",
        "PatientInsurancePlanCodeSequence", "PatientMotherBirthName",
        "PatientPrimaryLanguageCodeSequence", "PatientPrimaryLanguageModifierCodeSequence",
        "PatientReligiousPreference", "PatientSize", "PatientState", "PatientTelephoneNumbers",
        "PatientTransportArrangements", "PatientWeight", "PerformedLocation",
        "PerformedProcedureStepDescription", "PerformedProcedureStepID",
        "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
        "PerformedStationAETitle", "PerformedStationGeographicLocationCodeSequence",
        "PerformedStationName", "PerformedStationNameCodeSequence",
        "PerformingPhysicianIdentificationSequence", "PerformingPhysicianName",
        "PersonAddress", "PersonTelephoneNumbers", "PhysicianApprovingInterpretation",
        "PhysiciansReadingStudyIdentificationSequence", "PhysiciansOfRecord",
        "PhysiciansOfRecordIdentificationSequence", "PlateID", "PreMedication",
        "PregnancyStatus", "ReasonForTheImagingServiceRequest", "ReasonForStudy",
        "ReferencedDigitalSignatureSequence", "ReferencedPatientAliasSequence",
        "ReferencedPatientPhotoSequence", "ReferencedPatientSequence",
        "ReferencedSOPInstanceMACSequence", "ReferringPhysicianAddress",
        "ReferringPhysicianIdentificationSequence", "ReferringPhysicianTelephoneNumbers",
        "RegionOfResidence", "RequestAttributesSequence", "RequestedContrastAgent",
        "RequestedProcedureComments", "RequestedProcedureID", "RequestedProcedureLocation",
        "RequestingPhysician", "RequestingService", "ResponsibleOrganization",
        "ResponsiblePerson", "ResultsComments", "ResultsDistributionListSequence",
        "ResultsIDIssuer", "ScheduledHumanPerformersSequence",
        "ScheduledPatientInstitutionResidence",
        "ScheduledPerformingPhysicianIdentificationSequence",
        "ScheduledPerformingPhysicianName", "ScheduledProcedureStepEndDate",
        "ScheduledProcedureStepEndTime", "ScheduledProcedureStepDescription",
        "ScheduledProcedureStepLocation", "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartTime", "ScheduledStationAETitle",
        "ScheduledStationGeographicLocationCodeSequence", "ScheduledStationName",
        "ScheduledStationNameCodeSequence", "ScheduledStudyLocation",
        "ScheduledStudyLocationAETitle", "SeriesDescription", "ServiceEpisodeDescription",
        "ServiceEpisodeID", "SmokingStatus", "SpecialNeeds", "StudyComments",
        "StudyDescription", "StudyIDIssuer", "TextComments", "TextString",
        "TimezoneOffsetFromUTC", "TopicAuthor", "TopicKeywords", "TopicSubject", "TopicTitle",
        "VerifyingOrganization", "VisitComments", "InstanceCoercionDateTime",
        "RespiratoryMotionCompensationTechniqueDescription", "UniqueDeviceIdentifier",
        "UDISequence", "DateOfLastCalibration", "TimeOfLastCalibration",
        "DateTimeOfLastCalibration", "DateOfSecondaryCapture", "TimeOfSecondaryCapture",
        "ExclusionStartDateTime", "IssueDateOfImagingServiceRequest",
        "IssueTimeOfImagingServiceRequest", "RadiopharmaceuticalStartDateTime",
        "RadiopharmaceuticalStopDateTime", "RadiopharmaceuticalStartTime",
        "RadiopharmaceuticalStopTime", "OverlayDate", "OverlayTime", "ProcedureCodeSequence",
        "ObservationDateTime", "PatientSpeciesDescription", "PatientBreedDescription",
    ], "X"),
}

#: Rows switched to K by the "retain" options (PS3.15 Table E.1-1, option columns).
RETAIN_OPTIONS: dict[str, list[str]] = {
    "retain_patient_characteristics": [
        "PatientAge", "PatientSex", "PatientSize", "PatientWeight", "EthnicGroup",
        "SmokingStatus", "PregnancyStatus", "PatientSexNeutered", "PatientSpeciesDescription",
        "PatientBreedDescription", "Allergies", "MedicalAlerts", "AdditionalPatientHistory",
    ],
    "retain_device_identity": [
        "StationName", "DeviceSerialNumber", "DeviceUID", "DetectorID", "GantryID",
        "GeneratorID", "CassetteID", "PlateID", "PerformedStationAETitle",
        "PerformedStationName", "ScheduledStationAETitle", "ScheduledStationName",
        "ModifyingDeviceID", "ModifyingDeviceManufacturer", "UniqueDeviceIdentifier",
        "UDISequence", "AcquisitionDeviceProcessingDescription", "DateOfLastCalibration",
        "TimeOfLastCalibration", "DateTimeOfLastCalibration",
    ],
    "retain_institution_identity": [
        "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
        "InstitutionCodeSequence", "InstitutionalDepartmentTypeCodeSequence",
    ],
}
#: Rows switched to C by ``clean_descriptions`` (the Clean Descriptors option).
DESCRIPTORS = [
    "StudyDescription", "SeriesDescription", "ProtocolName", "ImageComments",
    "AcquisitionComments", "DerivationDescription", "RequestedProcedureDescription",
    "PerformedProcedureStepDescription", "ScheduledProcedureStepDescription",
    "AcquisitionProtocolDescription", "ContrastBolusAgent", "FrameComments",
]
# Codes of CID 7050 "De-identification Method" (scheme DCM).
_METHOD_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_descriptions": ("113105", "Clean Descriptors Option"),
    "shift_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "keep_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}
# fmt: on
