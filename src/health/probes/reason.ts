// Socket errors as the short reasons health logs and the admin API show.

export function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'name not resolved';
    case undefined:
      return (err as Error | undefined)?.message?.toLowerCase() ?? 'error';
    default:
      if (code.startsWith('HPE_')) return 'bad response';
      // certificate checks and handshake failures: OpenSSL's words say which ("unable to verify the first certificate")
      if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || /CERT|SIGNATURE/.test(code)) return `tls: ${((err as Error).message ?? code).toLowerCase()}`;
      return code.toLowerCase();
  }
}
