// Building zones from the `dns.zones` config: master files (read asynchronously) plus inline records.
// Every failure becomes a ConfigError naming the file:line or the config path, so a reload can refuse a
// bad zone and keep serving the old one.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../core/index.ts';
import type { ZoneConfig } from '../../config/index.ts';
import { RRClass, RRType } from '../wire/constants.ts';
import { keyOf, nameToWire, NameError } from '../wire/name.ts';
import { MasterFileError, parseMasterFile, type ZoneRecord } from './master-file.ts';
import { characterStrings, encodeRdata, RdataError } from './rdata.ts';
import { Zone, ZoneError, type PoolRecord } from './zone.ts';

export function absoluteOrigin(origin: string): string {
  return origin.endsWith('.') ? origin : `${origin}.`;
}

/** The file a zone reads, resolved against the config's directory; undefined for inline zones. */
export function zoneFilePath(config: ZoneConfig, baseDir: string): string | undefined {
  return config.file === undefined ? undefined : path.resolve(baseDir, config.file);
}

export async function loadZone(config: ZoneConfig, index: number, baseDir: string, now: number): Promise<Zone> {
  const where = `dns.zones[${index}]`;
  let origin: Buffer;
  try {
    origin = nameToWire(absoluteOrigin(config.origin));
  } catch (err) {
    throw new ConfigError([`${where}.origin: ${(err as Error).message}`]);
  }
  const records: ZoneRecord[] = [];
  const file = zoneFilePath(config, baseDir);
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${file}: cannot read zone file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    try {
      records.push(...parseMasterFile(text, file, origin, config.ttl));
    } catch (err) {
      if (err instanceof MasterFileError) throw new ConfigError([err.message]);
      throw err;
    }
  }
  const pools: PoolRecord[] = [];
  try {
    if (config.soa) {
      if (records.some((record) => record.type === RRType.SOA)) throw new ZoneError(`${where}.soa: the zone file has an SOA already`);
      const soa = config.soa;
      const serial = soa.serial ?? Math.floor(now / 1000);
      const text = `${soa.mname} ${soa.rname} ${serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.negative_ttl}`;
      records.push(inlineRecord(`${where}.soa`, origin, '@', RRType.SOA, config.ttl, text));
    }
    config.records.forEach((record, recordIndex) => {
      const source = `${where}.records[${recordIndex}]`;
      const owner = record.name === '@' ? origin : nameToWire(record.name, origin);
      const ttl = record.ttl ?? config.ttl;
      const type = RRType[record.type];
      if (record.pool !== undefined) {
        pools.push({ owner, type, pool: record.pool, ttl, source });
        return;
      }
      const values = Array.isArray(record.value) ? record.value : [record.value ?? ''];
      if (type === RRType.TXT) {
        // config TXT values are the text itself, not master-file syntax: no quoting needed
        records.push({ owner, type, class: RRClass.IN, ttl, rdata: characterStrings(values.map((value) => Buffer.from(value, 'utf8'))), source });
        return;
      }
      let text = values.join(' ');
      if (type === RRType.MX) text = `${record.priority} ${text}`;
      if (type === RRType.SRV) text = `${record.priority ?? 0} ${record.weight ?? 0} ${record.port ?? 0} ${text}`;
      records.push(inlineRecord(source, origin, owner, type, ttl, text));
    });
    // a zone needs NS at its apex; inline zones may leave it to the SOA's primary name server
    const originKey = keyOf(origin);
    const soa = records.find((record) => record.type === RRType.SOA);
    if (soa && !records.some((record) => record.type === RRType.NS && keyOf(record.owner) === originKey)) {
      records.push({ owner: origin, type: RRType.NS, class: RRClass.IN, ttl: soa.ttl, rdata: Buffer.from(soa.rdata.subarray(0, endOfName(soa.rdata))), source: `${where} (NS from the SOA mname)` });
    }
    return new Zone(origin, records, pools, file ?? where);
  } catch (err) {
    if (err instanceof ZoneError || err instanceof RdataError || err instanceof NameError) {
      // zone errors already name their source (file:line or the config path)
      throw new ConfigError([err instanceof ZoneError ? err.message : `${where}: ${(err as Error).message}`]);
    }
    throw err;
  }
}

function endOfName(wire: Buffer): number {
  let i = 0;
  while (wire[i] !== 0) i += wire[i] + 1;
  return i + 1;
}

/** One record from config fields, parsed with the master-file tokenizer's rules for the value. */
function inlineRecord(source: string, origin: Buffer, owner: Buffer | '@', type: number, ttl: number, value: string): ZoneRecord {
  const tokens = [...value.matchAll(/"((?:[^"\\]|\\.)*)"|((?:[^\s"\\]|\\.)+)/g)].map((match) => ({ raw: match[1] ?? match[2], quoted: match[1] !== undefined }));
  try {
    const rdata = encodeRdata(type, tokens, origin);
    return { owner: owner === '@' ? origin : owner, type, class: RRClass.IN, ttl, rdata, source };
  } catch (err) {
    throw new ZoneError(`${source}.value: ${(err as Error).message}`);
  }
}
