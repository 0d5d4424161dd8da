// DNS query messages for tests, built with the wire encoder (src/dns/wire).
import { Flag } from '../../src/dns/wire/constants.ts';
import { nameToWire } from '../../src/dns/wire/name.ts';
import { MessageWriter } from '../../src/dns/wire/writer.ts';

export function queryBytes(name: string, type = 1, options: { id?: number; flags?: number; edns?: number } = {}): Buffer {
  const writer = new MessageWriter();
  writer.header(options.id ?? 0x1234, options.flags ?? Flag.RD, 1, 0, 0, options.edns === undefined ? 0 : 1);
  writer.question(nameToWire(name), type, 1);
  if (options.edns !== undefined) writer.opt(options.edns);
  return writer.finish();
}
