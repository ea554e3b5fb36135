/**
 * The one data converter of every Temporal client and worker of cmk-runbook: payloads sealed by
 * the AES-GCM codec, failures' messages and stacks moved into a payload so they are sealed too.
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, type PayloadKey } from './aes-gcm-codec';

/** The failure converter module; the workflow bundle is built with the same path. */
export const FAILURE_CONVERTER_PATH = require.resolve('../shared/failure-converter');

/** The data converter over `keys` (no codec when encryption is off, i.e. `keys` is empty). */
export function createDataConverter(keys: readonly PayloadKey[]): DataConverter {
  return {
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(keys.length ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : {}),
  };
}
