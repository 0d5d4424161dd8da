// HTTP/2 frame types, flags, settings and error codes (RFC 9113 §6, §7, §11).

export const FRAME_HEADER = 9;

export const T_DATA = 0x0;
export const T_HEADERS = 0x1;
export const T_PRIORITY = 0x2;
export const T_RST_STREAM = 0x3;
export const T_SETTINGS = 0x4;
export const T_PUSH_PROMISE = 0x5;
export const T_PING = 0x6;
export const T_GOAWAY = 0x7;
export const T_WINDOW_UPDATE = 0x8;
export const T_CONTINUATION = 0x9;

export const F_END_STREAM = 0x1;
export const F_ACK = 0x1;
export const F_END_HEADERS = 0x4;
export const F_PADDED = 0x8;
export const F_PRIORITY = 0x20;

export const S_HEADER_TABLE_SIZE = 0x1;
export const S_ENABLE_PUSH = 0x2;
export const S_MAX_CONCURRENT_STREAMS = 0x3;
export const S_INITIAL_WINDOW_SIZE = 0x4;
export const S_MAX_FRAME_SIZE = 0x5;
export const S_MAX_HEADER_LIST_SIZE = 0x6;

export const E_NO_ERROR = 0x0;
export const E_PROTOCOL_ERROR = 0x1;
export const E_INTERNAL_ERROR = 0x2;
export const E_FLOW_CONTROL_ERROR = 0x3;
export const E_STREAM_CLOSED = 0x5;
export const E_FRAME_SIZE_ERROR = 0x6;
export const E_REFUSED_STREAM = 0x7;
export const E_COMPRESSION_ERROR = 0x9;
export const E_ENHANCE_YOUR_CALM = 0xb;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 0x7fff_ffff;
/** The largest frame payload we accept (we keep SETTINGS_MAX_FRAME_SIZE at its default). */
export const OUR_MAX_FRAME = 16_384;

export function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}
