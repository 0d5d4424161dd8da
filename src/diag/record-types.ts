// Record type names a query may ask for (those dns-packet can encode), checked before anything is sent.
import dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';

export function toRecordType(text: string): RecordType | undefined {
  const upper = text.toUpperCase();
  if (!/^[A-Z][A-Z0-9]*$/.test(upper)) return undefined;
  try {
    const wire = dnsPacket.encode({ type: 'query', id: 0, questions: [{ type: upper as RecordType, name: '.' }] });
    // dns-packet encodes names it does not know as type 0
    return wire.readUInt16BE(wire.length - 4) === 0 ? undefined : (upper as RecordType);
  } catch {
    return undefined;
  }
}
