// nginx as the HTTP/2-over-TLS reference of bench/h2.ts and bench/grpc/run.ts: one worker, no access log,
// the same certificate, TLS versions and AEAD suites as the Switchyard listener it is compared with, and
// the forwarded headers Switchyard sets by default. The caller gives the upstream block and how the
// location passes requests on (`proxy` or `grpc`).

export interface NginxTlsOptions {
  /** Temp dir: pid file, logs and nginx's temp paths live here. */
  dir: string;
  port: number;
  cert: string;
  key: string;
  /** The `upstream NAME { … }` block. */
  upstream: string;
  /** The location's directives that pass the request on (proxy_pass … or grpc_pass …). */
  pass: string;
  /** proxy_set_header or grpc_set_header. */
  setHeader: 'proxy_set_header' | 'grpc_set_header';
}

export function nginxTlsConf(o: NginxTlsOptions): string {
  const set = o.setHeader;
  return `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  client_body_temp_path ${o.dir}/cb; proxy_temp_path ${o.dir}/px; fastcgi_temp_path ${o.dir}/fc; uwsgi_temp_path ${o.dir}/uw; scgi_temp_path ${o.dir}/sc;
  access_log off;
  server_tokens off;
  keepalive_requests 100000;
  http2_max_concurrent_streams 128;
  ${o.upstream}
  server {
    listen 127.0.0.1:${o.port} ssl http2 backlog=4096;
    ssl_certificate ${o.cert};
    ssl_certificate_key ${o.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_session_cache shared:SSL:10m;
    location / {
      ${o.pass}
      ${set} X-Forwarded-For $proxy_add_x_forwarded_for;
      ${set} X-Real-IP $remote_addr;
      ${set} X-Forwarded-Proto $scheme;
      ${set} X-Forwarded-Host $host;
      ${set} X-Request-Id $request_id;
    }
  }
}
`;
}
