// The ACME component (RFC 8555): certificates for `tls.acme` listeners. The control plane runs the manager
// (loaded on first use: an edge without ACME never loads the client, jose's signing or @peculiar/x509);
// traffic planes hold only a ChallengeBoard, which their DNS server and HTTP listeners answer from.
import type { AcmeManager, AcmeManagerOptions, AcmeListener } from './manager.ts';
import type { Config } from '../config/index.ts';

export { ChallengeBoard, emptyChallengeSet, type ChallengeSet } from './challenge-board.ts';
export type { AcmeManager, AcmeManagerOptions, AcmeListener, AcmeCertificateStatus } from './manager.ts';

/** The listeners of a config that have `tls.acme`. */
export function acmeListeners(config: Config): AcmeListener[] {
  return config.listeners.flatMap((listener) => (listener.tls?.acme ? [{ name: listener.name, acme: listener.tls.acme }] : []));
}

export async function createAcmeManager(options: AcmeManagerOptions): Promise<AcmeManager> {
  const { AcmeManager } = await import('./manager.ts');
  return new AcmeManager(options);
}
