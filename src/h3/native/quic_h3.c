// HTTP/3 over QUIC for an https listener's UDP port: ngtcp2 (QUIC, GnuTLS crypto) and nghttp3 (HTTP/3
// framing, QPACK), Debian bookworm's 0.12 / 0.8 APIs. This file owns the UDP socket, the QUIC connections
// and the HTTP/3 framing; JavaScript (src/h3/server.ts) sees only requests: a head, body chunks, the end,
// a reset — and answers with a head, body chunks, the end (with trailers) or a reset.
//
// Why the socket is read here and not through node:dgram feeding packets in: every QUIC packet needs the
// local address it arrived on (a wildcard bind answers from that address: IP_PKTINFO), its connection
// looked up by connection id, a call into ngtcp2, and usually an answer; per-connection timers fire for
// loss recovery, pacing and idle. Doing that in JavaScript costs a callback, a Buffer and an address object
// per datagram each way and a JS timer per connection, and hands attacker-controlled datagrams to the JS
// heap. Here a datagram that is not QUIC for a known or acceptable connection never leaves C: garbage
// costs one recvmsg. The socket is driven by a libuv poll handle on the worker's own loop (as
// src/dns/native/udp_batch.c), so no thread and no locking.
//
// Re-entrancy: ngtcp2/nghttp3 callbacks run inside ngtcp2_conn_read_pkt; they only queue events. The
// events go to JavaScript after the packet is processed, and JavaScript's answers only queue data and mark
// the connection dirty; dirty connections write their packets from a libuv check handle (after the poll
// phase, so a head, a body and an end written in one JS turn leave in the same packets). Stream memory is
// freed only after JavaScript heard of its close; JavaScript holds a stream through a small reference
// object that C clears when the stream goes, so a late call from JavaScript is a no-op, never a use after
// free.
//
// JavaScript contract (src/h3/addon.ts):
//   listen(options, onEvent) -> handle          options: see js_listen; throws with code = errno name
//   onEvent(EV_REQUEST, id, stream, head, fin, tooLarge, [address, port])
//                                               head: [name, value, ...] as received (pseudo-headers first);
//                                               stream: the reference the calls below take
//   onEvent(EV_DATA, id, buffer) / onEvent(EV_END | EV_CLOSE | EV_DRAIN, id)
//   respond(stream, status, flatHeaders)        flatHeaders: [name, value, ...] lower-case names
//   write(stream, buffer) -> boolean            false: above the high-water mark, wait for EV_DRAIN
//   end(stream, flatTrailers|null)
//   reset(stream, code)                         QUIC RESET_STREAM + STOP_SENDING with an H3 error code
//   pause(stream) / resume(stream)              request body flow control (window held while paused)
//   configure(handle, options)                  new limits for new connections (reload)
//   setCertificates(handle, [{cert, key}])      PEM buffers; the first is the default (no SNI match)
//   shutdown(handle)                            GOAWAY on every connection, no new connections
//   close(handle)                               CONNECTION_CLOSE to all, socket closed
//   stats(handle) -> object
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <nghttp3/nghttp3.h>

#define SCID_LEN 18
/** Connection ids one connection may have registered at once: ours (up to 8 active plus retiring ones) and the client's first. */
#define MAX_CIDS 24
/** Connection ids of the client's that we store (active_connection_id_limit). */
#define PEER_CIDS 7
#define BUCKETS 4096
#define RX_SIZE 65536
#define TX_PACKETS 16
#define TX_SIZE 1500
/** Datagrams read per readiness event before yielding to the rest of the event loop. */
#define RX_ROUNDS 64
#define SOCKET_BUFFER (4 * 1024 * 1024)
/** Unacknowledged response bytes per stream above which write() says "wait" (and below LOW, drain). */
#define HIGH_WATER (256 * 1024)
#define LOW_WATER (64 * 1024)
#define STREAM_WINDOW (256 * 1024)
#define CONN_WINDOW (1024 * 1024)
#define RETRY_TOKEN_TTL (10 * NGTCP2_SECONDS)
/** NEW_TOKEN tokens: a returning client skips the Retry round trip for this long. */
#define REGULAR_TOKEN_TTL (3600 * NGTCP2_SECONDS)
#define RESETS_PER_SECOND 1000

enum { EV_REQUEST = 1, EV_DATA = 2, EV_END = 3, EV_CLOSE = 4, EV_DRAIN = 5 };

static const char *PRIORITY =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";

typedef struct creds_s {
  gnutls_certificate_credentials_t cred;
  int refs;
} creds_t;

typedef struct chunk_s {
  struct chunk_s *next;
  size_t len;
  size_t given; /* bytes handed to nghttp3 */
  size_t acked; /* bytes acknowledged by the peer */
  uint8_t data[];
} chunk_t;

struct conn_s;
struct server_s;

typedef struct sref_s {
  struct stream_s *stream;
} sref_t;

typedef struct stream_s {
  struct stream_s *next, *prev;
  struct conn_s *conn;
  int64_t id;
  sref_t *sref;
  double jsid;
  /* request head, accumulated: u32 name length, name, u32 value length, value, ... */
  uint8_t *head;
  size_t head_len, head_cap, head_size;
  int head_too_large;
  int responded, eof, closed, want_drain, paused, close_queued;
  uint64_t held; /* request body bytes received while paused: window granted on resume */
  chunk_t *first, *last, *cursor;
  size_t unacked;
} stream_t;

typedef struct conn_s {
  struct conn_s *next, *prev;   /* all connections */
  struct conn_s *dirty_next;    /* dirty list */
  struct server_s *server;
  ngtcp2_conn *q;
  nghttp3_conn *h3;
  gnutls_session_t tls;
  creds_t *creds;
  ngtcp2_crypto_conn_ref ref;
  ngtcp2_path_storage ps;
  uv_timer_t timer;
  ngtcp2_cid cids[MAX_CIDS];
  int ncids;
  stream_t *streams;
  int nstreams;
  int dirty, dead, closing, draining, handshaken, goaway_sent, timer_closed;
  ngtcp2_connection_close_error ccerr;
  uint8_t *close_pkt;
  size_t close_len;
  char peer[INET6_ADDRSTRLEN];
  int peer_port;
} conn_t;

typedef struct cidnode_s {
  struct cidnode_s *next;
  ngtcp2_cid cid;
  conn_t *conn;
} cidnode_t;

typedef struct event_s {
  int type;
  stream_t *stream;
  uint8_t *data;
  size_t len;
  int fin;
} event_t;

typedef struct server_s {
  int fd, family, wildcard, closing, draining, poll_closed, check_closed, finalized;
  /** The bound address (a wildcard one's address part is replaced per datagram from IP_PKTINFO). */
  struct sockaddr_storage bound;
  socklen_t bound_len;
  uv_poll_t poll;
  uv_check_t check;
  napi_env env;
  napi_ref on_event;
  napi_async_context context;
  creds_t *creds;
  uint8_t secret[32];
  cidnode_t *buckets[BUCKETS];
  conn_t *conns;
  conn_t *dirty;
  int nconns, handshaking;
  event_t *events;
  size_t nevents, cap_events;
  int dispatching;
  /** close() was called from inside an event: done when the dispatch returns. */
  int close_pending;
  int ndead;
  double next_jsid;
  uv_idle_t idle;
  int idle_closed;
  /* limits */
  uint64_t max_streams;
  uint64_t idle_ms;
  size_t max_header_size;
  size_t qpack_capacity, qpack_blocked;
  int retry_mode; /* 0 never, 1 always, 2 under load */
  int retry_threshold;
  int max_connections;
  /* stateless reset rate limit */
  uint64_t reset_window_start;
  int resets_in_window;
  /* counters */
  double datagrams, dropped, retries, resets, refused, accepted;
  uint8_t rx[RX_SIZE];
  uint8_t tx[TX_PACKETS][TX_SIZE];
} server_t;

#define CALL(env, call)                                                        \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error((env), "ERR_SWITCHYARD_H3", "h3: " #call);             \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static uint64_t now_ns(void) { return uv_hrtime(); }

static void fill_random(uint8_t *dest, size_t len) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, dest, len) != 0) {
    for (size_t i = 0; i < len; i++) dest[i] = (uint8_t)rand();
  }
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[160];
  const char *name = strerrorname_np(err);
  snprintf(message, sizeof message, "%s %s: %s", what, name ? name : "E?", strerror(err));
  napi_throw_error(env, name ? name : "EIO", message);
  return NULL;
}

/* ------------------------------------------------------------------ connection ids */

static uint32_t cid_hash(const uint8_t *data, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ data[i]) * 16777619u;
  return h % BUCKETS;
}

static conn_t *cid_find(server_t *s, const uint8_t *data, size_t len) {
  for (cidnode_t *n = s->buckets[cid_hash(data, len)]; n; n = n->next) {
    if (n->cid.datalen == len && memcmp(n->cid.data, data, len) == 0) return n->conn;
  }
  return NULL;
}

/** Registers a connection id; -1 when the connection has no room left (the id is then not routable). */
static int cid_add(server_t *s, const ngtcp2_cid *cid, conn_t *c) {
  /* every id in the table is also in c->cids, so that freeing the connection removes them all */
  if (c->ncids >= MAX_CIDS) return -1;
  cidnode_t *n = malloc(sizeof *n);
  if (!n) return -1;
  n->cid = *cid;
  n->conn = c;
  uint32_t b = cid_hash(cid->data, cid->datalen);
  n->next = s->buckets[b];
  s->buckets[b] = n;
  c->cids[c->ncids++] = *cid;
  return 0;
}

static void cid_remove(server_t *s, const ngtcp2_cid *cid) {
  cidnode_t **p = &s->buckets[cid_hash(cid->data, cid->datalen)];
  while (*p) {
    if ((*p)->cid.datalen == cid->datalen && memcmp((*p)->cid.data, cid->data, cid->datalen) == 0) {
      cidnode_t *gone = *p;
      *p = gone->next;
      free(gone);
      return;
    }
    p = &(*p)->next;
  }
}

/* ------------------------------------------------------------------ events */

static void queue_event(server_t *s, int type, stream_t *st, const uint8_t *data, size_t len, int fin) {
  if (s->nevents == s->cap_events) {
    size_t cap = s->cap_events ? s->cap_events * 2 : 64;
    event_t *grown = realloc(s->events, cap * sizeof *grown);
    if (!grown) return;
    s->events = grown;
    s->cap_events = cap;
  }
  event_t *e = &s->events[s->nevents++];
  e->type = type;
  e->stream = st;
  e->data = NULL;
  e->len = len;
  e->fin = fin;
  if (data && len) {
    e->data = malloc(len);
    if (e->data) memcpy(e->data, data, len);
    else e->len = 0;
  }
}

static void on_check(uv_check_t *check);
static void on_idle(uv_idle_t *idle) { uv_idle_stop(idle); }

static void mark_dirty(conn_t *c) {
  if (c->dirty || c->dead) return;
  c->dirty = 1;
  c->dirty_next = c->server->dirty;
  c->server->dirty = c;
  /* the check handle writes after this loop turn's callbacks; the idle handle keeps the poll from blocking until then */
  uv_check_start(&c->server->check, on_check);
  uv_idle_start(&c->server->idle, on_idle);
}

/* ------------------------------------------------------------------ streams */

static stream_t *stream_new(conn_t *c, int64_t id) {
  stream_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->conn = c;
  st->id = id;
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  c->nstreams++;
  return st;
}

static void stream_free(stream_t *st) {
  conn_t *c = st->conn;
  if (st->prev) st->prev->next = st->next;
  else c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  c->nstreams--;
  if (st->sref) st->sref->stream = NULL;
  for (chunk_t *ch = st->first; ch;) {
    chunk_t *next = ch->next;
    free(ch);
    ch = next;
  }
  free(st->head);
  free(st);
}

static void head_append(stream_t *st, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen, size_t limit) {
  st->head_size += nlen + vlen + 32;
  if (st->head_size > limit) st->head_too_large = 1;
  if (st->head_too_large) return;
  size_t need = st->head_len + 8 + nlen + vlen;
  if (need > st->head_cap) {
    size_t cap = st->head_cap ? st->head_cap * 2 : 512;
    while (cap < need) cap *= 2;
    uint8_t *grown = realloc(st->head, cap);
    if (!grown) {
      st->head_too_large = 1;
      return;
    }
    st->head = grown;
    st->head_cap = cap;
  }
  uint32_t n32 = (uint32_t)nlen, v32 = (uint32_t)vlen;
  memcpy(st->head + st->head_len, &n32, 4);
  memcpy(st->head + st->head_len + 4, name, nlen);
  memcpy(st->head + st->head_len + 4 + nlen, &v32, 4);
  memcpy(st->head + st->head_len + 8 + nlen, value, vlen);
  st->head_len = need;
}

/* ------------------------------------------------------------------ nghttp3 callbacks */

static int h3_acked_stream_data(nghttp3_conn *h3, int64_t stream_id, uint64_t datalen, void *user, void *stream_user) {
  (void)h3; (void)stream_id; (void)user;
  stream_t *st = stream_user;
  if (!st) return 0;
  while (datalen > 0 && st->first) {
    chunk_t *ch = st->first;
    size_t take = ch->len - ch->acked;
    if (take > datalen) take = (size_t)datalen;
    ch->acked += take;
    datalen -= take;
    st->unacked -= take;
    if (ch->acked == ch->len) {
      st->first = ch->next;
      if (!st->first) st->last = NULL;
      if (st->cursor == ch) st->cursor = ch->next;
      free(ch);
    }
  }
  if (st->want_drain && st->unacked <= LOW_WATER) {
    st->want_drain = 0;
    queue_event(st->conn->server, EV_DRAIN, st, NULL, 0, 0);
  }
  return 0;
}

static int h3_stream_close(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user, void *stream_user) {
  (void)h3; (void)stream_id; (void)code;
  conn_t *c = user;
  stream_t *st = stream_user;
  if (!st) return 0;
  st->closed = 1;
  if (!st->close_queued) {
    st->close_queued = 1;
    queue_event(c->server, EV_CLOSE, st, NULL, 0, 0);
  }
  return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t stream_id, const uint8_t *data, size_t len, void *user, void *stream_user) {
  (void)h3;
  conn_t *c = user;
  stream_t *st = stream_user;
  if (st && st->paused) st->held += len;
  else {
    ngtcp2_conn_extend_max_stream_offset(c->q, stream_id, len);
    ngtcp2_conn_extend_max_offset(c->q, len);
  }
  if (st) queue_event(c->server, EV_DATA, st, data, len, 0);
  return 0;
}

static int h3_deferred_consume(nghttp3_conn *h3, int64_t stream_id, size_t consumed, void *user, void *stream_user) {
  (void)h3; (void)stream_user;
  conn_t *c = user;
  ngtcp2_conn_extend_max_stream_offset(c->q, stream_id, consumed);
  ngtcp2_conn_extend_max_offset(c->q, consumed);
  return 0;
}

static int h3_begin_headers(nghttp3_conn *h3, int64_t stream_id, void *user, void *stream_user) {
  (void)stream_user;
  conn_t *c = user;
  stream_t *st = stream_new(c, stream_id);
  if (!st) return NGHTTP3_ERR_CALLBACK_FAILURE;
  nghttp3_conn_set_stream_user_data(h3, stream_id, st);
  return 0;
}

static int h3_recv_header(nghttp3_conn *h3, int64_t stream_id, int32_t token, nghttp3_rcbuf *name, nghttp3_rcbuf *value, uint8_t flags, void *user, void *stream_user) {
  (void)h3; (void)stream_id; (void)token; (void)flags;
  conn_t *c = user;
  stream_t *st = stream_user;
  if (!st) return 0;
  nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
  head_append(st, n.base, n.len, v.base, v.len, c->server->max_header_size);
  return 0;
}

static int h3_end_headers(nghttp3_conn *h3, int64_t stream_id, int fin, void *user, void *stream_user) {
  (void)h3; (void)stream_id;
  conn_t *c = user;
  stream_t *st = stream_user;
  if (!st) return 0;
  queue_event(c->server, EV_REQUEST, st, NULL, 0, fin);
  return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t stream_id, void *user, void *stream_user) {
  (void)h3; (void)stream_id;
  conn_t *c = user;
  stream_t *st = stream_user;
  if (st) queue_event(c->server, EV_END, st, NULL, 0, 0);
  return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user, void *stream_user) {
  (void)h3; (void)stream_user;
  conn_t *c = user;
  ngtcp2_conn_shutdown_stream_read(c->q, stream_id, code);
  return 0;
}

static int h3_reset_stream(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user, void *stream_user) {
  (void)h3; (void)stream_user;
  conn_t *c = user;
  ngtcp2_conn_shutdown_stream_write(c->q, stream_id, code);
  return 0;
}

static nghttp3_ssize h3_read_data(nghttp3_conn *h3, int64_t stream_id, nghttp3_vec *vec, size_t veccnt, uint32_t *pflags, void *user, void *stream_user) {
  (void)h3; (void)stream_id; (void)user;
  stream_t *st = stream_user;
  if (!st) {
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 0;
  }
  size_t n = 0;
  while (st->cursor && n < veccnt) {
    chunk_t *ch = st->cursor;
    if (ch->given < ch->len) {
      vec[n].base = ch->data + ch->given;
      vec[n].len = ch->len - ch->given;
      ch->given = ch->len;
      n++;
    }
    st->cursor = ch->next;
  }
  if (!st->cursor && st->eof) *pflags |= NGHTTP3_DATA_FLAG_EOF;
  else if (n == 0) return NGHTTP3_ERR_WOULDBLOCK;
  return (nghttp3_ssize)n;
}

static nghttp3_data_reader data_reader = {h3_read_data};

static int setup_h3(conn_t *c) {
  if (c->h3) return 0;
  if (ngtcp2_conn_get_streams_uni_left(c->q) < 3) return -1;
  server_t *s = c->server;
  nghttp3_callbacks callbacks = {
    .acked_stream_data = h3_acked_stream_data,
    .stream_close = h3_stream_close,
    .recv_data = h3_recv_data,
    .deferred_consume = h3_deferred_consume,
    .begin_headers = h3_begin_headers,
    .recv_header = h3_recv_header,
    .end_headers = h3_end_headers,
    .stop_sending = h3_stop_sending,
    .end_stream = h3_end_stream,
    .reset_stream = h3_reset_stream,
  };
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.max_field_section_size = s->max_header_size;
  settings.qpack_max_dtable_capacity = s->qpack_capacity;
  settings.qpack_encoder_max_dtable_capacity = s->qpack_capacity;
  settings.qpack_blocked_streams = s->qpack_blocked;
  if (nghttp3_conn_server_new(&c->h3, &callbacks, &settings, NULL, c) != 0) return -1;
  nghttp3_conn_set_max_client_streams_bidi(c->h3, s->max_streams);
  int64_t ctrl, qenc, qdec;
  if (ngtcp2_conn_open_uni_stream(c->q, &ctrl, NULL) != 0 || nghttp3_conn_bind_control_stream(c->h3, ctrl) != 0) return -1;
  if (ngtcp2_conn_open_uni_stream(c->q, &qenc, NULL) != 0 || ngtcp2_conn_open_uni_stream(c->q, &qdec, NULL) != 0) return -1;
  if (nghttp3_conn_bind_qpack_streams(c->h3, qenc, qdec) != 0) return -1;
  if (s->draining) {
    nghttp3_conn_shutdown(c->h3);
    c->goaway_sent = 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ ngtcp2 callbacks */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref) { return ((conn_t *)ref->user_data)->q; }

static void q_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx) {
  (void)ctx;
  fill_random(dest, len);
}

static int q_get_new_connection_id(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user) {
  (void)q;
  conn_t *c = user;
  fill_random(cid->data, cidlen);
  cid->datalen = cidlen;
  if (ngtcp2_crypto_generate_stateless_reset_token(token, c->server->secret, sizeof c->server->secret, cid) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return cid_add(c->server, cid, c) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int q_remove_connection_id(ngtcp2_conn *q, const ngtcp2_cid *cid, void *user) {
  (void)q;
  conn_t *c = user;
  cid_remove(c->server, cid);
  for (int i = 0; i < c->ncids; i++) {
    if (ngtcp2_cid_eq(&c->cids[i], cid)) {
      c->cids[i] = c->cids[--c->ncids];
      break;
    }
  }
  return 0;
}

static int q_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t stream_id, uint64_t offset, const uint8_t *data, size_t len, void *user, void *stream_user) {
  (void)offset; (void)stream_user;
  conn_t *c = user;
  if (!c->h3 && setup_h3(c) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  nghttp3_ssize n = nghttp3_conn_read_stream(c->h3, stream_id, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
  if (n < 0) {
    ngtcp2_connection_close_error_set_application_error(&c->ccerr, nghttp3_err_infer_quic_app_error_code((int)n), NULL, 0);
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  ngtcp2_conn_extend_max_stream_offset(q, stream_id, (uint64_t)n);
  ngtcp2_conn_extend_max_offset(q, (uint64_t)n);
  return 0;
}

static int q_acked_stream_data_offset(ngtcp2_conn *q, int64_t stream_id, uint64_t offset, uint64_t datalen, void *user, void *stream_user) {
  (void)q; (void)offset; (void)stream_user;
  conn_t *c = user;
  if (c->h3 && nghttp3_conn_add_ack_offset(c->h3, stream_id, datalen) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int q_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t stream_id, uint64_t code, void *user, void *stream_user) {
  (void)stream_user;
  conn_t *c = user;
  if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = NGHTTP3_H3_NO_ERROR;
  if (c->h3) {
    int rv = nghttp3_conn_close_stream(c->h3, stream_id, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      ngtcp2_connection_close_error_set_application_error(&c->ccerr, nghttp3_err_infer_quic_app_error_code(rv), NULL, 0);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  }
  /* a client bidirectional stream: the client may open one more */
  if ((stream_id & 0x3) == 0) ngtcp2_conn_extend_max_streams_bidi(q, 1);
  return 0;
}

static int q_stream_reset(ngtcp2_conn *q, int64_t stream_id, uint64_t final_size, uint64_t code, void *user, void *stream_user) {
  (void)q; (void)final_size; (void)code; (void)stream_user;
  conn_t *c = user;
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int q_stream_stop_sending(ngtcp2_conn *q, int64_t stream_id, uint64_t code, void *user, void *stream_user) {
  (void)q; (void)code; (void)stream_user;
  conn_t *c = user;
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int q_extend_max_remote_streams_bidi(ngtcp2_conn *q, uint64_t max_streams, void *user) {
  (void)q;
  conn_t *c = user;
  if (c->h3) nghttp3_conn_set_max_client_streams_bidi(c->h3, max_streams);
  return 0;
}

static int q_extend_max_stream_data(ngtcp2_conn *q, int64_t stream_id, uint64_t max_data, void *user, void *stream_user) {
  (void)q; (void)max_data; (void)stream_user;
  conn_t *c = user;
  if (c->h3 && nghttp3_conn_unblock_stream(c->h3, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int q_handshake_completed(ngtcp2_conn *q, void *user) {
  conn_t *c = user;
  server_t *s = c->server;
  if (!c->handshaken) {
    c->handshaken = 1;
    s->handshaking--;
  }
  /* NEW_TOKEN: the client's next connection from this address is validated without a Retry round trip */
  uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
  const ngtcp2_path *path = ngtcp2_conn_get_path(q);
  ngtcp2_ssize n = ngtcp2_crypto_generate_regular_token(token, s->secret, sizeof s->secret, path->remote.addr, path->remote.addrlen, now_ns());
  if (n > 0) ngtcp2_conn_submit_new_token(q, token, (size_t)n);
  return setup_h3(c) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

/* ------------------------------------------------------------------ sending */

static void send_packet(server_t *s, const ngtcp2_path *path, const uint8_t *data, size_t len) {
  struct iovec iov = {(void *)data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = path->remote.addr;
  msg.msg_namelen = path->remote.addrlen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  uint8_t control[CMSG_SPACE(sizeof(struct in6_pktinfo))];
  if (s->wildcard) {
    /* answer from the address the client sent to (a wildcard socket would pick the route's address) */
    memset(control, 0, sizeof control);
    msg.msg_control = control;
    struct cmsghdr *cm = (struct cmsghdr *)control;
    if (path->local.addr->sa_family == AF_INET) {
      msg.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
      cm->cmsg_level = IPPROTO_IP;
      cm->cmsg_type = IP_PKTINFO;
      cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
      struct in_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      pi.ipi_spec_dst = ((struct sockaddr_in *)path->local.addr)->sin_addr;
      memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    } else {
      msg.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
      cm->cmsg_level = IPPROTO_IPV6;
      cm->cmsg_type = IPV6_PKTINFO;
      cm->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
      struct in6_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      pi.ipi6_addr = ((struct sockaddr_in6 *)path->local.addr)->sin6_addr;
      memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    }
  }
  /* a full send buffer drops the packet: QUIC's loss recovery sends it again */
  sendmsg(s->fd, &msg, MSG_DONTWAIT);
}

static void conn_schedule(conn_t *c);
static void conn_kill(conn_t *c);

/** Enters the closing period with a CONNECTION_CLOSE (ccerr), or drops the connection when none can be written. */
static void conn_close_with_error(conn_t *c) {
  if (c->closing || c->draining || c->dead) return;
  if (ngtcp2_conn_is_in_closing_period(c->q) || ngtcp2_conn_is_in_draining_period(c->q)) {
    c->draining = 1;
    conn_schedule(c);
    return;
  }
  c->closing = 1;
  uint8_t buf[TX_SIZE];
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->q, &ps.path, &pi, buf, sizeof buf, &c->ccerr, now_ns());
  if (n <= 0) {
    conn_kill(c);
    return;
  }
  c->close_pkt = malloc((size_t)n);
  if (c->close_pkt) {
    memcpy(c->close_pkt, buf, (size_t)n);
    c->close_len = (size_t)n;
  }
  send_packet(c->server, &ps.path, buf, (size_t)n);
  conn_schedule(c);
}

/** Writes every packet the connection has to send now (up to the congestion controller's quantum). */
static void conn_write(conn_t *c) {
  if (c->dead || c->closing || c->draining) return;
  server_t *s = c->server;
  uint64_t ts = now_ns();
  size_t max = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->q);
  if (max > TX_SIZE) max = TX_SIZE;
  size_t quantum = ngtcp2_conn_get_send_quantum(c->q) / max;
  if (quantum < 1) quantum = 1;
  if (quantum > 64) quantum = 64;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  for (size_t sent = 0; sent < quantum;) {
    int64_t stream_id = -1;
    int fin = 0;
    nghttp3_vec vec[16];
    nghttp3_ssize sveccnt = 0;
    if (c->h3 && ngtcp2_conn_get_max_data_left(c->q)) {
      sveccnt = nghttp3_conn_writev_stream(c->h3, &stream_id, &fin, vec, 16);
      if (sveccnt < 0) {
        ngtcp2_connection_close_error_set_application_error(&c->ccerr, nghttp3_err_infer_quic_app_error_code((int)sveccnt), NULL, 0);
        conn_close_with_error(c);
        return;
      }
    }
    ngtcp2_ssize ndatalen = -1;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(c->q, &ps.path, &pi, s->tx[0], max, &ndatalen, flags, stream_id, (const ngtcp2_vec *)vec, (size_t)sveccnt, ts);
    if (n < 0) {
      switch (n) {
      case NGTCP2_ERR_STREAM_DATA_BLOCKED:
        nghttp3_conn_block_stream(c->h3, stream_id);
        continue;
      case NGTCP2_ERR_STREAM_SHUT_WR:
        nghttp3_conn_shutdown_stream_write(c->h3, stream_id);
        continue;
      case NGTCP2_ERR_WRITE_MORE:
        if (nghttp3_conn_add_write_offset(c->h3, stream_id, (size_t)ndatalen) != 0) goto fail;
        continue;
      default:
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->ccerr, (int)n, NULL, 0);
        conn_close_with_error(c);
        return;
      }
    }
    if (ndatalen >= 0 && nghttp3_conn_add_write_offset(c->h3, stream_id, (size_t)ndatalen) != 0) goto fail;
    if (n == 0) break;
    send_packet(s, &ps.path, s->tx[0], (size_t)n);
    sent++;
  }
  ngtcp2_conn_update_pkt_tx_time(c->q, ts);
  conn_schedule(c);
  return;
fail:
  ngtcp2_connection_close_error_set_application_error(&c->ccerr, NGHTTP3_H3_INTERNAL_ERROR, NULL, 0);
  conn_close_with_error(c);
}

/* ------------------------------------------------------------------ timers and lifetime */

static void on_timer(uv_timer_t *timer);

static void conn_schedule(conn_t *c) {
  if (c->dead) return;
  uint64_t now = now_ns();
  uint64_t ms;
  if (c->closing || c->draining) {
    ms = 3 * ngtcp2_conn_get_pto(c->q) / NGTCP2_MILLISECONDS + 1;
    if (!uv_is_active((uv_handle_t *)&c->timer)) uv_timer_start(&c->timer, on_timer, ms, 0);
    return;
  }
  uint64_t expiry = ngtcp2_conn_get_expiry(c->q);
  ms = expiry <= now ? 0 : (expiry - now + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS;
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_timer_closed(uv_handle_t *handle) { free(handle->data); }

/** Frees the connection. Its streams' closes go to JavaScript first (queued: the next dispatch delivers them). */
static void conn_kill(conn_t *c) {
  if (c->dead) return;
  c->dead = 1;
  server_t *s = c->server;
  s->ndead++;
  for (stream_t *st = c->streams; st; st = st->next) {
    st->closed = 1;
    if (!st->close_queued) {
      st->close_queued = 1;
      queue_event(s, EV_CLOSE, st, NULL, 0, 0);
    }
  }
  if (!c->handshaken) s->handshaking--;
}

/** After the events of a dead connection are delivered: the memory goes. */
static void conn_free(conn_t *c) {
  server_t *s = c->server;
  while (c->streams) stream_free(c->streams);
  for (int i = 0; i < c->ncids; i++) cid_remove(s, &c->cids[i]);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  if (c->h3) nghttp3_conn_del(c->h3);
  if (c->q) ngtcp2_conn_del(c->q);
  if (c->tls) gnutls_deinit(c->tls);
  if (c->creds && --c->creds->refs == 0) {
    gnutls_certificate_free_credentials(c->creds->cred);
    free(c->creds);
  }
  free(c->close_pkt);
  uv_timer_stop(&c->timer);
  c->timer.data = c;
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void dispatch_events(server_t *s);
static void server_close(server_t *s);

static void on_timer(uv_timer_t *timer) {
  conn_t *c = timer->data;
  if (c->dead) return;
  server_t *s = c->server;
  if (c->closing || c->draining) {
    conn_kill(c);
  } else {
    int rv = ngtcp2_conn_handle_expiry(c->q, now_ns());
    if (rv != 0) {
      if (rv == NGTCP2_ERR_IDLE_CLOSE) conn_kill(c);
      else {
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->ccerr, rv, NULL, 0);
        conn_close_with_error(c);
      }
    } else {
      conn_write(c);
    }
  }
  dispatch_events(s);
}

/* ------------------------------------------------------------------ receiving */

static void send_stateless_reset(server_t *s, const ngtcp2_path *path, const uint8_t *dcid, size_t dcidlen, size_t received) {
  /* bounded: never more than RESETS_PER_SECOND, and always smaller than what triggered it (no amplification) */
  uint64_t now = now_ns();
  if (now - s->reset_window_start > NGTCP2_SECONDS) {
    s->reset_window_start = now;
    s->resets_in_window = 0;
  }
  if (s->resets_in_window >= RESETS_PER_SECOND) return;
  if (received < 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN + 1) return;
  size_t randlen = received - 1 - NGTCP2_STATELESS_RESET_TOKENLEN - 1;
  if (randlen > 40) randlen = 40;
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, dcid, dcidlen);
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN], rnd[64], buf[128];
  if (ngtcp2_crypto_generate_stateless_reset_token(token, s->secret, sizeof s->secret, &cid) != 0) return;
  fill_random(rnd, randlen);
  ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(buf, sizeof buf, token, rnd, randlen);
  if (n <= 0) return;
  s->resets_in_window++;
  s->resets++;
  send_packet(s, path, buf, (size_t)n);
}

static void send_retry(server_t *s, const ngtcp2_pkt_hd *hd, const ngtcp2_path *path) {
  uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN], buf[TX_SIZE];
  ngtcp2_cid scid;
  scid.datalen = SCID_LEN;
  fill_random(scid.data, SCID_LEN);
  ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token(token, s->secret, sizeof s->secret, hd->version, path->remote.addr, path->remote.addrlen, &scid, &hd->dcid, now_ns());
  if (tokenlen < 0) return;
  ngtcp2_ssize n = ngtcp2_crypto_write_retry(buf, sizeof buf, hd->version, &hd->scid, &scid, &hd->dcid, token, (size_t)tokenlen);
  if (n <= 0) return;
  s->retries++;
  send_packet(s, path, buf, (size_t)n);
}

static void send_refusal(server_t *s, const ngtcp2_pkt_hd *hd, const ngtcp2_path *path, uint64_t code) {
  uint8_t buf[TX_SIZE];
  ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(buf, sizeof buf, hd->version, &hd->scid, &hd->dcid, code, NULL, 0);
  if (n > 0) send_packet(s, path, buf, (size_t)n);
}

static void peer_text(conn_t *c, const struct sockaddr *addr) {
  if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &a->sin6_addr, c->peer, sizeof c->peer);
    c->peer_port = ntohs(a->sin6_port);
    if (strncmp(c->peer, "::ffff:", 7) == 0 && strchr(c->peer + 7, '.')) memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &a->sin_addr, c->peer, sizeof c->peer);
    c->peer_port = ntohs(a->sin_port);
  }
}

/** `validated`: the Initial carried a token this server made for this address (a Retry's or a NEW_TOKEN's). */
static conn_t *conn_accept(server_t *s, const ngtcp2_pkt_hd *hd, const ngtcp2_path *path, const ngtcp2_cid *odcid, int retried, int validated) {
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->server = s;
  c->ref.get_conn = get_conn;
  c->ref.user_data = c;
  ngtcp2_connection_close_error_default(&c->ccerr);
  ngtcp2_path_storage_init(&c->ps, path->local.addr, path->local.addrlen, path->remote.addr, path->remote.addrlen, NULL);
  peer_text(c, path->remote.addr);

  ngtcp2_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.handshake_completed = q_handshake_completed;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_stream_data = q_recv_stream_data;
  cb.acked_stream_data_offset = q_acked_stream_data_offset;
  cb.stream_close = q_stream_close;
  cb.rand = q_rand;
  cb.get_new_connection_id = q_get_new_connection_id;
  cb.remove_connection_id = q_remove_connection_id;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.stream_reset = q_stream_reset;
  cb.extend_max_remote_streams_bidi = q_extend_max_remote_streams_bidi;
  cb.extend_max_stream_data = q_extend_max_stream_data;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.stream_stop_sending = q_stream_stop_sending;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now_ns();
  settings.max_stream_window = 6 * STREAM_WINDOW;
  settings.max_window = 6 * CONN_WINDOW;
  /* a token given to ngtcp2 marks the path validated (no anti-amplification limit): only a verified one */
  if (validated) settings.token = hd->token;
  settings.handshake_timeout = 10 * NGTCP2_SECONDS;

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = STREAM_WINDOW;
  params.initial_max_stream_data_bidi_remote = STREAM_WINDOW;
  params.initial_max_stream_data_uni = STREAM_WINDOW;
  params.initial_max_data = CONN_WINDOW;
  params.initial_max_streams_bidi = s->max_streams;
  params.initial_max_streams_uni = 3;
  params.max_idle_timeout = s->idle_ms * NGTCP2_MILLISECONDS;
  params.active_connection_id_limit = PEER_CIDS;
  params.stateless_reset_token_present = 1;
  params.original_dcid = *odcid;
  if (retried) {
    params.retry_scid = hd->dcid;
    params.retry_scid_present = 1;
  }
  ngtcp2_cid scid;
  scid.datalen = SCID_LEN;
  fill_random(scid.data, SCID_LEN);
  if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, s->secret, sizeof s->secret, &scid) != 0) goto fail;

  if (ngtcp2_conn_server_new(&c->q, &hd->scid, &scid, path, hd->version, &cb, &settings, &params, NULL, c) != 0) goto fail;

  if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
    c->tls = NULL;
    goto fail;
  }
  if (gnutls_priority_set_direct(c->tls, PRIORITY, NULL) != 0) goto fail;
  if (ngtcp2_crypto_gnutls_configure_server_session(c->tls) != 0) goto fail;
  c->creds = s->creds;
  c->creds->refs++;
  if (gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->creds->cred) != 0) goto fail;
  gnutls_datum_t alpn = {(unsigned char *)"h3", 2};
  if (gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) goto fail;
  gnutls_session_set_ptr(c->tls, &c->ref);
  ngtcp2_conn_set_tls_native_handle(c->q, c->tls);

  uv_loop_t *loop;
  napi_get_uv_event_loop(s->env, &loop);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;

  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  s->handshaking++;
  s->accepted++;
  cid_add(s, &scid, c);
  /* the client's own DCID finds the connection until it switches to ours (retransmitted Initials) */
  cid_add(s, &hd->dcid, c);
  return c;
fail:
  if (c->q) ngtcp2_conn_del(c->q);
  if (c->tls) gnutls_deinit(c->tls);
  if (c->creds && --c->creds->refs == 0) {
    gnutls_certificate_free_credentials(c->creds->cred);
    free(c->creds);
  }
  free(c);
  return NULL;
}

static int retry_needed(server_t *s) {
  return s->retry_mode == 1 || (s->retry_mode == 2 && s->handshaking >= s->retry_threshold);
}

static void on_datagram(server_t *s, uint8_t *data, size_t len, const ngtcp2_path *path) {
  s->datagrams++;
  ngtcp2_version_cid vc;
  int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, SCID_LEN);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
    if (len < NGTCP2_MAX_UDP_PAYLOAD_SIZE) return;
    uint8_t buf[256];
    uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    uint8_t unused;
    fill_random(&unused, 1);
    ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(buf, sizeof buf, unused, vc.scid, vc.scidlen, vc.dcid, vc.dcidlen, versions, 1);
    if (n > 0) send_packet(s, path, buf, (size_t)n);
    return;
  }
  if (rv != 0) {
    s->dropped++;
    return;
  }
  conn_t *c = cid_find(s, vc.dcid, vc.dcidlen);
  if (c && c->dead) return;
  if (!c) {
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, data, len) != 0) {
      /* a short-header packet for a connection this socket does not know: tell the client it is gone */
      if (!(data[0] & 0x80) && vc.dcidlen == SCID_LEN) send_stateless_reset(s, path, vc.dcid, vc.dcidlen, len);
      else s->dropped++;
      return;
    }
    if (s->draining || s->closing || (s->max_connections > 0 && s->nconns >= s->max_connections)) {
      s->refused++;
      send_refusal(s, &hd, path, NGTCP2_CONNECTION_REFUSED);
      return;
    }
    ngtcp2_cid odcid = hd.dcid;
    int retried = 0, validated = 0;
    if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
      if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, s->secret, sizeof s->secret, hd.version, path->remote.addr, path->remote.addrlen, &hd.dcid, RETRY_TOKEN_TTL, now_ns()) != 0) {
        send_refusal(s, &hd, path, NGTCP2_INVALID_TOKEN);
        return;
      }
      retried = validated = 1;
    } else if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR) {
      /* a NEW_TOKEN token from an earlier connection; a stale or foreign one just counts as none */
      validated = ngtcp2_crypto_verify_regular_token(hd.token.base, hd.token.len, s->secret, sizeof s->secret, path->remote.addr, path->remote.addrlen, REGULAR_TOKEN_TTL, now_ns()) == 0;
    }
    if (!validated && retry_needed(s)) {
      /* address validation: the client proves it receives at its address before any state is kept */
      send_retry(s, &hd, path);
      return;
    }
    c = conn_accept(s, &hd, path, &odcid, retried, validated);
    if (!c) return;
  }
  if (c->closing) {
    if (c->close_pkt) send_packet(s, &c->ps.path, c->close_pkt, c->close_len);
    return;
  }
  if (c->draining) return;
  ngtcp2_pkt_info pi = {0};
  rv = ngtcp2_conn_read_pkt(c->q, path, &pi, data, len, now_ns());
  if (rv != 0) {
    switch (rv) {
    case NGTCP2_ERR_DRAINING:
      c->draining = 1;
      conn_schedule(c);
      return;
    case NGTCP2_ERR_RETRY:
    case NGTCP2_ERR_DROP_CONN:
      conn_kill(c);
      return;
    case NGTCP2_ERR_CRYPTO:
      if (!c->ccerr.error_code) ngtcp2_connection_close_error_set_transport_error_tls_alert(&c->ccerr, ngtcp2_conn_get_tls_alert(c->q), NULL, 0);
      conn_close_with_error(c);
      return;
    default:
      if (!c->ccerr.error_code) ngtcp2_connection_close_error_set_transport_error_liberr(&c->ccerr, rv, NULL, 0);
      conn_close_with_error(c);
      return;
    }
  }
  mark_dirty(c);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  server_t *s = poll->data;
  (void)events;
  if (status < 0 || s->closing) return;
  for (int round = 0; round < RX_ROUNDS && !s->closing; round++) {
    struct sockaddr_storage remote, local;
    struct iovec iov = {s->rx, sizeof s->rx};
    uint8_t control[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &remote;
    msg.msg_namelen = sizeof remote;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (n < 0) break;
    if (n == 0 || (msg.msg_flags & MSG_TRUNC)) continue;
    /* the local address: the socket's, or (wildcard bind) the one the datagram was sent to */
    socklen_t local_len = s->bound_len;
    memcpy(&local, &s->bound, sizeof local);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO && local.ss_family == AF_INET) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        ((struct sockaddr_in *)&local)->sin_addr = pi.ipi_addr;
      } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO && local.ss_family == AF_INET6) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        ((struct sockaddr_in6 *)&local)->sin6_addr = pi.ipi6_addr;
      }
    }
    ngtcp2_path path;
    path.local.addr = (ngtcp2_sockaddr *)&local;
    path.local.addrlen = local_len;
    path.remote.addr = (ngtcp2_sockaddr *)&remote;
    path.remote.addrlen = msg.msg_namelen;
    path.user_data = NULL;
    on_datagram(s, s->rx, (size_t)n, &path);
    if (s->nevents > 0 || s->ndead > 0) dispatch_events(s);
  }
}

/* ------------------------------------------------------------------ to JavaScript */

static void sref_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  sref_t *r = data;
  if (r->stream) r->stream->sref = NULL;
  free(r);
}

static napi_value head_array(napi_env env, stream_t *st) {
  napi_value array, value;
  uint32_t count = 0;
  if (napi_create_array(env, &array) != napi_ok) return NULL;
  for (size_t at = 0; at + 4 <= st->head_len;) {
    uint32_t len;
    memcpy(&len, st->head + at, 4);
    napi_create_string_latin1(env, (const char *)st->head + at + 4, len, &value);
    napi_set_element(env, array, count++, value);
    at += 4 + len;
  }
  return array;
}

static void call_js(server_t *s, napi_value *argv, size_t argc) {
  napi_env env = s->env;
  napi_value callback, global, result;
  napi_get_reference_value(env, s->on_event, &callback);
  napi_get_global(env, &global);
  if (napi_make_callback(env, s->context, global, callback, argc, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

/** Delivers the queued events to JavaScript, then frees closed streams and dead connections. */
static void dispatch_events(server_t *s) {
  if (s->dispatching) return;
  s->dispatching = 1;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  /* s->nevents is read each turn: JavaScript's calls may queue more (a close kills connections) */
  for (size_t i = 0; i < s->nevents; i++) {
    event_t ev = s->events[i];
    stream_t *st = ev.stream;
    if (s->on_event != NULL) {
      napi_handle_scope inner;
      napi_open_handle_scope(env, &inner);
      napi_value argv[6];
      size_t argc = 0;
      napi_create_int32(env, ev.type, &argv[0]);
      if (ev.type == EV_REQUEST) {
        sref_t *r = st->closed ? NULL : malloc(sizeof *r);
        if (r) {
          r->stream = st;
          st->sref = r;
          st->jsid = ++s->next_jsid;
          napi_create_double(env, st->jsid, &argv[1]);
          napi_create_external(env, r, sref_finalize, NULL, &argv[2]);
          argv[3] = head_array(env, st);
          napi_value flags[4];
          napi_get_boolean(env, ev.fin, &flags[0]);
          napi_get_boolean(env, st->head_too_large, &flags[1]);
          napi_create_string_latin1(env, st->conn->peer, NAPI_AUTO_LENGTH, &flags[2]);
          napi_create_int32(env, st->conn->peer_port, &flags[3]);
          argv[4] = flags[0];
          argv[5] = flags[1];
          napi_value peer;
          napi_create_array_with_length(env, 2, &peer);
          napi_set_element(env, peer, 0, flags[2]);
          napi_set_element(env, peer, 1, flags[3]);
          /* (type, id, stream, head, fin, tooLarge, [address, port]) */
          napi_value args[7] = {argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], peer};
          free(st->head);
          st->head = NULL;
          st->head_len = st->head_cap = 0;
          call_js(s, args, 7);
        }
      } else if (st->sref) {
        /* JavaScript saw the stream: it finds it again by id */
        napi_create_double(env, st->jsid, &argv[1]);
        argc = 2;
        if (ev.type == EV_DATA) {
          void *copy;
          napi_create_buffer_copy(env, ev.len, ev.data ? (void *)ev.data : (void *)"", &copy, &argv[2]);
          argc = 3;
        }
        call_js(s, argv, argc);
      }
      napi_close_handle_scope(env, inner);
    }
    free(ev.data);
    if (ev.type == EV_CLOSE) {
      conn_t *c = st->conn;
      stream_free(st);
      /* draining: a connection whose last stream ended closes */
      if (s->draining && c->nstreams == 0 && c->goaway_sent && !c->dead && !c->closing && !c->draining) {
        ngtcp2_connection_close_error_set_application_error(&c->ccerr, NGHTTP3_H3_NO_ERROR, NULL, 0);
        conn_close_with_error(c);
      }
    }
  }
  s->nevents = 0;
  napi_close_handle_scope(env, scope);
  if (s->ndead > 0) {
    for (conn_t *c = s->conns; c;) {
      conn_t *next = c->next;
      if (c->dead) conn_free(c);
      c = next;
    }
    s->ndead = 0;
  }
  s->dispatching = 0;
  if (s->close_pending) server_close(s);
  else if (s->nevents > 0) dispatch_events(s);
}

static void on_check(uv_check_t *check) {
  server_t *s = check->data;
  uv_check_stop(check);
  uv_idle_stop(&s->idle);
  while (s->dirty) {
    conn_t *c = s->dirty;
    s->dirty = c->dirty_next;
    c->dirty = 0;
    conn_write(c);
  }
  if (s->nevents > 0 || s->ndead > 0) dispatch_events(s);
}

/* ------------------------------------------------------------------ JavaScript API */

static stream_t *stream_arg(napi_env env, napi_value value) {
  sref_t *r = NULL;
  if (napi_get_value_external(env, value, (void **)&r) != napi_ok || r == NULL) return NULL;
  stream_t *st = r->stream;
  if (!st || st->closed || st->conn->dead || st->conn->closing || st->conn->draining || !st->conn->h3) return NULL;
  return st;
}

static int nv_from_array(napi_env env, napi_value array, nghttp3_nv **pnv, size_t *pcount, char **pstore, const char *status) {
  uint32_t len = 0;
  napi_get_array_length(env, array, &len);
  size_t pairs = len / 2 + (status ? 1 : 0);
  nghttp3_nv *nv = calloc(pairs ? pairs : 1, sizeof *nv);
  size_t total = 0;
  for (uint32_t i = 0; i < len; i++) {
    napi_value v;
    size_t n = 0;
    napi_get_element(env, array, i, &v);
    napi_get_value_string_latin1(env, v, NULL, 0, &n);
    total += n + 1;
  }
  char *store = malloc(total + 1);
  if (!nv || !store) {
    free(nv);
    free(store);
    return -1;
  }
  size_t k = 0, at = 0;
  if (status) {
    nv[k].name = (uint8_t *)":status";
    nv[k].namelen = 7;
    nv[k].value = (uint8_t *)status;
    nv[k].valuelen = strlen(status);
    nv[k].flags = NGHTTP3_NV_FLAG_NONE;
    k++;
  }
  for (uint32_t i = 0; i + 1 < len; i += 2) {
    napi_value name, value;
    size_t nlen, vlen;
    napi_get_element(env, array, i, &name);
    napi_get_element(env, array, i + 1, &value);
    napi_get_value_string_latin1(env, name, store + at, total - at + 1, &nlen);
    char *np = store + at;
    at += nlen + 1;
    napi_get_value_string_latin1(env, value, store + at, total - at + 1, &vlen);
    char *vp = store + at;
    at += vlen + 1;
    nv[k].name = (uint8_t *)np;
    nv[k].namelen = nlen;
    nv[k].value = (uint8_t *)vp;
    nv[k].valuelen = vlen;
    nv[k].flags = NGHTTP3_NV_FLAG_NONE;
    k++;
  }
  *pnv = nv;
  *pcount = k;
  *pstore = store;
  return 0;
}

static napi_value js_respond(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (!st || st->responded) return NULL;
  int32_t status;
  CALL(env, napi_get_value_int32(env, argv[1], &status));
  char text[8];
  snprintf(text, sizeof text, "%d", status);
  nghttp3_nv *nv;
  size_t count;
  char *store;
  if (nv_from_array(env, argv[2], &nv, &count, &store, text) != 0) return NULL;
  st->responded = 1;
  int rv = nghttp3_conn_submit_response(st->conn->h3, st->id, nv, count, &data_reader);
  free(nv);
  free(store);
  if (rv != 0) ngtcp2_conn_shutdown_stream(st->conn->q, st->id, NGHTTP3_H3_INTERNAL_ERROR);
  mark_dirty(st->conn);
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (!st || st->eof) {
    napi_get_boolean(env, true, &result);
    return result;
  }
  void *data;
  size_t len;
  CALL(env, napi_get_buffer_info(env, argv[1], &data, &len));
  if (len > 0) {
    chunk_t *ch = malloc(sizeof *ch + len);
    if (!ch) return NULL;
    ch->next = NULL;
    ch->len = len;
    ch->given = 0;
    ch->acked = 0;
    memcpy(ch->data, data, len);
    if (st->last) st->last->next = ch;
    else st->first = ch;
    st->last = ch;
    if (!st->cursor) st->cursor = ch;
    st->unacked += len;
    nghttp3_conn_resume_stream(st->conn->h3, st->id);
    mark_dirty(st->conn);
  }
  int ok = st->unacked < HIGH_WATER;
  if (!ok) st->want_drain = 1;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value js_end(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (!st || st->eof) return NULL;
  st->eof = 1;
  napi_valuetype type = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &type);
  if (type == napi_object) {
    nghttp3_nv *nv;
    size_t count;
    char *store;
    if (nv_from_array(env, argv[1], &nv, &count, &store, NULL) == 0) {
      if (count > 0) nghttp3_conn_submit_trailers(st->conn->h3, st->id, nv, count);
      free(nv);
      free(store);
    }
  }
  nghttp3_conn_resume_stream(st->conn->h3, st->id);
  mark_dirty(st->conn);
  return NULL;
}

static napi_value js_reset(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (!st) return NULL;
  int64_t code = NGHTTP3_H3_INTERNAL_ERROR;
  if (argc > 1) napi_get_value_int64(env, argv[1], &code);
  st->eof = 1;
  ngtcp2_conn_shutdown_stream(st->conn->q, st->id, (uint64_t)code);
  mark_dirty(st->conn);
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (st) st->paused = 1;
  return NULL;
}

static napi_value js_resume(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  stream_t *st = stream_arg(env, argv[0]);
  if (!st || !st->paused) return NULL;
  st->paused = 0;
  if (st->held > 0) {
    ngtcp2_conn_extend_max_stream_offset(st->conn->q, st->id, st->held);
    ngtcp2_conn_extend_max_offset(st->conn->q, st->held);
    st->held = 0;
    mark_dirty(st->conn);
  }
  return NULL;
}

static server_t *server_arg(napi_env env, napi_value value) {
  server_t *s = NULL;
  if (napi_get_value_external(env, value, (void **)&s) != napi_ok || s == NULL || s->closing) {
    napi_throw_error(env, "ERR_SWITCHYARD_H3", "h3: closed or not a handle");
    return NULL;
  }
  return s;
}

/** [{cert, key}] (PEM buffers) → one credentials object; GnuTLS picks the certificate by SNI, the first by default. */
static creds_t *creds_from(napi_env env, napi_value array, char *error, size_t error_len) {
  creds_t *cr = calloc(1, sizeof *cr);
  if (!cr) return NULL;
  if (gnutls_certificate_allocate_credentials(&cr->cred) != 0) {
    free(cr);
    return NULL;
  }
  uint32_t len = 0;
  napi_get_array_length(env, array, &len);
  for (uint32_t i = 0; i < len; i++) {
    napi_value pair, cert, key;
    void *cdata, *kdata;
    size_t clen, klen;
    napi_get_element(env, array, i, &pair);
    napi_get_named_property(env, pair, "cert", &cert);
    napi_get_named_property(env, pair, "key", &key);
    if (napi_get_buffer_info(env, cert, &cdata, &clen) != napi_ok || napi_get_buffer_info(env, key, &kdata, &klen) != napi_ok) continue;
    gnutls_datum_t c = {cdata, (unsigned)clen}, k = {kdata, (unsigned)klen};
    int rv = gnutls_certificate_set_x509_key_mem2(cr->cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rv < 0) {
      snprintf(error, error_len, "h3: certificate %u: %s", i, gnutls_strerror(rv));
      gnutls_certificate_free_credentials(cr->cred);
      free(cr);
      return NULL;
    }
  }
  cr->refs = 1;
  return cr;
}

static int32_t int_prop(napi_env env, napi_value object, const char *name, int32_t fallback) {
  napi_value v;
  int32_t out = fallback;
  bool has = false;
  if (napi_has_named_property(env, object, name, &has) != napi_ok || !has) return fallback;
  napi_get_named_property(env, object, name, &v);
  if (napi_get_value_int32(env, v, &out) != napi_ok) return fallback;
  return out;
}

static void server_maybe_free(server_t *s) {
  if (s->poll_closed && s->check_closed && s->idle_closed && s->finalized) free(s);
}

/** The limits new connections take (a reload changes them; open connections keep what they announced). */
static void set_limits(napi_env env, server_t *s, napi_value options) {
  s->max_streams = (uint64_t)int_prop(env, options, "maxStreams", 100);
  s->idle_ms = (uint64_t)int_prop(env, options, "idleMs", 30000);
  s->max_header_size = (size_t)int_prop(env, options, "maxHeaderSize", 16384);
  s->qpack_capacity = (size_t)int_prop(env, options, "qpackCapacity", 4096);
  s->qpack_blocked = (size_t)int_prop(env, options, "qpackBlocked", 100);
  s->retry_mode = int_prop(env, options, "retry", 2);
  s->retry_threshold = int_prop(env, options, "retryThreshold", 100);
  s->max_connections = int_prop(env, options, "maxConnections", 0);
}

static napi_value js_configure(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_arg(env, argv[0]);
  if (s) set_limits(env, s, argv[1]);
  return NULL;
}

static void on_check_closed(uv_handle_t *handle) {
  server_t *s = handle->data;
  s->check_closed = 1;
  server_maybe_free(s);
}

static void on_idle_closed(uv_handle_t *handle) {
  server_t *s = handle->data;
  s->idle_closed = 1;
  server_maybe_free(s);
}

static void on_poll_closed(uv_handle_t *handle) {
  server_t *s = handle->data;
  s->poll_closed = 1;
  server_maybe_free(s);
}

/** The handle's external was collected; the memory goes once libuv is done with the handles too (after close). */
static void server_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  server_t *s = data;
  s->finalized = 1;
  server_maybe_free(s);
}

/**
 * listen({ host, port, ipv6, certificates: [{cert, key}], secret: Buffer(32), maxStreams, idleMs,
 *          maxHeaderSize, qpackCapacity, qpackBlocked, retry: 0|1|2, retryThreshold, maxConnections }, onEvent)
 */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_value options = argv[0], v;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len;
  bool ipv6 = false;
  CALL(env, napi_get_named_property(env, options, "host", &v));
  CALL(env, napi_get_value_string_latin1(env, v, host, sizeof host, &host_len));
  CALL(env, napi_get_named_property(env, options, "ipv6", &v));
  napi_get_value_bool(env, v, &ipv6);
  int32_t port = int_prop(env, options, "port", 0);

  struct sockaddr_storage address;
  socklen_t address_len;
  memset(&address, 0, sizeof address);
  int wildcard = 0;
  if (ipv6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&address;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return throw_errno(env, "h3: bad address", EINVAL);
    wildcard = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    address_len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&address;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return throw_errno(env, "h3: bad address", EINVAL);
    wildcard = a->sin_addr.s_addr == htonl(INADDR_ANY);
    address_len = sizeof *a;
  }

  char error[256] = "h3: cannot load certificates";
  napi_value certificates;
  CALL(env, napi_get_named_property(env, options, "certificates", &certificates));
  creds_t *creds = creds_from(env, certificates, error, sizeof error);
  if (!creds) {
    napi_throw_error(env, "ERR_SWITCHYARD_H3_TLS", error);
    return NULL;
  }

  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, size = SOCKET_BUFFER;
  /* SO_REUSEPORT: every traffic worker binds the port; the kernel hashes a client's 4-tuple to one of them */
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (ipv6) {
    /* [::] takes IPv4 clients too, as the listener's TCP side does: their addresses arrive v4-mapped, and
       IPV6_PKTINFO carries the v4-mapped local address both ways (Linux maps it for IPv4 datagrams) */
    int v6only = wildcard ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  } else {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }
  /* QUIC packets must not be fragmented (RFC 9000, 14): DF set, PMTU probing left to ngtcp2 */
  int pmtu = IP_PMTUDISC_PROBE;
  if (!ipv6) setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  if (bind(fd, (struct sockaddr *)&address, address_len) != 0) {
    int err = errno;
    close(fd);
    gnutls_certificate_free_credentials(creds->cred);
    free(creds);
    return throw_errno(env, "bind", err);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);

  server_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return throw_errno(env, "h3", ENOMEM);
  }
  s->fd = fd;
  s->bound = bound;
  s->bound_len = bound_len;
  s->family = ipv6 ? AF_INET6 : AF_INET;
  s->wildcard = wildcard;
  s->env = env;
  s->creds = creds;
  set_limits(env, s, options);
  napi_value secret;
  void *sdata;
  size_t slen = 0;
  if (napi_get_named_property(env, options, "secret", &secret) == napi_ok && napi_get_buffer_info(env, secret, &sdata, &slen) == napi_ok && slen >= sizeof s->secret) {
    memcpy(s->secret, sdata, sizeof s->secret);
  } else {
    fill_random(s->secret, sizeof s->secret);
  }
  napi_value name, handle, result;
  CALL(env, napi_create_reference(env, argv[1], 1, &s->on_event));
  CALL(env, napi_create_string_latin1(env, "switchyard:h3", NAPI_AUTO_LENGTH, &name));
  CALL(env, napi_async_init(env, NULL, name, &s->context));
  uv_loop_t *loop;
  CALL(env, napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_check_init(loop, &s->check);
  s->check.data = s;
  uv_unref((uv_handle_t *)&s->check);
  uv_idle_init(loop, &s->idle);
  s->idle.data = s;
  uv_unref((uv_handle_t *)&s->idle);
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  CALL(env, napi_create_external(env, s, server_finalize, NULL, &handle));
  CALL(env, napi_create_object(env, &result));
  CALL(env, napi_set_named_property(env, result, "handle", handle));
  CALL(env, napi_create_int32(env, bound_port, &v));
  CALL(env, napi_set_named_property(env, result, "port", v));
  return result;
}

static napi_value js_set_certificates(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_arg(env, argv[0]);
  if (!s) return NULL;
  char error[256] = "h3: cannot load certificates";
  creds_t *creds = creds_from(env, argv[1], error, sizeof error);
  if (!creds) {
    napi_throw_error(env, "ERR_SWITCHYARD_H3_TLS", error);
    return NULL;
  }
  /* connections keep the credentials they started with; new ones take these */
  if (--s->creds->refs == 0) {
    gnutls_certificate_free_credentials(s->creds->cred);
    free(s->creds);
  }
  s->creds = creds;
  return NULL;
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_arg(env, argv[0]);
  if (!s || s->draining) return NULL;
  s->draining = 1;
  for (conn_t *c = s->conns; c; c = c->next) {
    if (c->dead || c->closing || c->draining) continue;
    if (c->h3) {
      nghttp3_conn_shutdown(c->h3);
      c->goaway_sent = 1;
      if (c->nstreams == 0) {
        ngtcp2_connection_close_error_set_application_error(&c->ccerr, NGHTTP3_H3_NO_ERROR, NULL, 0);
        conn_write(c);
        conn_close_with_error(c);
      } else {
        mark_dirty(c);
      }
    } else {
      ngtcp2_connection_close_error_set_transport_error(&c->ccerr, NGTCP2_CONNECTION_REFUSED, NULL, 0);
      conn_close_with_error(c);
    }
  }
  return NULL;
}

/** CONNECTION_CLOSE to every connection, their streams' closes to JavaScript, the socket closed. */
static void server_close(server_t *s) {
  if (s->closing) return;
  if (s->dispatching) {
    /* the dispatch loop is using the event queue: it closes when it returns */
    s->close_pending = 1;
    return;
  }
  napi_env env = s->env;
  for (conn_t *c = s->conns; c; c = c->next) {
    if (c->dead) continue;
    if (!c->closing && !c->draining) {
      ngtcp2_connection_close_error_set_application_error(&c->ccerr, NGHTTP3_H3_NO_ERROR, NULL, 0);
      conn_close_with_error(c);
    }
    conn_kill(c);
  }
  dispatch_events(s);
  s->closing = 1;
  napi_delete_reference(env, s->on_event);
  s->on_event = NULL;
  napi_async_destroy(env, s->context);
  uv_poll_stop(&s->poll);
  uv_check_stop(&s->check);
  uv_idle_stop(&s->idle);
  close(s->fd);
  s->fd = -1;
  if (--s->creds->refs == 0) {
    gnutls_certificate_free_credentials(s->creds->cred);
    free(s->creds);
  }
  s->creds = NULL;
  free(s->events);
  s->events = NULL;
  s->nevents = s->cap_events = 0;
  for (int b = 0; b < BUCKETS; b++) {
    while (s->buckets[b]) {
      cidnode_t *n = s->buckets[b];
      s->buckets[b] = n->next;
      free(n);
    }
  }
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  uv_close((uv_handle_t *)&s->check, on_check_closed);
  uv_close((uv_handle_t *)&s->idle, on_idle_closed);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = NULL;
  CALL(env, napi_get_value_external(env, argv[0], (void **)&s));
  if (s) server_close(s);
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, object, name, v);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = server_arg(env, argv[0]);
  if (!s) return NULL;
  int streams = 0;
  for (conn_t *c = s->conns; c; c = c->next) streams += c->nstreams;
  CALL(env, napi_create_object(env, &result));
  set_number(env, result, "connections", s->nconns);
  set_number(env, result, "handshaking", s->handshaking);
  set_number(env, result, "streams", streams);
  set_number(env, result, "accepted", s->accepted);
  set_number(env, result, "datagrams", s->datagrams);
  set_number(env, result, "dropped", s->dropped);
  set_number(env, result, "retries_sent", s->retries);
  set_number(env, result, "stateless_resets_sent", s->resets);
  set_number(env, result, "refused", s->refused);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  if (gnutls_global_init() != 0) return exports;
  napi_property_descriptor properties[] = {
    {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
    {"respond", NULL, js_respond, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
    {"end", NULL, js_end, NULL, NULL, NULL, napi_default, NULL},
    {"reset", NULL, js_reset, NULL, NULL, NULL, napi_default, NULL},
    {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
    {"resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL},
    {"configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL},
    {"setCertificates", NULL, js_set_certificates, NULL, NULL, NULL, napi_default, NULL},
    {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
