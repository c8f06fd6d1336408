import dcmjs from 'dcmjs';
import dimse from 'dcmjs-dimse';

/**
 * Images received over DIMSE (C-GET, C-MOVE) kept byte for byte. dcmjs-dimse hands over a parsed
 * ("naturalized") dataset in which private elements have lost their VR, so writing it back would
 * drop them, and with them what a reader needs: a Siemens mosaic without its private
 * NumberOfImagesInMosaic cannot be unpacked. dcmjs-dimse receives each C-STORE dataset through
 * one method of its network class (the streaming hook its SCPs override); it is wrapped here to
 * keep the received bytes beside the parsed dataset, and the file is the File Meta Information
 * plus those bytes, in the transfer syntax they came in.
 */
type Dataset = InstanceType<typeof dimse.Dataset>;
interface Received {
  bytes: Uint8Array;
  transferSyntax: string;
}
const received = new WeakMap<object, Received>();

// Network is the base class of Scp (and of the client's connection).
const network = Object.getPrototypeOf(dimse.Scp.prototype) as {
  createDatasetFromStoreWritableStream(
    stream: { toBuffer(): Buffer },
    context: { getAcceptedTransferSyntaxUid(): string },
    done: (ds: Dataset) => void,
  ): void;
  __quorumKeepsBytes?: boolean;
};
if (!network.__quorumKeepsBytes) {
  const parse = network.createDatasetFromStoreWritableStream;
  network.createDatasetFromStoreWritableStream = function (stream, context, done) {
    parse.call(this, stream, context, (ds: Dataset) => {
      const buf = stream.toBuffer();
      received.set(ds, {
        bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
        transferSyntax: context.getAcceptedTransferSyntaxUid(),
      });
      done(ds);
    });
  };
  network.__quorumKeepsBytes = true;
}

/** Quorum's implementation class UID (UUID-derived, as the SEG writer's). */
const IMPLEMENTATION_UID = '2.25.80302813137786398554742050926734630921';

/** A received dataset as DICOM Part 10 bytes: preamble, File Meta Information, the dataset. */
export function p10Bytes(ds: Dataset): Uint8Array {
  const el = ds.getElements() as Record<string, unknown>;
  const raw = received.get(ds);
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: el.SOPClassUID,
    MediaStorageSOPInstanceUID: el.SOPInstanceUID,
    TransferSyntaxUID: raw?.transferSyntax ?? ds.getTransferSyntaxUid(),
    ImplementationClassUID: IMPLEMENTATION_UID,
    ImplementationVersionName: 'QUORUM',
  };
  const log = dcmjs.log;
  const level = log.getLevel();
  log.setLevel('error');
  try {
    const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
    if (raw) {
      // Preamble + meta only (an empty dataset), then the bytes as received.
      const head = new Uint8Array(dict.write());
      const out = new Uint8Array(head.length + raw.bytes.length);
      out.set(head);
      out.set(raw.bytes, head.length);
      return out;
    }
    // Not received through the network (should not happen): re-encoded by dcmjs, which keeps the
    // image, its geometry and UIDs but not private elements (their warnings are silenced).
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(el);
    return new Uint8Array(dict.write());
  } finally {
    log.setLevel(level);
  }
}
