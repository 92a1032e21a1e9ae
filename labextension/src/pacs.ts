/**
 * The PACS panel's logic, without DOM: the C-FIND query a search form makes (patient id and
 * name, a date range, modality, accession), and how a retrieval's progress reads.
 */

export interface IPacsNode {
  name: string;
  ae_title: string;
  host: string;
  port: number;
}

export interface IPacsStatus {
  ae_title: string;
  receiver: { host: string; port: number; running: boolean } | null;
  nodes: IPacsNode[];
}

/** A retrieval, as `POST pacs/<name>/retrieve` and the `pacs.progress` event give it. */
export interface IRetrieval {
  id: number;
  user: string;
  pacs: string;
  study_uid: string;
  series_uid: string | null;
  method: string;
  state: string;
  received: number;
  expected: number | null;
  failed: number;
  message: string;
  folder: string | null;
}

export interface ISearch {
  patientId?: string;
  patientName?: string;
  /** YYYY-MM-DD (a date input's value) or YYYYMMDD; either end may be empty. */
  from?: string;
  to?: string;
  modality?: string;
  accession?: string;
}

const DATE = /^(\d{4})-?(\d{2})-?(\d{2})$/;

/** A date as DICOM writes it (YYYYMMDD), or null when it is not a date. */
export function dicomDate(v: string): string | null {
  const m = DATE.exec(v.trim());
  return m ? `${m[1]}${m[2]}${m[3]}` : null;
}

/**
 * The STUDY-level query of a search, or the message saying what is wrong with it. A name
 * without a wildcard matches names starting with it (DOE finds DOE^JOHN).
 */
export function studyQuery(s: ISearch): { query: Record<string, string> | null; error: string | null } {
  const q: Record<string, string> = {};
  const id = (s.patientId ?? '').trim();
  if (id) {
    q.PatientID = id;
  }
  const name = (s.patientName ?? '').trim();
  if (name) {
    q.PatientName = /[*?]/.test(name) ? name : `${name}*`;
  }
  const from = (s.from ?? '').trim();
  const to = (s.to ?? '').trim();
  const a = from ? dicomDate(from) : '';
  const b = to ? dicomDate(to) : '';
  if (a === null || b === null) {
    return { query: null, error: `not a date: "${a === null ? from : to}" (use YYYY-MM-DD)` };
  }
  if (a && b && a > b) {
    return { query: null, error: 'the first date is after the last' };
  }
  if (a || b) {
    q.StudyDate = a === b ? a : `${a}-${b}`;
  }
  const modality = (s.modality ?? '').trim().toUpperCase();
  if (modality) {
    if (!/^[A-Z0-9]{1,16}$/.test(modality)) {
      return { query: null, error: `not a modality: "${s.modality}" (e.g. CT, MR)` };
    }
    q.ModalitiesInStudy = modality;
  }
  const accession = (s.accession ?? '').trim();
  if (accession) {
    q.AccessionNumber = accession;
  }
  return { query: q, error: null };
}

/** 0..100 of a retrieval, or null while the count to expect is unknown. */
export function retrievalPercent(r: Pick<IRetrieval, 'received' | 'expected' | 'state'>): number | null {
  if (r.state === 'done') {
    return 100;
  }
  if (!r.expected) {
    return null;
  }
  return Math.min(100, Math.round((100 * r.received) / r.expected));
}

/** "retrieving 12 of 48 files", "done: 48 files", "failed: <message>". */
export function retrievalText(r: IRetrieval): string {
  const of = r.expected ? ` of ${r.expected}` : '';
  switch (r.state) {
    case 'done':
      return `done: ${r.received} file${r.received === 1 ? '' : 's'}${r.failed ? `, ${r.failed} failed` : ''}`;
    case 'failed':
      return `failed: ${r.message || 'the retrieval failed'}`;
    case 'retrieving':
    case 'retrying':
      return `${r.state} ${r.received}${of} files`;
    default:
      return r.state;
  }
}

/** A DICOM date (YYYYMMDD) for people: YYYY-MM-DD. */
export function showDate(v: unknown): string {
  const s = String(v ?? '');
  return /^\d{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}` : s;
}

/** A person name as DICOM writes it (DOE^JOHN) for people: DOE, JOHN. */
export function showName(v: unknown): string {
  if (v && typeof v === 'object' && 'Alphabetic' in (v as Record<string, unknown>)) {
    v = (v as Record<string, unknown>).Alphabetic;
  }
  return String(v ?? '')
    .split('^')
    .filter(Boolean)
    .join(', ');
}
