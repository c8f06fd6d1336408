import type { PacsRetrieve } from './lists.ts';
import type { DisconnectedEvent } from './rpc/channel.ts';
import type { SegmentInfo } from './segments.ts';

// ---------------------------------------------------------------------------------------------
// PACS: find studies on a configured DICOM node, retrieve one into the local study cache, open it
// as a case, and send the case's DICOM SEG back. Nothing is sent anywhere but to a node the user
// configured. Part of the QuorumApi types (core/src/api.ts re-exports them): types only.

/**
 * A DICOM node (PACS) as configured by the user: a DIMSE endpoint (AE title, host, port), a
 * DICOMweb base URL, or both. With a DICOMweb URL, search, retrieve and store use DICOMweb
 * (QIDO-RS, WADO-RS, STOW-RS); otherwise DIMSE (C-FIND, C-GET, C-STORE).
 */
export interface PacsNode {
  /** Unique name the user picks ("radiology"), used by --node and in messages. */
  name: string;
  /** The node's AE title (called AE). */
  aet?: string;
  host?: string;
  /** DIMSE port. */
  port?: number;
  /** DIMSE retrieve: 'c-get' (default; no port of Quorum's needed) or 'c-move' (to movePort). */
  retrieve?: PacsRetrieve;
  /** C-MOVE: the port Quorum's storage SCP listens on while a move runs (the PACS sends there). */
  movePort?: number;
  /** DICOMweb base URL (http or https), e.g. http://pacs:8042/dicom-web. */
  dicomweb?: string;
}

/** The node list (stateDir/pacs-nodes.json) and Quorum's own AE title. */
export interface PacsConfig {
  /** Quorum's AE title (calling AE; the PACS must know it for C-FIND/C-GET/C-STORE). */
  localAet: string;
  nodes: PacsNode[];
  /** Where the list is kept. */
  file: string;
}

/** Study search keys; empty ones match everything. Wildcards `*` and `?` as DICOM allows. */
export interface PacsQuery {
  patientName?: string;
  patientId?: string;
  /** YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end may be left open). */
  studyDate?: string;
  /** e.g. MR (matched against the modalities in the study). */
  modality?: string;
  accession?: string;
}

export interface PacsStudy {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  studyDescription: string;
  accession: string;
  modalities: string[];
  series?: number;
  instances?: number;
}

/** Per-image progress of a retrieve or a store; a stream ends with done, cancelled or error. */
export type PacsEvent =
  | { type: 'progress'; transferId: string; done: number; total: number; failed: number }
  | { type: 'done'; transferId: string; done: number; failed: number; folder?: string; files?: string[] }
  | { type: 'cancelled'; transferId: string; done: number }
  | { type: 'error'; transferId: string; message: string }
  | DisconnectedEvent;

/** What to send with pacsStore: the current mask of an open DICOM case, written as DICOM SEG. */
export interface PacsStoreRequest {
  node: string;
  caseId: string;
  /** Full labelmap on the case grid (as ExportRequest.mask). */
  mask: Uint8Array;
  /** The case's segments (as ExportRequest.segments): one SEG segment each; absent = one "Lesion". */
  segments?: SegmentInfo[];
}

/** The PACS part of QuorumApi. */
export interface PacsApi {
  pacsConfig(): Promise<PacsConfig>;
  /** Adds or replaces (same name) a node; returns the new list. */
  pacsSaveNode(node: PacsNode): Promise<PacsConfig>;
  pacsRemoveNode(name: string): Promise<PacsConfig>;
  /** C-ECHO; resolves with the round trip in ms, rejects with a message naming the node. */
  pacsEcho(node: string): Promise<{ ms: number }>;
  pacsFind(node: string, query: PacsQuery): Promise<PacsStudy[]>;
  /** C-GET of a study into the local cache; the done event names the folder to open. */
  pacsRetrieve(
    node: string,
    studyInstanceUid: string,
    onEvent: (e: PacsEvent) => void,
  ): Promise<{ transferId: string }>;
  /** Writes the case's DICOM SEG and sends it with C-STORE. */
  pacsStore(req: PacsStoreRequest, onEvent: (e: PacsEvent) => void): Promise<{ transferId: string }>;
  pacsCancel(transferId: string): Promise<void>;
}

export const PACS_METHODS = [
  'pacsConfig',
  'pacsSaveNode',
  'pacsRemoveNode',
  'pacsEcho',
  'pacsFind',
  'pacsRetrieve',
  'pacsStore',
  'pacsCancel',
] as const satisfies readonly (keyof PacsApi)[];

export const PACS_STREAM_METHODS = [
  'pacsRetrieve',
  'pacsStore',
] as const satisfies readonly (keyof PacsApi)[];
