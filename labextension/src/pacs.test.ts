import { describe, expect, it } from 'vitest';

import { IRetrieval, dicomDate, retrievalPercent, retrievalText, showDate, showName, studyQuery } from './pacs';

describe('studyQuery', () => {
  it('makes a STUDY query from the filled-in fields only', () => {
    expect(studyQuery({ patientId: ' P1 ', patientName: 'DOE', modality: 'ct', accession: 'A7' }).query).toEqual({
      PatientID: 'P1',
      PatientName: 'DOE*',
      ModalitiesInStudy: 'CT',
      AccessionNumber: 'A7'
    });
    expect(studyQuery({}).query).toEqual({});
    expect(studyQuery({ patientName: 'DO?^J*' }).query).toEqual({ PatientName: 'DO?^J*' });
  });

  it('writes date ranges as DICOM does, open at either end', () => {
    expect(studyQuery({ from: '2024-01-01', to: '2024-12-31' }).query).toEqual({ StudyDate: '20240101-20241231' });
    expect(studyQuery({ from: '2024-01-01' }).query).toEqual({ StudyDate: '20240101-' });
    expect(studyQuery({ to: '20240630' }).query).toEqual({ StudyDate: '-20240630' });
    expect(studyQuery({ from: '2024-05-05', to: '2024-05-05' }).query).toEqual({ StudyDate: '20240505' });
  });

  it('says what is wrong instead of querying', () => {
    expect(studyQuery({ from: 'yesterday' })).toEqual({
      query: null,
      error: 'not a date: "yesterday" (use YYYY-MM-DD)'
    });
    expect(studyQuery({ from: '2024-02-01', to: '2024-01-01' }).error).toBe('the first date is after the last');
    expect(studyQuery({ modality: 'C T' }).error).toBe('not a modality: "C T" (e.g. CT, MR)');
    expect(dicomDate('2024-1-1')).toBeNull();
  });
});

function job(over: Partial<IRetrieval>): IRetrieval {
  return {
    id: 1,
    user: 'me',
    pacs: 'orthanc',
    study_uid: '1.2',
    series_uid: '1.2.3',
    method: 'get',
    state: 'queued',
    received: 0,
    expected: null,
    failed: 0,
    message: '',
    folder: null,
    ...over
  };
}

describe('retrieval progress', () => {
  it('reads as a percentage once the count is known', () => {
    expect(retrievalPercent(job({ state: 'retrieving', received: 12, expected: 48 }))).toBe(25);
    expect(retrievalPercent(job({ state: 'connecting' }))).toBeNull();
    expect(retrievalPercent(job({ state: 'done', received: 3, expected: null }))).toBe(100);
  });

  it('reads as text', () => {
    expect(retrievalText(job({ state: 'retrieving', received: 12, expected: 48 }))).toBe('retrieving 12 of 48 files');
    expect(retrievalText(job({ state: 'done', received: 1 }))).toBe('done: 1 file');
    expect(retrievalText(job({ state: 'done', received: 47, failed: 1 }))).toBe('done: 47 files, 1 failed');
    expect(retrievalText(job({ state: 'failed', message: 'association rejected' }))).toBe(
      'failed: association rejected'
    );
  });

  it('shows DICOM dates and names for people', () => {
    expect(showDate('20240105')).toBe('2024-01-05');
    expect(showName('DOE^JOHN')).toBe('DOE, JOHN');
    expect(showName({ Alphabetic: 'ROE^JANE' })).toBe('ROE, JANE');
  });
});
