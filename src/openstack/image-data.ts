import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, statusOf } from './errors.ts';
import { ImageDataError, type ImageService } from './image.ts';

export interface TransferOptions {
  /** The bytes Glance says the source has (sent as the upload's Content-Length), or null. */
  size: number | null;
  /** Called with the bytes moved so far, as they pass. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** Bytes held between the download and the upload at most (besides the sockets' own buffers). */
const CHUNK_BUFFER = 4 * 1024 ** 2;

/**
 * Stream one image's data from a Glance to another (`GET …/file` into `PUT …/file`): never on
 * disk, never whole in memory (each side waits for the other: backpressure). Resolves with the
 * bytes moved once the target answered; a failure is ImageDataError, naming the side that failed.
 */
export async function transferImageData(
  from: ImageService,
  sourceId: string,
  to: ImageService,
  targetId: string,
  { size, onBytes, signal }: TransferOptions,
): Promise<number> {
  let bytes = 0;
  let failed: { stage: 'download' | 'upload'; error: unknown } | undefined;
  const mark = (stage: 'download' | 'upload') => (error: unknown) => {
    failed ??= { stage, error };
  };
  const download = from.download(sourceId, signal).on('error', mark('download'));
  const upload = to.upload(targetId, size, signal).on('error', mark('upload'));
  // got's streams hold no buffer of their own (highWaterMark 0): this one keeps up to CHUNK_BUFFER
  // between the sides, so neither waits on every chunk of the other.
  const meter = new Transform({
    highWaterMark: CHUNK_BUFFER,
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      onBytes?.(bytes);
      done(null, chunk);
    },
  });
  // Glance's answer to the PUT (204, no body) is read to its end.
  const answer = new Writable({ write: (_chunk, _encoding, done) => done() });
  try {
    await pipeline(download, meter, upload, answer, { signal });
  } catch (error) {
    const first = failed ?? { stage: 'upload' as const, error };
    const status = statusOf(first.error);
    const side = first.stage === 'download' ? `reading image ${sourceId}` : `writing image ${targetId}`;
    const why = first.error instanceof ApiError ? first.error.message : first.error instanceof Error ? first.error.message : String(first.error);
    throw new ImageDataError(`${side} failed after ${bytes} bytes: ${why}`, first.stage, status, { cause: first.error });
  }
  if (size !== null && bytes !== size) {
    throw new ImageDataError(`reading image ${sourceId} ended after ${bytes} bytes, not the ${size} Glance gives as its size`, 'download', undefined);
  }
  return bytes;
}
