// Message body codec (data-format/message-body.md, message-body-aad.md).
//
// Regular frame                         Final frame
//   off  len  field                       off  len  field
//   0    4    sequence number             0    4    0xFFFFFFFF (sequence number end)
//   4    12   IV                          4    4    sequence number
//   16   F    ciphertext (F = frame len)  8    12   IV
//   …    16   tag                         20   4    ciphertext length (0 … F)
//                                         24   …    ciphertext
//                                         …    16   tag
// Non-framed body
//   0    12   IV
//   12   8    ciphertext length (≤ 2^36 - 32)
//   20   …    ciphertext
//   …    16   tag
//
// IV of a frame: 8 zero bytes || sequence number (4, BE); sequence numbers start at 1.
// Body AAD: message id || content string || sequence number (4) || plaintext length (8).

import { ByteBuilder, utf8 } from './bytes.js';
import { BodyAadContent, IV_LENGTH } from './constants.js';

export type BodyAadKind = keyof typeof BodyAadContent;

const CONTENT_BYTES: Record<BodyAadKind, Uint8Array> = {
  NonFramed: utf8.encode(BodyAadContent.NonFramed),
  Frame: utf8.encode(BodyAadContent.Frame),
  FinalFrame: utf8.encode(BodyAadContent.FinalFrame),
};

export const REGULAR_FRAME_HEADER_LENGTH = 4 + IV_LENGTH;
export const FINAL_FRAME_HEADER_LENGTH = 4 + 4 + IV_LENGTH + 4;

export function frameIv(sequenceNumber: number): Buffer {
  const iv = Buffer.alloc(IV_LENGTH);
  iv.writeUInt32BE(sequenceNumber, IV_LENGTH - 4);
  return iv;
}

export function bodyAad(messageId: Uint8Array, kind: BodyAadKind, sequenceNumber: number, length: number): Uint8Array {
  return new ByteBuilder().raw(messageId).raw(CONTENT_BYTES[kind]).u32(sequenceNumber).u64(length).build();
}
